"""What the sim-graph tests share: small agent settings for LineWorld, and the graph monitor."""

from __future__ import annotations

from pathlib import Path

from tmrl_ros.monitor import GraphMonitor as Watcher  # noqa: F401 - the tests' name for it

# Small networks so the graph learns LineWorld in a minute or two on 2 cores; steering and learner
# read the same /** section, as they must.
LINEWORLD_PARAMS = """\
/**:
  ros__parameters:
    agent.hidden: 64
    agent.actor_layers: 2
    agent.critic_layers: 2
    agent.critics: 2
    agent.batch_size: 128
    agent.gamma: 0.95
    schedule.warmup_transitions: 300
    schedule.updates_per_transition: 1.0
/**/steering:
  ros__parameters:
    execute: 2
/**/learner:
  ros__parameters:
    learner.checkpoint_every: 50
    learner.publish_every: 10
"""


def lineworld_params(tmp_path: Path) -> Path:
    path = tmp_path / "lineworld.yaml"
    path.write_text(LINEWORLD_PARAMS)
    return path


