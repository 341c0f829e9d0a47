"""A simulated Franka for dry runs and tests: `franky-sim` (PyPI) serves libfranka's network protocol on a
loopback address over MuJoCo, so the Franka driver runs its real code path against it (that address,
device option realtime: false). Each FrankaSim takes a loopback address of its own (127.0.0.10-254; the
port is libfranka's fixed 1337), so test runs side by side do not meet.

    with FrankaSim() as address: ...      # or, in a shell: franky-sim -s mujoco  (127.0.0.1)
"""

from __future__ import annotations

import random
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
        free = [a for a in (f"127.0.0.{i}" for i in random.sample(range(10, 255), 20)) if not _serving(a)]
        if not free:
            raise RuntimeError(f"no free loopback address for franky-sim (port {PORT} taken on 20 tried)")
        self.address = free[0]
        self.process = subprocess.Popen([exe, "-s", "mujoco", "--hostname", self.address], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + self.timeout_s
        while not _serving(self.address):
            if self.process.poll() is not None:
                raise RuntimeError(f"franky-sim exited with {self.process.returncode}: {self.process.stdout.read()}")
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError(f"franky-sim did not serve {self.address}:{PORT} within {self.timeout_s} s")
            time.sleep(0.2)
        return self.address

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _serving(address: str) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((address, PORT)) == 0
