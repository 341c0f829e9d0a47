"""reward_reset: episode bookkeeping for one robot or sim. It follows that robot's transitions,
announces when episodes start and end (success, failure, time limit), applies a time limit of its
own, and resets the driver through its reset service when an episode is over.

    subscribes  /tmrl/transitions  tmrl_msgs/Transition (those of `source`)
    publishes   /tmrl/episode      tmrl_msgs/EpisodeEvent
    calls       reset              tmrl_msgs/srv/Reset (the driver)

Success comes from the driver (the simulator's success check, a detector in a robot driver, or a
human label). An episode with no transition for `stall_timeout_s` (a lost result, a dead steering
node) is aborted and the driver reset, so a graph never waits forever on a finished episode.
"""

from __future__ import annotations

import time

from rclpy.node import Node

from tmrl_learning.system.episodes import ABORTED, EpisodeBook, Event
from tmrl_msgs.msg import EpisodeEvent, Transition
from tmrl_msgs.srv import Reset
from tmrl_ros import qos
from tmrl_ros.node_main import run
from tmrl_ros.params import declare


class RewardReset(Node):
    def __init__(self) -> None:
        super().__init__("reward_reset")
        self.source = declare(self, "source", "sim0", "the robot/sim whose episodes this node keeps")
        self.task = declare(self, "task", "", "task to reset into ('' = the driver's current task)")
        max_steps = declare(self, "max_episode_steps", 0, "macro-steps after which an episode is cut "
                            "(0 = only the driver's own limit)", low=0, high=10**9)
        self.retry = declare(self, "reset_retry_s", 1.0, "wait before retrying a failed reset", low=0.01, high=600.0)
        self.seed = declare(self, "seed", -1, "seed of the first reset (-1: none)", low=-1, high=2**31 - 1)
        self.stall_timeout = declare(self, "stall_timeout_s", 60.0, "abort and reset an episode after this long "
                                     "without a transition (0: never)", low=0.0, high=86_400.0)
        self.book = EpisodeBook(max_steps)
        self.events = self.create_publisher(EpisodeEvent, "/tmrl/episode", qos.EVENTS)
        self.reset_client = self.create_client(Reset, "reset")
        self.create_subscription(Transition, "/tmrl/transitions", self.on_transition, qos.transitions(100))
        self.resetting, self.reset_sent = False, 0.0
        self.episode_id: int | None = None  # the running episode, from the last reset
        self.last_activity = time.monotonic()
        self.pending_reset = self.create_timer(0.2, self.request_reset)  # the first episode
        if self.stall_timeout:
            self.create_timer(min(1.0, self.stall_timeout / 2), self.check_stall)

    def on_transition(self, msg: Transition) -> None:
        if msg.source != self.source:
            return
        self.last_activity = time.monotonic()
        for event in self.book.on_transition(msg.source, int(msg.episode_id), int(msg.step), float(msg.reward),
                                             msg.terminated, msg.truncated, msg.success):
            self.publish(event)
            if event.ends_episode:
                self.request_reset()

    def publish(self, event: Event) -> None:
        msg = EpisodeEvent(event=event.kind, source=event.source, episode_id=event.episode_id, task=self.task,
                           steps=event.steps, episode_return=event.episode_return, success=event.success,
                           reason=event.reason)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.events.publish(msg)
        if event.kind == ABORTED:
            self.get_logger().warning(f"episode {event.episode_id} of {event.source} aborted: {event.reason}")
        elif event.ends_episode:
            self.get_logger().info(f"episode {event.episode_id} of {event.source}: "
                                   f"{'success' if event.success else event.reason} after {event.steps} steps; "
                                   f"recent success {self.book.success_rate():.2f} over {len(self.book.outcomes)}")

    def request_reset(self) -> None:
        if self.pending_reset is not None:
            self.pending_reset.cancel()
            self.pending_reset = None
        now = time.monotonic()
        if self.resetting and now - self.reset_sent < 10.0:  # a response lost for 10 s: ask again
            return
        self.reset_sent = now
        if not self.reset_client.service_is_ready():
            self.pending_reset = self.create_timer(self.retry, self.request_reset)
            return
        self.resetting = True
        future = self.reset_client.call_async(Reset.Request(task=self.task, seed=self.seed))
        self.seed = -1
        future.add_done_callback(self.on_reset_done)

    def on_reset_done(self, future) -> None:
        self.resetting = False
        response = future.result()
        if response is None or not response.success:
            why = "no response" if response is None else response.message
            self.get_logger().error(f"reset of {self.source} failed ({why}); retrying")
            self.pending_reset = self.create_timer(self.retry, self.request_reset)
            return
        self.episode_id, self.last_activity = int(response.context.episode_id), time.monotonic()

    def check_stall(self) -> None:
        idle = time.monotonic() - self.last_activity
        if self.resetting or self.pending_reset is not None or self.episode_id is None or idle < self.stall_timeout:
            return
        self.last_activity = time.monotonic()
        self.publish(self.book.abort(self.source, self.episode_id, f"no transition for {idle:.0f} s"))
        self.request_reset()


def main(args: list[str] | None = None) -> None:
    run(RewardReset, args)
