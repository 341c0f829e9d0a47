"""The simulated fine-tuning graph on a LIBERO task: the sim bridge runs LIBERO-90 task 51 in its server
process and the graph completes episodes (a small untrained flow policy: the episodes end at the time
limit, steered by TMRL)."""

from __future__ import annotations

import pytest
import torch
from graph_fixtures import Watcher

from tmrl_learning.csp.checkpoint import save_checkpoint
from tmrl_learning.csp.config import PretrainConfig
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.tasks import embodiment
from tmrl_ros.graph import sim_finetune_graph
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SMALL_AGENT = {"agent.hidden": 32, "agent.critics": 2, "agent.batch_size": 32}


def test_the_sim_graph_completes_libero_episodes(node, tmp_path):
    torch.manual_seed(0)
    task = embodiment("libero-90-51")
    model = DiTConfig(horizon=8, action_dim=task.action_dim, context_dim=task.context_dim,
                      proprio_dim=task.proprio_dim, hidden=32, embed=32, layers=1, heads=2, time_frequencies=8)
    policy = FlowPolicy(PolicyConfig(model=model))
    cfg = PretrainConfig(task=task.name, policy=policy.cfg)
    checkpoint = save_checkpoint(tmp_path / "csp.pt", policy.eval(), cfg, 0)
    specs = sim_finetune_graph(task.name, str(checkpoint), tmp_path / "run",
                               overrides={"steering": SMALL_AGENT, "learner": SMALL_AGENT})
    watcher = Watcher(node)
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        ended = spin_until(node, lambda: len(watcher.episodes) >= 2 or bool(graph.dead()), 240.0)
        assert ended and not graph.dead(), graph.logs()
    assert {source for source, *_ in watcher.transition_keys} == {"sim0"}
    from tmrl_msgs.msg import EpisodeEvent

    first = watcher.episodes[:2]
    assert all(e.event == EpisodeEvent.TIMED_OUT and e.episode_return == -task.max_steps for e in first), first


def test_the_sim_graph_runs_a_tiny_pi0_on_libero(node, tmp_path):
    """The VLA path through the graph: the bridge publishes LIBERO's agent-view camera with each
    observation, perception makes the tiny pi0's prefix from it and the task's instruction, the policy
    server samples the pi0 folder, and steering picks t in its T = 1000 schedule and 32 prefix-noise
    directions, observing the state and a frozen (random, torch.export) embedding of the same camera; an
    episode runs to LIBERO's time limit."""
    from sensor_msgs.msg import Image
    from transformers import PI0ForConditionalGeneration

    from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, save_csp_pi0, tiny_pi0_config
    from tmrl_learning.vla.tokenizer import build_word_tokenizer
    from tmrl_msgs.msg import Context, EpisodeEvent, SteeringCommand, Transition
    from tmrl_ros import qos

    task = embodiment("libero-90-51-vla")
    torch.manual_seed(0)
    policy = CspPi0(PI0ForConditionalGeneration(tiny_pi0_config(horizon=8)), CspPi0Config(7, 9, 12))
    folder = save_csp_pi0(tmp_path / "pi0", policy)
    build_word_tokenizer([task.instruction], tmp_path / "tokenizer", vocab_size=300)
    encoder = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 4, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                                  torch.nn.Flatten())  # 32 features, a stand-in for a DINOv2 file
    torch.export.save(torch.export.export(encoder, (torch.zeros(1, 3, 32, 32),)), str(tmp_path / "encoder.pt2"))
    actor = {**SMALL_AGENT, "image_encoder": str(tmp_path / "encoder.pt2"), "image_size": 32}
    specs = sim_finetune_graph(task.name, str(folder), tmp_path / "run", tokenizer=str(tmp_path / "tokenizer"),
                               overrides={"steering": actor, "learner": actor})
    seen = {"context": [], "steering": [], "images": [], "observations": set()}
    node.create_subscription(Transition, "/tmrl/transitions", lambda m: seen["observations"].add(
        (len(m.observation), len(m.next_observation))), 100)
    node.create_subscription(Context, "/tmrl/context", lambda m: seen["context"].append(len(m.context)), 100)
    node.create_subscription(SteeringCommand, "/tmrl/steering", lambda m: seen["steering"].append(
        (m.context_timestep, m.num_context_timesteps, len(m.context_noise))), 100)
    node.create_subscription(Image, "/agentview/image_raw", lambda m: seen["images"].append(
        (m.height, m.width, m.encoding)), qos.SENSOR)
    watcher = Watcher(node)
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        ended = spin_until(node, lambda: len(watcher.episodes) >= 1 or bool(graph.dead()), 300.0)
        assert ended and not graph.dead(), graph.logs()
    first = watcher.episodes[0]
    assert first.event == EpisodeEvent.TIMED_OUT and first.episode_return == -task.max_steps, first
    assert len(watcher.transition_keys) >= task.max_steps // 5
    assert set(seen["context"]) == {policy.prefix_tokens * policy.prefix_width}
    assert {(n, e) for _, n, e in seen["steering"]} == {(1001, 32)}
    assert all(0 <= t <= 1000 for t, *_ in seen["steering"])
    assert seen["images"] and set(seen["images"]) == {(128, 128, "rgb8")}
    assert seen["observations"] == {(task.obs_dim + 32, task.obs_dim + 32)}  # the state, then the embedding
