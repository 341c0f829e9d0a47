"""The safety step between a steering decision and the device: every action a driver executes passes
through it. It refuses what must never run (NaN, inf, a step larger than `max_step` allows when
`refuse_large_steps`), clips what may run within bounds, and counts both, so a node can report them.

Per-embodiment bounds come from the `Embodiment` (its action bounds); a robot's config adds a per-step
change limit. The sim bridge uses the same step as a robot driver.
"""

from __future__ import annotations

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


@dataclass
class SafetyCounters:
    passed: int = 0
    clipped: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


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
            self.counters.clipped += 1
        else:
            self.counters.passed += 1
        self.previous = safe
        return safe
