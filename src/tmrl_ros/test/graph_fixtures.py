"""What the sim-graph tests share: a LineWorld checkpoint, small agent settings, and a watcher node
that follows the graph's topics the way a user's `ros2 topic echo` would."""

from __future__ import annotations

import json
from pathlib import Path

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32, Float32MultiArray, String

from tmrl_msgs.msg import Context, EpisodeEvent, Transition

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
/**/steering:
  ros__parameters:
    execute: 2
    warmup_steps: 300
/**/learner:
  ros__parameters:
    learner.warmup_transitions: 300
    learner.checkpoint_every: 50
    learner.publish_every: 10
"""


def lineworld_params(tmp_path: Path) -> Path:
    path = tmp_path / "lineworld.yaml"
    path.write_text(LINEWORLD_PARAMS)
    return path


class Watcher:
    """Subscribes like an independent user: episodes, /tmrl/timestep, /tmrl/noise, transitions (with
    the same transient-local history the learner uses), the driver's observations, learner status."""

    def __init__(self, node):
        latched = QoSProfile(depth=10_000, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.episodes: list[EpisodeEvent] = []
        self.timesteps: list[float] = []
        self.noise: list[tuple[float, ...]] = []
        self.transition_keys: set[tuple[str, int, int]] = set()
        self.observations = 0
        self.status: dict = {}
        node.create_subscription(EpisodeEvent, "/tmrl/episode", self.on_episode, 1000)
        node.create_subscription(Float32, "/tmrl/timestep", lambda m: self.timesteps.append(m.data), 1000)
        node.create_subscription(Float32MultiArray, "/tmrl/noise", lambda m: self.noise.append(tuple(m.data)), 1000)
        node.create_subscription(Transition, "/tmrl/transitions", self.on_transition, latched)
        node.create_subscription(Context, "/observation", self.on_observation, latched)
        node.create_subscription(String, "/tmrl/learner_status", self.on_status,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event != EpisodeEvent.STARTED:
            self.episodes.append(msg)

    def on_transition(self, msg: Transition) -> None:
        self.transition_keys.add((msg.source, msg.episode_id, msg.step))

    def on_observation(self, msg: Context) -> None:
        self.observations += 1

    def on_status(self, msg: String) -> None:
        self.status = json.loads(msg.data)

    def recent_success(self, n: int = 20) -> float:
        last = self.episodes[-n:]
        return sum(e.success for e in last) / len(last) if len(last) == n else 0.0
