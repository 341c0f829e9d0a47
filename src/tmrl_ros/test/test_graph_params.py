"""A graph description's per-node overrides reach the node over its parameters files, as they do
under launch_ros: rcl lets any --params-file win over a `-p`, so overrides travel as a file."""

from __future__ import annotations

import pytest
import rclpy

from tmrl_ros.graph import NodeSpec, config_file, robot_finetune_graph, sim_finetune_graph

pytestmark = pytest.mark.ros


def declared(spec: NodeSpec, tmp_path, **params):
    """Start `spec`'s node in this process from its command line and read the parameters back."""
    context = rclpy.Context()
    rclpy.init(context=context, args=["node", *spec.ros_args(tmp_path)])
    try:
        node = rclpy.create_node(spec.name, namespace=spec.namespace or None, context=context)
        values = {name: node.declare_parameter(name, default).value for name, default in params.items()}
        node.destroy_node()
        return values
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.parametrize("namespace", ["", "/sim1"])
def test_overrides_win_over_every_entry_of_the_files(tmp_path, namespace):
    files = tmp_path / "files.yaml"
    files.write_text("/**:\n  ros__parameters:\n    a: 1\n    b: 'from /**'\n"
                     "/**/steering:\n  ros__parameters:\n    a: 2\n    c: false\n")
    spec = NodeSpec("steering", "steering", [files], {"a": 3, "c": True, "d": [0.5, 1.5]}, namespace=namespace)
    got = declared(spec, tmp_path, a=0, b="", c=False, d=[0.0], e=7)
    assert got == {"a": 3, "b": "from /**", "c": True, "d": [0.5, 1.5], "e": 7}


STEERING_OVERRIDES = {"sample_in_process": False, "server_timeout_s": 5.0, "agent.hidden": 64}
STEERING_DEFAULTS = {"sample_in_process": True, "server_timeout_s": 1.0, "task": "", "agent.hidden": 1}


def test_the_sim_graph_overrides_its_config(tmp_path):
    """config/sim_finetune.yaml says sample_in_process: true and server_timeout_s: 10 for steering."""
    specs = sim_finetune_graph("lineworld", str(tmp_path / "csp.pt"), tmp_path / "run",
                               overrides={"steering": STEERING_OVERRIDES})
    assert config_file("sim_finetune.yaml") in next(s for s in specs if s.name == "steering").params_files
    steering = next(s for s in specs if s.name == "steering")
    got = declared(steering, tmp_path, **STEERING_DEFAULTS)
    assert got == {**STEERING_OVERRIDES, "task": "lineworld"}
    learner = next(s for s in specs if s.name == "learner")
    assert declared(learner, tmp_path, **{"agent.hidden": 1, "agent.critics": 1}) == {"agent.hidden": 256,
                                                                                      "agent.critics": 5}


def launch_ros_params_file(parameters: dict, name: str, namespace: str | None, tmp_path) -> str:
    """What launch_ros does with a dict in `parameters` (its Node._create_params_file_from_dict): a
    file keyed by the node's full name only when name and namespace are both given, else by `/**`."""
    import yaml

    key = f"{namespace.rstrip('/')}/{name}" if name and namespace else "/**"
    path = tmp_path / f"launch_{name}_{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump({key: {"ros__parameters": parameters}}))
    return str(path)


class _Argument:  # launch.actions.DeclareLaunchArgument
    def __init__(self, name, default_value=None, description=""):
        self.name, self.default_value = name, default_value


class _Opaque:  # launch.actions.OpaqueFunction
    def __init__(self, function):
        self.function = function


class _Configuration:  # launch.substitutions.LaunchConfiguration, performed in a context of argument values
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


