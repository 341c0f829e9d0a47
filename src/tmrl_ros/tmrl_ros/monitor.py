"""A monitor of a running tmrl graph that subscribes the way an independent user does (`ros2 topic
echo`): episode events, /tmrl/timestep, /tmrl/noise, transitions (with the transient-local history
the learner uses), the driver's observations and the learner's status. Used by the demo, the
benchmarks and the tests."""

from __future__ import annotations

import json
import time

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32, Float32MultiArray, String

from tmrl_msgs.msg import Context, EpisodeEvent, Transition


class GraphMonitor:
    """Subscribes like an independent user: episodes, /tmrl/timestep, /tmrl/noise, transitions (with
    the same transient-local history the learner uses), the driver's observations, learner status."""

    def __init__(self, node, transitions_only: bool = False):
        """`transitions_only`: just transitions and learner status (a benchmark's light observer)."""
        latched = QoSProfile(depth=10_000, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.episodes: list[EpisodeEvent] = []
        self.timesteps: list[float] = []
        self.timestep_times: list[float] = []
        self.episode_times: list[float] = []
        self.noise: list[tuple[float, ...]] = []
        self.transition_keys: set[tuple[str, int, int]] = set()
        self.observations = 0
        self.status: dict = {}
        node.create_subscription(Transition, "/tmrl/transitions", self.on_transition, latched)
        node.create_subscription(String, "/tmrl/learner_status", self.on_status,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        if transitions_only:
            return
        node.create_subscription(EpisodeEvent, "/tmrl/episode", self.on_episode, 1000)
        node.create_subscription(Float32, "/tmrl/timestep", self.on_timestep, 1000)
        node.create_subscription(Float32MultiArray, "/tmrl/noise", lambda m: self.noise.append(tuple(m.data)), 1000)
        node.create_subscription(Context, "/observation", self.on_observation, latched)

    def on_timestep(self, msg: Float32) -> None:
        self.timesteps.append(msg.data)
        self.timestep_times.append(time.monotonic())

    def on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event != EpisodeEvent.STARTED:
            self.episodes.append(msg)
            self.episode_times.append(time.monotonic())

    def on_transition(self, msg: Transition) -> None:
        self.transition_keys.add((msg.source, msg.episode_id, msg.step))

    def on_observation(self, msg: Context) -> None:
        self.observations += 1

    def on_status(self, msg: String) -> None:
        self.status = json.loads(msg.data)

    def recent_success(self, n: int = 20) -> float:
        last = self.episodes[-n:]
        return sum(e.success for e in last) / len(last) if len(last) == n else 0.0
