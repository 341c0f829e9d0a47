"""The safety step between a steering decision and the device: every action a driver executes passes
through it. It refuses what must never run (NaN, inf, a step larger than `max_step` allows when
`refuse_large_steps`), clips what may run within bounds, and counts both, so a node can report them.

Per-embodiment bounds come from the `Embodiment` (its action bounds); a robot's config adds a per-step
change limit, a workspace box for the positions a driver commands (`workspace`), and a watchdog
deadline (`Watchdog`: the device is halted when its control loop stops commanding it mid-chunk). The
sim bridge uses the same step as a robot driver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class UnsafeAction(ValueError):
    """An action the safety step refuses to execute; the message says why."""


@dataclass
class SafetyLimits:
    low: float | np.ndarray = -1.0
    high: float | np.ndarray = 1.0
    max_step: float = 0.0            # largest change of any action component between two actions (0: no limit)
    refuse_large_steps: bool = False  # refuse (instead of clip) an action that changes more than max_step
    workspace_low: tuple[float, ...] = ()   # box for commanded positions (a robot's end effector), m; () = none
    workspace_high: tuple[float, ...] = ()
    watchdog_s: float = 0.0          # halt the device when no action follows within this deadline mid-chunk (0: off)

    def __post_init__(self) -> None:
        if len(self.workspace_low) != len(self.workspace_high):
            raise ValueError(f"workspace box: low {self.workspace_low} and high {self.workspace_high} differ in length")
        if np.any(np.asarray(self.workspace_low) > np.asarray(self.workspace_high)):
            raise ValueError(f"workspace box: low {self.workspace_low} exceeds high {self.workspace_high}")
        if self.watchdog_s < 0 or self.max_step < 0:
            raise ValueError("watchdog_s and max_step must be >= 0")


@dataclass
class SafetyCounters:
    passed: int = 0
    clipped: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)          # refused, by reason
    clip_reasons: dict[str, int] = field(default_factory=dict)     # clipped, by what limit
    watchdog_stops: int = 0
    emergency_stops: int = 0


class SafetyFilter:
    def __init__(self, limits: SafetyLimits):
        self.limits = limits
        self.counters = SafetyCounters()
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        """A new episode: the per-step change limit starts from the next action."""
        self.previous = None

    def _refuse(self, reason: str) -> UnsafeAction:
        self.counters.refused += 1
        self.counters.reasons[reason] = self.counters.reasons.get(reason, 0) + 1
        return UnsafeAction(reason)

    def __call__(self, action: np.ndarray) -> np.ndarray:
        """-> the action to execute (maybe clipped); UnsafeAction if it must not run."""
        action = np.asarray(action, np.float64)
        if not np.isfinite(action).all():
            raise self._refuse("action contains NaN or inf")
        lim = self.limits
        safe = np.clip(action, lim.low, lim.high)
        if lim.max_step and self.previous is not None:
            change = safe - self.previous
            if lim.refuse_large_steps and np.abs(change).max() > lim.max_step:
                raise self._refuse(f"action changes by {np.abs(change).max():.3g} > max_step {lim.max_step}")
            safe = self.previous + np.clip(change, -lim.max_step, lim.max_step)
        if not np.array_equal(safe, action):
            self.note_clip("action bounds or max_step")
        else:
            self.counters.passed += 1
        self.previous = safe
        return safe

    def note_clip(self, why: str) -> None:
        """Count a command a driver changed or held to keep it safe (its own limits: a box, a joint speed)."""
        self.counters.clipped += 1
        self.counters.clip_reasons[why] = self.counters.clip_reasons.get(why, 0) + 1

    def workspace(self, position: np.ndarray) -> np.ndarray:
        """A position the driver is about to command -> the same, clipped into the workspace box (counted);
        UnsafeAction if it is not finite. Without a box, the position as it is."""
        position = np.asarray(position, np.float64)
        if not np.isfinite(position).all():
            raise self._refuse("commanded position contains NaN or inf")
        lim = self.limits
        if not lim.workspace_low:
            return position
        if position.shape != (len(lim.workspace_low),):
            raise self._refuse(f"commanded position has shape {position.shape}, the workspace box is "
                               f"{len(lim.workspace_low)}-D")
        inside = np.clip(position, lim.workspace_low, lim.workspace_high)
        if not np.array_equal(inside, position):
            self.note_clip("workspace box")
        return inside


class Watchdog:
    """Calls `on_expire()` (from its own thread) when armed and not fed within `deadline_s`: a control loop
    that stops commanding a moving device mid-chunk gets the device halted. Disarmed between chunks, when
    the device holds its position by itself."""

    def __init__(self, deadline_s: float, on_expire: Callable[[], None]):
        if deadline_s <= 0:
            raise ValueError(f"watchdog deadline must be > 0 s, got {deadline_s}")
        self.deadline_s, self.on_expire = deadline_s, on_expire
        self.expired = 0
        self._fed_at: float | None = None  # None: disarmed
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._thread.start()

    def feed(self) -> None:
        """Arm (if needed) and restart the deadline."""
        with self._lock:
            self._fed_at = time.monotonic()

    def disarm(self) -> None:
        with self._lock:
            self._fed_at = None

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=1.0)

    def _watch(self) -> None:
        period = min(self.deadline_s / 5, 0.05)
        while not self._closed.wait(period):
            with self._lock:
                late = self._fed_at is not None and time.monotonic() - self._fed_at > self.deadline_s
                if late:
                    self._fed_at = None
            if late:
                self.expired += 1
                self.on_expire()
