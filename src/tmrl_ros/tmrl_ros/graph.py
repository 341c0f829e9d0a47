"""The tmrl node graphs, described once.

The launch files turn these descriptions into `launch_ros` Node actions; the tests (and machines
without `launch_ros`) start exactly the same nodes, with the same parameters files, overrides and
remappings, as plain processes. One description, two starters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "tmrl_ros"


def share_dir() -> Path:
    """tmrl_ros' installed share directory (launch/ and config/ live there)."""
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(PACKAGE))


def config_file(name: str) -> Path:
    path = share_dir() / "config" / name
    if not path.is_file():
        raise FileNotFoundError(f"no config {name!r} in {path.parent}; is the workspace built and sourced?")
    return path


@dataclass
class NodeSpec:
    """One node of a graph: which executable, under which name, with which parameters."""

    executable: str
    name: str
    params_files: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)  # overrides, applied after the files
    remappings: dict[str, str] = field(default_factory=dict)
    package: str = PACKAGE

    def ros_args(self) -> list[str]:
        """The `--ros-args ...` part of the command line that launch_ros would build."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for path in self.params_files:
            args += ["--params-file", str(path)]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}:={_param_literal(value)}"]
        for src, dst in self.remappings.items():
            args += ["-r", f"{src}:={dst}"]
        return args

    def command(self, prefix: Path | None = None) -> list[str]:
        """Full command line of the installed executable (`install/<pkg>/lib/<pkg>/<exe>`)."""
        prefix = prefix or _package_prefix(self.package)
        exe = prefix / "lib" / self.package / self.executable
        if not exe.exists():
            raise FileNotFoundError(f"executable {exe} not found; run scripts/setup.sh (colcon build) first")
        return [str(exe), *self.ros_args()]


def _package_prefix(package: str) -> Path:
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix(package))


def _param_literal(value: Any) -> str:
    """A parameter value as `-p name:=value` wants it (YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def recorder_graph(output_dir: str | os.PathLike, bag_name: str = "", storage: str = "mcap") -> list[NodeSpec]:
    """Record every /tmrl/* topic into a bag under `output_dir`."""
    return [NodeSpec("recorder", "recorder", [config_file("recorder.yaml")],
                     {"output_dir": str(output_dir), "bag_name": bag_name, "storage": storage})]
