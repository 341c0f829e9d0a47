"""What the robot drivers share: device options from the driver node's `device_options` (unknown keys
named), and pacing by their own control clock (robots.control_clock) instead of the base class's sleep,
with the watchdog deadline checked against that clock's period."""

from __future__ import annotations

from dataclasses import fields

from tmrl_learning.embodiment import Embodiment
from tmrl_learning.robots.control_clock import ControlClock
from tmrl_learning.system.driver import EpisodeDriver
from tmrl_learning.system.safety import SafetyLimits


def device_options(kind: type, options: dict, device: str):
    """`kind(**options)`, or ValueError naming the unknown keys and the known ones."""
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown {device} device options {unknown}; known: {sorted(known)}")
    return kind(**options)


class PacedDriver(EpisodeDriver):
    """A device driver that commands on its own control clock: command, wait to the end of the period,
    read. Subclasses set `Options` (a dataclass with `control_period_s`) and `device` (its name in errors)."""

    Options: type
    device: str

    def __init__(self, embodiment: Embodiment, options: dict, control_period_s: float = 0.0,
                 safety: SafetyLimits | None = None):
        self.options = device_options(self.Options, options, self.device)
        if control_period_s:  # the node's parameter wins over the device option
            self.options.control_period_s = control_period_s
        super().__init__(embodiment, 0.0, safety)  # 0: the clock paces, the base class must not sleep again
        if self.watchdog is not None and self.safety.limits.watchdog_s <= self.options.control_period_s:
            raise ValueError(f"watchdog deadline {self.safety.limits.watchdog_s} s must exceed the control period "
                             f"{self.options.control_period_s} s")
        self.clock = ControlClock(self.options.control_period_s)
