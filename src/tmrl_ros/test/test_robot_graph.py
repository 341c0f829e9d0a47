"""The robot fine-tuning graphs, started from their launch files' description (robot_finetune_graph with
config/<robot>.yaml), against the robots' peers: franky-sim (libfranka's protocol over MuJoCo on
127.0.0.1) for the Franka, widowx_sim (the Interbotix xs_sdk's topics and services over MuJoCo) for the
WidowX."""

from __future__ import annotations

import contextlib
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
from tmrl_learning.tasks import embodiment
from tmrl_ros.graph import NodeSpec, robot_finetune_graph
from tmrl_ros.monitor import GraphMonitor
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SMALL_AGENT = {"agent.hidden": 32, "agent.critics": 2, "agent.batch_size": 32}
HORIZON = 8


# robot -> (task, address, device options for its peer, the peer's node (None: franky-sim, not ROS))
ROBOTS = {
    "franka": ("franka-reach", "127.0.0.1", {"realtime": False, "reset_dynamics_factor": 0.3}, None),
    "widowx": ("widowx-reach", "/wx250s", {"reset_moving_time_s": 0.5},
               NodeSpec("widowx_sim", "xs_sdk", namespace="/wx250s")),
}


def reach_checkpoint(path, task: str, steps: int = 60):
    """A small flow policy for a reach task, trained on scripted straight-line chunks towards the goal."""
    torch.manual_seed(0)
    e = embodiment(task)
    model = DiTConfig(horizon=HORIZON, action_dim=e.action_dim, context_dim=e.context_dim, proprio_dim=e.proprio_dim,
                      hidden=32, embed=32, layers=1, heads=2, time_frequencies=8)
    policy = FlowPolicy(PolicyConfig(model=model))
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        goal = rng.uniform([0.3, -0.2, 0.2], [0.6, 0.2, 0.45], (64, 3))
        state = np.concatenate([rng.uniform([0.3, -0.2, 0.2], [0.6, 0.2, 0.45], (64, 3)),
                                rng.uniform(0, 0.08, (64, 1)), rng.normal(0, 1, (64, e.proprio_dim - 4))], 1)
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


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_a_robot_graph_runs_episodes_on_the_simulated_arm_and_obeys_the_emergency_stop(node, tmp_path, robot):
    task, address, options, peer = ROBOTS[robot]
    checkpoint = reach_checkpoint(tmp_path / "reach.pt", task)
    specs = robot_finetune_graph(robot, address, task, str(checkpoint), tmp_path / "run",
                                 device_options=json.dumps(options),
                                 overrides={"steering": SMALL_AGENT, "learner": SMALL_AGENT})
    driver = next(s for s in specs if s.name == "driver")
    assert driver.parameters["address"] == address and driver.parameters["source"] == robot
    watcher = GraphMonitor(node)
    safety: list[dict] = []
    node.create_subscription(String, "/safety", lambda m: safety.append(json.loads(m.data)), 10)
    estop = node.create_publisher(Bool, "/tmrl/estop", 10)
    with FrankaSim() if peer is None else contextlib.nullcontext(), \
            GraphProcesses(([peer] if peer else []) + specs, tmp_path / "logs") as graph:
        ok = spin_until(node, lambda: len(watcher.transition_keys) >= 20 or bool(graph.dead()), 180.0)
        assert ok and not graph.dead(), graph.logs()
        assert {source for source, *_ in watcher.transition_keys} == {robot}
        assert f"driver for {task} ({robot}) ready" in graph.log("driver")

        estop.publish(Bool(data=True))
        assert spin_until(node, lambda: any(s["emergency_stops"] == 1 for s in safety), 10.0), graph.logs()
        spin_until(node, lambda: False, 2.0)  # the chunk running when it was engaged ends
        frozen = len(watcher.transition_keys)
        spin_until(node, lambda: False, 4.0)
        assert len(watcher.transition_keys) == frozen, "transitions went on with the emergency stop engaged"
        assert "EMERGENCY STOP engaged" in graph.log("driver")
        assert "emergency stop engaged" in graph.log("reward_reset")  # its resets were refused, and retried

        estop.publish(Bool(data=False))
        resumed = spin_until(node, lambda: len(watcher.transition_keys) >= frozen + 5 or bool(graph.dead()), 60.0)
        assert resumed and not graph.dead(), graph.logs()
        time.sleep(0.1)
    assert not graph.dead()