def launch_stubs(monkeypatch) -> list[dict]:
    """launch and launch_ros are not installable here: their classes are replaced by recorders (Node's keyword
    arguments are collected in the returned list), and tmrl_ros.launching is imported afresh over them."""
    import sys
    import types

    recorded = []
    modules = {name: types.ModuleType(name) for name in (
        "launch", "launch.actions", "launch.substitutions", "launch_ros", "launch_ros.actions")}
    modules["launch"].LaunchDescription = list
    modules["launch.actions"].DeclareLaunchArgument = _Argument
    modules["launch.actions"].OpaqueFunction = _Opaque
    modules["launch.substitutions"].LaunchConfiguration = _Configuration
    modules["launch_ros.actions"].Node = lambda **kwargs: recorded.append(kwargs) or kwargs
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "tmrl_ros.launching", raising=False)
    return recorded


@pytest.mark.parametrize(("robot", "address"), [("franka", "robot_ip"), ("widowx", "robot_name")])
def test_a_robot_launch_file_starts_the_graph_the_tests_start(tmp_path, monkeypatch, robot, address):
    """The launch file's arguments resolve into robot_finetune_graph: the same nodes, with the same
    parameters files and remappings, as the tests start; the checkpoint (and the Franka's IP) are required."""
    import importlib.util
    from pathlib import Path

    recorded = launch_stubs(monkeypatch)
    path = Path(__file__).resolve().parents[3] / "launch" / f"{robot}_finetune.launch.py"
    spec = importlib.util.spec_from_file_location(f"{robot}_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    arguments = {a.name: a.default_value for a in description if isinstance(a, _Argument)}
    required = sorted(name for name, default in arguments.items() if default is None)
    assert required == (["checkpoint", "robot_ip"] if robot == "franka" else ["checkpoint"])
    context = {**arguments, address: "10.0.0.2" if robot == "franka" else "/wx250s",
               "checkpoint": str(tmp_path / "csp.pt"), "out_dir": str(tmp_path / "run"), "camera_serials": "0123",
               "intervention": "true", "record_dir": str(tmp_path / "bags"), "seed": "3"}
    next(a for a in description if isinstance(a, _Opaque)).function(context)
    expected = robot_finetune_graph(robot, context[address], f"{robot}-reach", context["checkpoint"], tmp_path / "run",
                                    seed=3, cameras=("0123",), intervention=True, record_dir=str(tmp_path / "bags"))
    assert [(n["executable"], n["name"], n["namespace"] or "") for n in recorded] == [
        (s.executable, s.name, s.namespace) for s in expected]
    for node, spec_ in zip(recorded, expected, strict=True):
        assert [Path(p).read_text() for p in node["parameters"]] == [  # the overrides file is a fresh temp file
            Path(p).read_text() for p in spec_.parameter_files(None)]
        assert node["remappings"] == list(spec_.remappings.items())


@pytest.mark.parametrize("namespace", ["", "/sim1"])
def test_launch_actions_resolve_to_the_same_parameters_as_the_test_path(tmp_path, monkeypatch, namespace):
    """launch_ros is not installable here, so its Node action is replaced by a recorder of its
    arguments; dicts in them are resolved as launch_ros resolves them. With the overrides handed over
    as a dict (the old launching.node_actions), a node without a namespace got the config file's
    values: this test failed."""
    recorded = launch_stubs(monkeypatch)
    from tmrl_ros.launching import node_actions

    sources = ("sim0", "sim1") if namespace else ("sim0",)
    specs = sim_finetune_graph("lineworld", str(tmp_path / "csp.pt"), tmp_path / "run", sources=sources,
                               overrides={"steering": STEERING_OVERRIDES})
    spec = next(s for s in specs if s.name == "steering" and s.namespace == namespace)
    node_actions([spec], tmp_path)
    action = recorded[-1]
    files = [p if isinstance(p, str) else launch_ros_params_file(p, action["name"], action["namespace"], tmp_path)
             for p in action["parameters"]]
    launched = NodeSpec(spec.executable, action["name"], files, namespace=action["namespace"] or "")
    assert declared(launched, tmp_path, **STEERING_DEFAULTS) == declared(spec, tmp_path, **STEERING_DEFAULTS) \
        == {**STEERING_OVERRIDES, "task": "lineworld"}


def test_a_robot_graph_layers_its_config_on_the_agent_settings(tmp_path):
    """config/franka.yaml caps steering's t_max_fraction (0.5, over sim_finetune.yaml's 1.0), keeps the agent
    settings, and gives the driver its safety step; device_options from the launch argument win."""
    specs = robot_finetune_graph("franka", "10.0.0.2", "franka-reach", str(tmp_path / "csp.pt"), tmp_path / "run",
                                 device_options='{"realtime": false}')
    steering = next(s for s in specs if s.name == "steering")
    assert declared(steering, tmp_path, t_max_fraction=1.0, **{"agent.hidden": 1}) == {
        "t_max_fraction": 0.5, "agent.hidden": 256}
    driver = next(s for s in specs if s.name == "driver")
    got = declared(driver, tmp_path, address="", device_options="", control_period_s=0.0,
                   **{"safety.workspace_low": [0.0], "safety.watchdog_s": 0.0})
    assert got == {"address": "10.0.0.2", "device_options": '{"realtime": false}', "control_period_s": 0.0667,
                   "safety.workspace_low": [0.25, -0.35, 0.10], "safety.watchdog_s": 0.3}


def test_a_robot_graph_adds_its_cameras_intervention_and_recorder(tmp_path):
    specs = robot_finetune_graph("widowx", "/wx250s", "widowx-reach", str(tmp_path / "csp.pt"), tmp_path / "run",
                                 cameras=("0123", "4567"), intervention=True, record_dir=str(tmp_path / "bags"))
    names = [(s.executable, s.full_name()) for s in specs]
    assert ("realsense", "/camera0/camera") in names and ("realsense", "/camera1/camera") in names
    assert ("intervention", "/intervention") in names and ("recorder", "/recorder") in names
    camera = next(s for s in specs if s.full_name() == "/camera1/camera")
    assert declared(camera, tmp_path, serial="") == {"serial": "4567"}
    recorder = next(s for s in specs if s.name == "recorder")
    topics = declared(recorder, tmp_path, topics=["x"])["topics"]
    assert "/camera1/color/image_raw" in topics and "/tmrl/transitions" in topics and "/intervention" in topics
    remote = robot_finetune_graph("widowx", "/wx250s", "widowx-reach", str(tmp_path / "csp.pt"), tmp_path / "run",
                                  learner=False)
    assert "learner" not in [s.name for s in remote] and "steering" in [s.name for s in remote]


def test_a_vla_graph_makes_the_prefix_from_a_camera(tmp_path):
    """With a tokenizer the checkpoint is a pi0 folder: perception turns the first camera and the
    instruction into the prefix, the policy server samples in PyTorch, steering calls it."""
    specs = robot_finetune_graph("widowx", "/wx250s", "widowx-reach", str(tmp_path / "pi0"), tmp_path / "run",
                                 cameras=("0123",), tokenizer=str(tmp_path / "tokenizer"))
    perception = next(s for s in specs if s.name == "perception")
    assert declared(perception, tmp_path, inputs="", vla_policy="", tokenizer="", image_topics=["x"]) == {
        "inputs": "vla", "vla_policy": str(tmp_path / "pi0"), "tokenizer": str(tmp_path / "tokenizer"),
        "image_topics": ["/camera0/color/image_raw"]}
    server = next(s for s in specs if s.name == "policy_server")
    assert declared(server, tmp_path, backend="", checkpoint="") == {"backend": "torch",
                                                                      "checkpoint": str(tmp_path / "pi0")}
    steering = next(s for s in specs if s.name == "steering")
    assert declared(steering, tmp_path, sample_in_process=True) == {"sample_in_process": False}
    with pytest.raises(ValueError, match="a VLA needs a camera"):
        robot_finetune_graph("widowx", "/wx250s", "widowx-reach", str(tmp_path / "pi0"), tmp_path / "run",
                             tokenizer=str(tmp_path / "tokenizer"))
    sim = sim_finetune_graph("libero-90-51-vla", str(tmp_path / "pi0"), tmp_path / "run",
                             tokenizer=str(tmp_path / "tokenizer"), overrides={"perception": {"instruction": "go"}})
    perception = next(s for s in sim if s.name == "perception")
    assert declared(perception, tmp_path, inputs="", instruction="") == {"inputs": "vla", "instruction": "go"}
