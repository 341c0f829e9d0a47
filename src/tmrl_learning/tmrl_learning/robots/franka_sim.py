"""A simulated Franka for dry runs and tests: `franky-sim` (PyPI) serves libfranka's network protocol on
127.0.0.1 over MuJoCo, so the Franka driver runs its real code path against it (address 127.0.0.1,
device option realtime: false).

    with FrankaSim() as address: ...      # or, in a shell: franky-sim -s mujoco
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

PORT = 1337  # libfranka's robot service port


class FrankaSim:
    def __init__(self, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        exe = shutil.which("franky-sim")
        if exe is None:
            raise FileNotFoundError("franky-sim is not installed (pip install franky-sim; scripts/setup.sh does)")
        if _serving():
            raise RuntimeError(f"something already serves 127.0.0.1:{PORT}; stop it (another franky-sim?)")
        self.process = subprocess.Popen([exe, "-s", "mujoco"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        deadline = time.monotonic() + self.timeout_s
        while not _serving():
            if self.process.poll() is not None:
                raise RuntimeError(f"franky-sim exited with {self.process.returncode}: {self.process.stdout.read()}")
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError(f"franky-sim did not serve 127.0.0.1:{PORT} within {self.timeout_s} s")
            time.sleep(0.2)
        return "127.0.0.1"

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _serving() -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", PORT)) == 0
