"""The robot fine-tuning graphs, started from their launch files' description (robot_finetune_graph with
config/<robot>.yaml), against the robots' peers: franky-sim (libfranka's protocol over MuJoCo on
127.0.0.1) for the Franka, widowx_sim (the Interbotix xs_sdk's topics and services over MuJoCo) for the
WidowX."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sensor_msgs.msg import Joy
from std_msgs.msg import Bool, String

from tmrl_learning.csp.checkpoint import load_policy, save_checkpoint
from tmrl_learning.csp.config import PretrainConfig
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.robots.franka_sim import FrankaSim
from tmrl_learning.tasks import embodiment
from tmrl_msgs.msg import EpisodeEvent, Transition
from tmrl_ros import qos
from tmrl_ros.graph import NodeSpec, robot_finetune_graph
from tmrl_ros.monitor import GraphMonitor
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SMALL_AGENT = {"agent.hidden": 32, "agent.critics": 2, "agent.batch_size": 32}
REPO = Path(__file__).resolve().parents[3]
HORIZON = 8


# robot -> (task, address, device options for its peer, the peer's node (None: franky-sim, not ROS))
ROBOTS = {
    "franka": ("franka-reach", "", {"realtime": False, "reset_dynamics_factor": 0.3}, None),  # FrankaSim's
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


@pytest.mark.parametrize("robot", ["franka", "widowx"])
def test_a_robot_graph_runs_labelled_and_intervened_episodes_obeys_the_stops_and_its_bag_trains(node, tmp_path, robot):
    """The launch file's graph with the intervention node and the session recorder, against the arm's peer:
    episodes run; a scripted label ends one; a scripted dead-man hold replaces the policy's actions; the
    emergency stop freezes everything until released; killing steering mid-chunk leaves the arm still;
    the recorded bag pre-trains a policy."""
    task, address, options, peer = ROBOTS[robot]
    checkpoint = reach_checkpoint(tmp_path / "reach.pt", task)
    stack = contextlib.ExitStack()
    address = stack.enter_context(FrankaSim()) if peer is None else address
    specs = robot_finetune_graph(robot, address, task, str(checkpoint), tmp_path / "run",
                                 device_options=json.dumps(options), intervention=True,
                                 record_dir=str(tmp_path / "bags"),
                                 overrides={"steering": SMALL_AGENT, "learner": SMALL_AGENT})
    driver = next(s for s in specs if s.name == "driver")
    assert driver.parameters["address"] == address and driver.parameters["source"] == robot
    watcher = GraphMonitor(node)
    safety: list[dict] = []
    intervened: list[int] = []
    node.create_subscription(String, "/safety", lambda m: safety.append(json.loads(m.data)), 10)
    node.create_subscription(Transition, "/tmrl/transitions", lambda m: intervened.append(m.intervened_steps),
                             qos.transitions(10_000))
    estop = node.create_publisher(Bool, "/tmrl/estop", 10)
    labels = node.create_publisher(EpisodeEvent, "/tmrl/episode", qos.EVENTS)
    joy = node.create_publisher(Joy, "/joy", 10)
    held = {"buttons": [0, 0]}
    node.create_timer(0.05, lambda: joy.publish(Joy(axes=[0.3, 0.0, 0.0, 0.0, 0.0, 0.0], buttons=held["buttons"])))
    with stack, GraphProcesses(([peer] if peer else []) + specs, tmp_path / "logs") as graph:
        ok = spin_until(node, lambda: len(watcher.transition_keys) >= 10 or bool(graph.dead()), 180.0)
        assert ok and not graph.dead(), graph.logs()
        assert {source for source, *_ in watcher.transition_keys} == {robot}
        assert f"driver for {task} ({robot}) ready" in graph.log("driver")

        for _ in range(5):  # a human's verdict on the running episode (it may end first: then on the next)
            running = max(episode for _, episode, _ in watcher.transition_keys)
            labels.publish(EpisodeEvent(event=EpisodeEvent.LABELED, source=robot, episode_id=running, success=True,
                                        reason="scripted"))
            if spin_until(node, lambda: "labelled success (scripted)" in graph.log("driver"), 4.0):
                break
        assert "labelled success (scripted)" in graph.log("driver"), graph.log("driver")
        held["buttons"] = [1, 0]  # the dead-man button: the human drives (+x, gripper open)
        assert spin_until(node, lambda: any(intervened), 30.0), graph.logs()
        held["buttons"] = [0, 0]
        assert spin_until(node, lambda: "intervention released" in graph.log("intervention"), 10.0)

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

        graph.kill("steering")  # mid-chunk: the driver finishes at most that chunk, then the arm stays put
        spin_until(node, lambda: False, 3.0)
        observations = watcher.observations
        spin_until(node, lambda: False, 3.0)
        assert watcher.observations == observations, "the driver kept moving after steering died"
        graph.stop("recorder")  # close the bag before reading it
    bags = list((tmp_path / "bags").iterdir())
    assert len(bags) == 1, bags
    out = tmp_path / "from_bag"
    args = ["pretrain", "--config", str(REPO / "config" / "pointmaze.yaml"), "--set", f"task={task}",
            "--set", "policy.model.hidden=32", "--set", "policy.model.embed=32", "--set", "eval_every=0",
            "--set", "compile=false", "--steps", "10", "--bag", str(bags[0]), "--out", str(out)]
    cli = subprocess.run([sys.executable, "-m", "tmrl_learning.cli", *args], capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    policy, cfg = load_policy(out / "checkpoint.pt")
    assert cfg.dataset_bag == str(bags[0]) and policy.cfg.model.action_dim == 7
