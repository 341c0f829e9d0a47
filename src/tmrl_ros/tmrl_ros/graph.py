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
    namespace: str = ""

    def parameter_files(self, params_dir: Path | None = None) -> list[Path]:
        """The parameters files the node gets, in order: its files, then its overrides as a file of
        their own (written to `params_dir`, a temporary folder by default). Both starters hand the
        node exactly these: rcl lets a `--params-file` win over `-p`, and launch_ros writes a dict
        under `/**` when a node has no namespace, where a file's `/**/<node>` entry beats it."""
        return [*map(Path, self.params_files), *([self.write_overrides(params_dir)] if self.parameters else [])]

    def ros_args(self, params_dir: Path | None = None) -> list[str]:
        """The `--ros-args ...` part of the command line, as launch_ros builds it."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        for path in self.parameter_files(params_dir):
            args += ["--params-file", str(path)]
        for src, dst in self.remappings.items():
            args += ["-r", f"{src}:={dst}"]
        return args

    def full_name(self) -> str:
        return "/" + "/".join(part for part in (*self.namespace.split("/"), self.name) if part)

    def write_overrides(self, params_dir: Path | None = None) -> Path:
        """`parameters` as a ROS 2 parameters file for this node alone, keyed by its full name: rcl
        applies the matching entries of all files in the order they first appear, so a new entry
        comes last and wins (a `/**` entry would merge into the files' `/**` and lose to their
        `/**/<name>`)."""
        import tempfile

        import yaml

        prefix = f"{self.namespace.strip('/').replace('/', '_')}_{self.name}_".lstrip("_")
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=".params.yaml", dir=params_dir)
        with os.fdopen(handle, "w") as f:
            values = {k: _param_value(v) for k, v in self.parameters.items()}
            yaml.safe_dump({self.full_name(): {"ros__parameters": values}}, f)
        return Path(name)

    def command(self, prefix: Path | None = None, params_dir: Path | None = None) -> list[str]:
        """Full command line of the installed executable (`install/<pkg>/lib/<pkg>/<exe>`)."""
        prefix = prefix or _package_prefix(self.package)
        exe = prefix / "lib" / self.package / self.executable
        if not exe.exists():
            raise FileNotFoundError(f"executable {exe} not found; run scripts/setup.sh (colcon build) first")
        return [str(exe), *self.ros_args(params_dir)]


def _package_prefix(package: str) -> Path:
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix(package))


def _param_value(value: Any) -> Any:
    """A parameter value as a parameters file holds it (tuples and paths made plain)."""
    if isinstance(value, (list, tuple)):
        return [_param_value(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    return value


def recorder_graph(output_dir: str | os.PathLike, bag_name: str = "", storage: str = "mcap") -> list[NodeSpec]:
    """Record every /tmrl/* topic into a bag under `output_dir`."""
    return [NodeSpec("recorder", "recorder", [config_file("recorder.yaml")],
                     {"output_dir": str(output_dir), "bag_name": bag_name, "storage": storage})]


@dataclass
class DriverSpec:
    """The robot or simulator a fine-tuning graph drives: its node and its config. A driver offers
    `observation` (tmrl_msgs/Context), the `execute_chunk` action and the `reset` service; the generic
    `driver` node serves any embodiment's Driver, so adding a robot means a Driver, a registry entry
    and a config, not a change to the graph."""

    name: str = "driver"
    params_files: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    executable: str = "driver"
    package: str = PACKAGE


def sim_driver(task: str, seed: int = 0) -> DriverSpec:
    return DriverSpec("sim_bridge", parameters={"task": task, "seed": seed})


def finetune_graph(driver: DriverSpec, *, task: str, checkpoint: str, out_dir: str | os.PathLike,
                   method: str = "tmrl", sources: tuple[str, ...] = ("sim0",),
                   params_file: Path | list[Path] | None = None,
                   overrides: dict[str, dict[str, Any]] | None = None, seed: int = 0) -> list[NodeSpec]:
    """The fine-tuning graph: one policy server and one learner, and per robot (source) a driver,
    perception, steering and reward_reset. With one robot everything lives under /tmrl/; with
    several, each robot's nodes get the namespace /<source>. `params_file` holds every node's
    parameters (keyed `/**/<node name>`; several files: later ones win); `overrides` (per node name)
    are applied after them."""
    files = list(params_file) if isinstance(params_file, (list, tuple)) else [params_file] if params_file else []
    overrides = overrides or {}
    agent = {"task": task, "method": method, "checkpoint": str(checkpoint), "seed": seed}

    def node(executable: str, name: str, namespace: str = "", **params: Any) -> NodeSpec:
        return NodeSpec(executable, name, list(files), {**params, **overrides.get(name, {})}, namespace=namespace)

    specs = [node("policy_server", "policy_server", checkpoint=str(checkpoint)),
             node("learner", "learner", out_dir=str(Path(out_dir) / "learner"), **agent)]
    for i, source in enumerate(sources):
        ns = f"/{source}" if len(sources) > 1 else ""
        drv = NodeSpec(driver.executable, driver.name, [*files, *driver.params_files],
                       {**driver.parameters, "source": source, "seed": driver.parameters.get("seed", 0) + 1000 * i,
                        **overrides.get(driver.name, {})}, package=driver.package, namespace=ns)
        specs += [drv,
                  node("perception", "perception", ns, task=task),
                  node("steering", "steering", ns, source=source, **{**agent, "seed": seed + i}),
                  node("reward_reset", "reward_reset", ns, source=source)]
    return specs


def sim_finetune_graph(task: str, checkpoint: str, out_dir: str | os.PathLike, tokenizer: str = "",
                       **kwargs: Any) -> list[NodeSpec]:
    """`finetune_graph` with simulated robots (`sim_bridge`) and config/sim_finetune.yaml. With a
    `tokenizer`, `checkpoint` is a pi0 folder (`vla_overrides`) and `task` one whose
    simulator renders a camera."""
    kwargs.setdefault("params_file", config_file("sim_finetune.yaml"))
    if tokenizer:
        given = kwargs.pop("overrides", None) or {}
        vla = vla_overrides(checkpoint, tokenizer)
        kwargs["overrides"] = {name: {**vla.get(name, {}), **given.get(name, {})} for name in {*vla, *given}}
    return finetune_graph(sim_driver(task, kwargs.get("seed", 0)), task=task, checkpoint=checkpoint,
                          out_dir=out_dir, **kwargs)


def vla_overrides(checkpoint: str, tokenizer: str, instruction: str = "") -> dict[str, dict[str, Any]]:
    """What runs a pi0 folder in a graph: perception makes its prefix (the context) from the
    camera image and the instruction (the task's, unless given), the policy server samples it in PyTorch,
    and steering calls the policy server (one copy of the VLA's weights in the graph, not one per robot)."""
    return {"perception": {"inputs": "vla", "vla_policy": str(checkpoint), "tokenizer": str(tokenizer),
                           "instruction": instruction},
            "policy_server": {"backend": "torch"},
            "steering": {"sample_in_process": False}}


def robot_finetune_graph(robot: str, address: str, task: str, checkpoint: str, out_dir: str | os.PathLike,
                         device_options: str = "", cameras: tuple[str, ...] = (), intervention: bool = False,
                         record_dir: str = "", learner: bool = True, tokenizer: str = "",
                         **kwargs: Any) -> list[NodeSpec]:
    """`finetune_graph` on one real robot: the generic driver node (named `driver`) runs the task's robot
    driver at `address`. The agent settings of config/sim_finetune.yaml apply, then config/<robot>.yaml
    (control rate, safety step, the steering caps t_max_fraction and noise_bound for this robot).
    `device_options` (JSON) replaces the config's, e.g. '{"realtime": false}' for a simulator peer.
    Optional: one RealSense node per serial in `cameras` (under /camera<i>/), the intervention node (Joy in),
    and a recorder of /tmrl/*, the cameras and the joint states into `record_dir`. `learner=False` leaves the
    learner to another machine of the DDS domain. Keyboard labels read a terminal: run
    `ros2 run tmrl_ros keyboard_labels` in one. With a `tokenizer`, `checkpoint` is a pi0 folder
    (`vla_overrides`) and perception makes its prefix from the first camera's colour image."""
    overrides = {name: dict(values) for name, values in (kwargs.pop("overrides", None) or {}).items()}
    if tokenizer:
        if not cameras:
            raise ValueError("a VLA needs a camera: give a RealSense serial (cameras)")
        vla = vla_overrides(checkpoint, tokenizer)
        vla["perception"]["image_topics"] = ["/camera0/color/image_raw"]
        overrides = {name: {**vla.get(name, {}), **overrides.get(name, {})} for name in {*vla, *overrides}}
    if device_options:
        overrides.setdefault("driver", {})["device_options"] = device_options
    driver = DriverSpec("driver", parameters={"task": task, "address": address})
    files = [config_file("sim_finetune.yaml"), config_file(f"{robot}.yaml")]
    specs = finetune_graph(driver, task=task, checkpoint=checkpoint, out_dir=out_dir, sources=(robot,),
                           params_file=files, overrides=overrides, **kwargs)
    specs = [s for s in specs if learner or s.name != "learner"]
    specs += [NodeSpec("realsense", "camera", [], {"serial": serial}, namespace=f"/camera{i}")
              for i, serial in enumerate(cameras)]
    if intervention:
        specs.append(NodeSpec("intervention", "intervention", list(files), dict(overrides.get("intervention", {}))))
    if record_dir:
        topics = [f"/camera{i}/{kind}" for i in range(len(cameras))
                  for kind in ("color/image_raw", "color/camera_info", "depth/image_rect_raw", "depth/camera_info")]
        specs.append(NodeSpec("recorder", "recorder", [config_file("recorder.yaml")],
                              {"output_dir": str(record_dir), "topics": _recorded_topics(topics)}))
    return specs


def _recorded_topics(extra: list[str]) -> list[str]:
    """What a robot session records: the graph's topics (transitions, episodes, steering) and `extra`."""
    return ["/tmrl/transitions", "/tmrl/episode", "/tmrl/timestep", "/tmrl/noise", "/observation", "/safety",
            "/intervention", *extra]
