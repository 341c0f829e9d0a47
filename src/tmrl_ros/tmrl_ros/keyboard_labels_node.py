"""keyboard_labels: a human labels the running episode of one robot from a terminal.

    subscribes  /tmrl/episode  tmrl_msgs/EpisodeEvent (to know which episode is running)
    publishes   /tmrl/episode  tmrl_msgs/EpisodeEvent with event LABELED, success and reason "keyboard"

Keys (parameters `success_keys`, `failure_keys`): s = success, f = failure. In a terminal single
key presses count; with a pipe on stdin, the first character of each line. The driver ends the
labelled episode (a success as a terminal success, a failure as a cut) and reward_reset resets it.
Run it in its own terminal: `ros2 run tmrl_ros keyboard_labels --ros-args -p source:=widowx0`.
"""

from __future__ import annotations

import sys
import termios
import threading
import tty

from rclpy.node import Node

from tmrl_learning.system.labels import RunningEpisode, verdict
from tmrl_msgs.msg import EpisodeEvent
from tmrl_ros import qos
from tmrl_ros.node_main import run
from tmrl_ros.params import declare


class KeyboardLabels(Node):
    def __init__(self) -> None:
        super().__init__("keyboard_labels")
        self.source = declare(self, "source", "sim0", "the robot whose episodes are labelled")
        self.success_keys = declare(self, "success_keys", "s", "keys that label the running episode a success")
        self.failure_keys = declare(self, "failure_keys", "f", "keys that label the running episode a failure")
        self.running = RunningEpisode(self.source)
        self.events = self.create_publisher(EpisodeEvent, "/tmrl/episode", qos.EVENTS)
        self.create_subscription(EpisodeEvent, "/tmrl/episode", self.on_event, qos.EVENTS)
        self.terminal = termios.tcgetattr(sys.stdin) if sys.stdin.isatty() else None
        threading.Thread(target=self.read_keys, daemon=True).start()
        self.get_logger().info(f"labelling {self.source}: '{self.success_keys}' success, "
                               f"'{self.failure_keys}' failure")

    def on_event(self, msg: EpisodeEvent) -> None:
        self.running.on_event(msg.source, msg.event, int(msg.episode_id))

    def read_keys(self) -> None:
        if self.terminal is not None:
            tty.setcbreak(sys.stdin)  # one key at a time, no Enter needed
        read = (lambda: sys.stdin.read(1)) if self.terminal is not None else sys.stdin.readline
        while True:
            key = read()
            if not key:  # end of input
                return
            self.on_key(key)

    def on_key(self, key: str) -> None:
        success = verdict(key, self.success_keys, self.failure_keys)
        if success is None:
            return
        if self.running.episode_id is None:
            self.get_logger().warning(f"no running episode of {self.source} to label")
            return
        msg = EpisodeEvent(event=EpisodeEvent.LABELED, source=self.source, episode_id=self.running.episode_id,
                           success=success, reason="keyboard")
        msg.header.stamp = self.get_clock().now().to_msg()
        self.events.publish(msg)
        self.get_logger().info(f"labelled episode {self.running.episode_id} {'success' if success else 'failure'}")

    def close(self) -> None:
        if self.terminal is not None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, self.terminal)


def main(args: list[str] | None = None) -> None:
    run(KeyboardLabels, args)
