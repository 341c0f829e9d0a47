"""The simulated fine-tuning graph, every node a separate process over DDS, started from the same
description the launch file uses: it learns LineWorld from a pre-trained CSP checkpoint, a user's
subscriber sees /tmrl/timestep and /tmrl/noise move, and its recording trains offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from graph_fixtures import Watcher, lineworld_params

from tmrl_learning.csp.checkpoint import load_policy
from tmrl_learning.csp.toy import save_lineworld_checkpoint
from tmrl_learning.data.from_bags import dataset_from_transitions_bag, transitions_from_bag
from tmrl_learning.tasks import LINEWORLD
from tmrl_learning.tmrl.config import UpdateSchedule
from tmrl_learning.tmrl.replay import ReplayBuffer
from tmrl_ros.graph import recorder_graph, sim_finetune_graph
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]


def pretrained_success(checkpoint, episodes: int = 16) -> float:
    """The frozen policy alone (clean context, random action noise), in process."""
    policy, _ = load_policy(checkpoint)
    torch.manual_seed(0)
    wins = 0
    for i in range(episodes):
        env = LINEWORLD.make_env(seed=500 + i)
        obs, done = env.reset(), False
        while not done:
            context, _ = LINEWORLD.split_observation(obs)
            chunk = policy.sample(torch.from_numpy(context)[None])[0].numpy()
            result = env.step_chunk(chunk, 2)
            obs, done = result.observation, result.terminated or result.truncated
        wins += result.success
    return wins / episodes


def test_sim_graph_learns_and_its_recording_trains_offline(node, tmp_path):
    checkpoint = save_lineworld_checkpoint(tmp_path / "csp.pt")
    before = pretrained_success(checkpoint)
    specs = sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run", params_file=lineworld_params(tmp_path))
    specs += recorder_graph(tmp_path / "bags", bag_name="run")
    watcher = Watcher(node)
    graph = GraphProcesses(specs, tmp_path / "logs")
    with graph:
        learned = spin_until(node, lambda: watcher.recent_success(20) >= 0.8 or bool(graph.dead()), 300.0)
        assert not graph.dead(), graph.logs()
    assert learned, f"recent success {watcher.recent_success(20):.2f} after {len(watcher.episodes)} episodes\n" \
                    + graph.logs()
    assert before <= 0.2, f"the pre-trained policy alone should fail LineWorld, got {before}"
    # The learner held the configured update-to-data ratio (the runner's rule, tmrl/config.py), within
    # the pacing window: the actors wait once it owes more than max_lag updates.
    status, schedule = watcher.status, UpdateSchedule(warmup_transitions=300, updates_per_transition=1.0)
    assert status["configured_updates_per_transition"] == 1.0
    assert 0 <= schedule.due(status["transitions"]) - status["updates"] <= schedule.max_lag + 8, status
    assert len(set(watcher.timesteps)) >= 5, "the chosen context timestep should vary"
    assert len(set(watcher.noise)) >= 10 and all(len(n) == 1 for n in watcher.noise)

    # The recording: every transition the graph made, readable by the offline tools.
    bag = tmp_path / "bags" / "run"
    offline = transitions_from_bag(bag)
    assert len(offline["reward"]) >= 0.9 * len(watcher.transition_keys) and offline["observation"].shape[1] == 2
    buffer = ReplayBuffer(2, 3, 100)
    buffer.set_offline(**offline)
    buffer.add(**{k: v[:10] for k, v in offline.items()})
    assert buffer.sample(64, np.random.default_rng(0), offline_fraction=0.5)["reward"].shape == (64,)
    dataset = dataset_from_transitions_bag(bag)
    assert dataset.num_episodes >= len(watcher.episodes) - 2 and dataset.actions.shape[1] == 1
    out = tmp_path / "from_bag"
    args = ["pretrain", "--config", str(REPO / "config" / "pointmaze.yaml"), "--set", "task=lineworld",
            "--set", "policy.model.hidden=32", "--set", "policy.model.embed=32", "--set", "eval_every=0",
            "--set", "compile=false",  # 20 steps: compiling would cost more than it saves
            "--steps", "20", "--bag", str(bag), "--out", str(out)]
    cli = subprocess.run([sys.executable, "-m", "tmrl_learning.cli", *args], capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    policy, cfg = load_policy(out / "checkpoint.pt")
    assert cfg.dataset_bag == str(bag) and policy.cfg.model.context_dim == 1


def test_a_task_added_by_one_registry_entry_runs_through_the_graph(node, tmp_path, monkeypatch):
    """The task of tmrl_learning/test/plugin_tasks, registered by its own module and nothing else, named
    to every node process by TMRL_TASK_MODULES."""
    plugins = REPO / "src" / "tmrl_learning" / "test" / "plugin_tasks"
    monkeypatch.setenv("PYTHONPATH", f"{plugins}:{__import__('os').environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("TMRL_TASK_MODULES", "tmrl_extra_task")
    checkpoint = save_lineworld_checkpoint(tmp_path / "csp.pt", steps=50)
    specs = sim_finetune_graph("lineworld-far", str(checkpoint), tmp_path / "run",
                               params_file=lineworld_params(tmp_path))
    watcher = Watcher(node)
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        ok = spin_until(node, lambda: watcher.status.get("updates", 0) >= 20 or bool(graph.dead()), 120.0)
        assert ok and not graph.dead(), graph.logs()
    assert watcher.episodes and all(e.task in ("", "lineworld-far") for e in watcher.episodes)
    assert "driver for lineworld-far" in graph.log("sim_bridge")
