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
