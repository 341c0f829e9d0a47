"""One LIBERO environment in a server process under LIBERO's own Python environment (libero.server).

The interpreter is `TMRL_LIBERO_PYTHON`, else `.venv-libero/bin/python` at the repository root (what
scripts/setup.sh installs). Rendering needs EGL (Mesa's llvmpipe on a CPU machine): MUJOCO_GL=egl is
set for the server unless the caller set MUJOCO_GL. One rendering environment per process (FACTS.md:
two renderers in one process gave garbage frames), so each LiberoProcess is its own server.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from multiprocessing.connection import Client
from pathlib import Path

import numpy as np

SERVER = Path(__file__).with_name("server.py")
REPO = Path(__file__).resolve().parents[4]


def libero_python() -> Path:
    return Path(os.environ.get("TMRL_LIBERO_PYTHON") or REPO / ".venv-libero" / "bin" / "python")  # env.sh sets it


class LiberoError(RuntimeError):
    pass


class LiberoProcess:
    """`make` one task (suite, index), then `reset(init_index)` / `step(action)`; close() (or `with`) ends
    the server. Errors inside LIBERO come back as LiberoError with the server's message."""

    def __init__(self, suite: str, index: int, image_size: int = 128, cameras: tuple[str, ...] = (),
                 start_timeout_s: float = 120.0):
        python = libero_python()
        if not python.is_file():
            raise FileNotFoundError(f"LIBERO runs in its own Python environment: no interpreter at {python} "
                                    "(run scripts/setup.sh, or set TMRL_LIBERO_PYTHON)")
        self._dir = tempfile.TemporaryDirectory(prefix="tmrl-libero-")
        path, authkey = str(Path(self._dir.name) / "socket"), secrets.token_bytes(16)
        env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
               "PYOPENGL_PLATFORM": os.environ.get("PYOPENGL_PLATFORM", "egl")}
        env.pop("PYTHONPATH", None)  # tmrl's packages must not shadow LIBERO's (numpy, mujoco)
        self.process = subprocess.Popen([str(python), str(SERVER), path], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.process.stdin.write(authkey.hex() + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()  # "ready" once listening (LIBERO's imports take seconds)
        if line.strip() != "ready":
            self.process.kill()
            raise LiberoError(f"the LIBERO server did not start under {python}: {self.process.stderr.read()[-2000:]}")
        self.connection = Client(path, family="AF_UNIX", authkey=authkey)
        self.info = self._call("make", suite, index, image_size, list(cameras))
        self.language: str = self.info["language"]
        self.objects: list[str] = self.info["objects"]
        self.init_states: int = self.info["init_states"]

    def _call(self, *request):
        try:
            self.connection.send(request)
            status, value = self.connection.recv()
        except (EOFError, OSError) as err:
            raise LiberoError(f"the LIBERO server died (exit {self.process.poll()}): "
                              f"{self.process.stderr.read()[-2000:] if self.process.poll() is not None else err}") \
                from err
        if status != "ok":
            raise LiberoError(f"LIBERO {request[0]} failed: {value}")
        return value

    def reset(self, init_index: int) -> dict:
        return self._call("reset", int(init_index))

    def step(self, action: np.ndarray) -> tuple[dict, float, bool]:
        return self._call("step", np.asarray(action, np.float64))

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._call("close")
            except LiberoError:
                pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._dir.cleanup()

    def __enter__(self) -> LiberoProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
