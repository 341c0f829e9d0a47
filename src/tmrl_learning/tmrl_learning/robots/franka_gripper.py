"""The Franka Hand's moves, one at a time on a thread of their own; the latest requested width wins.

Why not call the gripper from the control loop: libfranka's gripper moves block until the fingers
stop (up to a second), franky's `move_async` first waits for the previous move to finish, and a move
superseded by another one may never be answered (franky-sim leaves it pending forever). Any of these
would stall the 15 Hz arm commands, so the loop only posts a width here, and no move is ever
superseded: a newer width waits for the running move to end.
"""

from __future__ import annotations

import threading


class GripperCommander:
    def __init__(self, gripper, speed: float):
        self._gripper, self._speed = gripper, speed
        self._cond = threading.Condition()
        self._target: float | None = None
        self._busy = self._closed = False
        self.failures: list[str] = []  # moves the hand refused or failed (its error text)
        self._thread = threading.Thread(target=self._run, name="franka-gripper", daemon=True)
        self._thread.start()

    def command(self, width: float) -> None:
        """Move to `width` (m) after the running move, replacing any width still waiting; returns at once."""
        with self._cond:
            self._target = float(width)
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """Block until every posted width has been moved to; False if that took longer than `timeout` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self._target is None and not self._busy, timeout)

    def close(self) -> None:
        """Stop taking widths (a move already running finishes on its own)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._target is not None or self._closed)
                if self._closed:
                    return
                width, self._target, self._busy = self._target, None, True
            try:
                self._gripper.move(width, self._speed)
            except Exception as err:  # franky.CommandException, NetworkException: the next width is tried anyway
                self.failures.append(f"gripper move to {width:.3f} m: {err}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
