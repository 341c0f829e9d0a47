"""The Franka fine-tuning graph, started from its launch file's description (robot_finetune_graph with
config/franka.yaml), against franky-sim: libfranka's protocol over MuJoCo on 127.0.0.1."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from std_msgs.msg import Bool, String

from tmrl_learning.csp.checkpoint import save_checkpoint
from tmrl_learning.csp.config import PretrainConfig
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.robots.franka_sim import FrankaSim
from tmrl_learning.tasks import FRANKA_REACH
from tmrl_ros.graph import robot_finetune_graph
from tmrl_ros.monitor import GraphMonitor
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SMALL_AGENT = {"agent.hidden": 32, "agent.critics": 2, "agent.batch_size": 32}
HORIZON = 8


def reach_checkpoint(path, steps: int = 60):
    """A small flow policy for franka-reach, trained on scripted straight-line chunks towards the goal."""
    torch.manual_seed(0)
    e = FRANKA_REACH
    model = DiTConfig(horizon=HORIZON, action_dim=e.action_dim, context_dim=e.context_dim, proprio_dim=e.proprio_dim,
                      hidden=32, embed=32, layers=1, heads=2, time_frequencies=8)
    policy = FlowPolicy(PolicyConfig(model=model))
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        goal = rng.uniform([0.3, -0.2, 0.2], [0.6, 0.2, 0.45], (64, 3))
        state = np.concatenate([rng.uniform([0.3, -0.2, 0.2], [0.6, 0.2, 0.45], (64, 3)),
                                rng.uniform(0, 0.08, (64, 1)), rng.normal(0, 1, (64, 7))], 1)
        direction = np.clip((goal - state[:, :3]) / 0.05, -1, 1)
        actions = np.zeros((64, HORIZON, 7))
        actions[:, :, :3], actions[:, :, 6] = direction[:, None], 1.0
        loss = policy.loss(torch.tensor(actions, dtype=torch.float32), torch.tensor(goal, dtype=torch.float32),
                           torch.tensor(state, dtype=torch.float32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    cfg = PretrainConfig(task=e.name, method="csp", steps=steps, policy=policy.cfg)
    return save_checkpoint(path, policy.eval(), cfg, steps)


def test_the_franka_graph_runs_episodes_on_the_simulated_arm_and_obeys_the_emergency_stop(node, tmp_path):
    checkpoint = reach_checkpoint(tmp_path / "reach.pt")
    specs = robot_finetune_graph("franka", "127.0.0.1", "franka-reach", str(checkpoint), tmp_path / "run",
                                 device_options=json.dumps({"realtime": False, "reset_dynamics_factor": 0.3}),
                                 overrides={"steering": SMALL_AGENT, "learner": SMALL_AGENT})
    driver = next(s for s in specs if s.name == "driver")
    assert driver.parameters["address"] == "127.0.0.1" and driver.parameters["source"] == "franka"
    watcher = GraphMonitor(node)
    safety: list[dict] = []
    node.create_subscription(String, "/safety", lambda m: safety.append(json.loads(m.data)), 10)
    estop = node.create_publisher(Bool, "/tmrl/estop", 10)
    with FrankaSim(), GraphProcesses(specs, tmp_path / "logs") as graph:
        ok = spin_until(node, lambda: len(watcher.transition_keys) >= 30 or bool(graph.dead()), 180.0)
        assert ok and not graph.dead(), graph.logs()
        assert {source for source, *_ in watcher.transition_keys} == {"franka"}
        assert "driver for franka-reach (franka) ready" in graph.log("driver")

        estop.publish(Bool(data=True))
        assert spin_until(node, lambda: any(s["emergency_stops"] == 1 for s in safety), 10.0), graph.logs()
        spin_until(node, lambda: False, 2.0)  # the chunk running when it was engaged ends
        frozen = len(watcher.transition_keys)
        spin_until(node, lambda: False, 4.0)
        assert len(watcher.transition_keys) == frozen, "transitions went on with the emergency stop engaged"
        assert "EMERGENCY STOP engaged" in graph.log("driver")
        assert "emergency stop engaged" in graph.log("reward_reset")  # its resets were refused, and retried

        estop.publish(Bool(data=False))
        resumed = spin_until(node, lambda: len(watcher.transition_keys) >= frozen + 10 or bool(graph.dead()), 60.0)
        assert resumed and not graph.dead(), graph.logs()
        time.sleep(0.1)
    assert not graph.dead()
