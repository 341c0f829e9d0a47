"""A robot driver's control clock: commands go out on a fixed grid of `period` seconds (a slow step does
not push the later ones back), and the observation that follows a command is read just before the next
tick, when the arm has had the whole period to move."""

from __future__ import annotations

import time


class ControlClock:
    def __init__(self, period_s: float, read_ahead_s: float = 0.005):
        if period_s <= 0:
            raise ValueError(f"control period must be > 0 s, got {period_s}")
        self.period_s, self.read_ahead_s = period_s, min(read_ahead_s, period_s / 4)
        self.next = time.monotonic()

    def restart(self) -> None:
        """A new episode (or after a pause between chunks): the next command may go now."""
        self.next = time.monotonic()

    def wait_to_send(self) -> None:
        now = time.monotonic()
        if now > self.next + self.period_s:  # a pause (between chunks, a reset): start a new grid
            self.next = now
        time.sleep(max(self.next - now, 0.0))

    def sent(self) -> None:
        self.next += self.period_s

    def wait_to_read(self) -> None:
        time.sleep(max(self.next - self.read_ahead_s - time.monotonic(), 0.0))
