"""Start a graph description (tmrl_ros.graph.NodeSpec) as OS processes: what `ros2 launch` does on
a full ROS 2 install, for machines without `launch_ros`, for the tests, the demo and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tmrl_ros.graph import NodeSpec


def start(cmd: list[str], log: Path, stdin=None) -> subprocess.Popen:
    """Start a process in its own session with its output in `log` (`stdin`: as for Popen)."""
    handle = open(log, "w")  # noqa: SIM115 - closed with the process in stop()
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ),
                            start_new_session=True, stdin=stdin)
    proc.log_handle = handle  # type: ignore[attr-defined]
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
    """Send `sig` and wait; kill after `timeout`. Returns the exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.log_handle.close()
    return proc.returncode


class GraphProcesses:
    """Every node of a graph as a process, logs under `log_dir/<namespace>_<name>.log`."""

    def __init__(self, specs: list[NodeSpec], log_dir: Path):
        self.specs = {self.key(s): s for s in specs}
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}

    @staticmethod
    def key(spec: NodeSpec) -> str:
        return f"{spec.namespace.strip('/')}/{spec.name}".lstrip("/")

    def start(self, key: str | None = None) -> None:
        for k in [key] if key else list(self.specs):
            log = self.log_dir / (k.replace("/", "_") + ".log")
            if log.exists():  # keep the log of an earlier run of this node
                log.rename(log.with_suffix(f".{time.strftime('%H%M%S')}.log"))
            self.procs[k] = start(self.specs[k].command(params_dir=self.log_dir), log)

    def stop(self, key: str | None = None, sig: int = signal.SIGINT) -> dict[str, int]:
        keys = [key] if key else list(self.procs)[::-1]
        return {k: stop(self.procs.pop(k), sig) for k in keys if k in self.procs}

    def kill(self, key: str) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        self.stop(key, signal.SIGKILL)

    def dead(self) -> dict[str, int]:
        """Nodes that exited on their own, with their exit codes."""
        return {k: p.returncode for k, p in self.procs.items() if p.poll() is not None}

    def log(self, key: str) -> str:
        path = self.log_dir / (key.replace("/", "_") + ".log")
        return path.read_text() if path.exists() else ""

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {k}\n{self.log(k)[-tail:]}" for k in self.specs)

    def __enter__(self) -> GraphProcesses:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
