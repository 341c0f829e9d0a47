"""A graph description's per-node overrides reach the node over its parameters files, as they do
under launch_ros: rcl lets any --params-file win over a `-p`, so overrides travel as a file."""

from __future__ import annotations

import pytest
import rclpy

from tmrl_ros.graph import NodeSpec, config_file, sim_finetune_graph

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


def test_the_sim_graph_overrides_its_config(tmp_path):
    """config/sim_finetune.yaml says sample_in_process: true and warmup_steps: 200 for steering."""
    specs = sim_finetune_graph("lineworld", str(tmp_path / "csp.pt"), tmp_path / "run",
                               overrides={"steering": {"sample_in_process": False, "warmup_steps": 5,
                                                       "agent.hidden": 64}})
    assert config_file("sim_finetune.yaml") in next(s for s in specs if s.name == "steering").params_files
    steering = next(s for s in specs if s.name == "steering")
    got = declared(steering, tmp_path, sample_in_process=True, warmup_steps=0, task="", **{"agent.hidden": 1})
    assert got == {"sample_in_process": False, "warmup_steps": 5, "task": "lineworld", "agent.hidden": 64}
    learner = next(s for s in specs if s.name == "learner")
    assert declared(learner, tmp_path, **{"agent.hidden": 1, "agent.critics": 1}) == {"agent.hidden": 256,
                                                                                      "agent.critics": 5}
