"""recorder: writes every /tmrl/* topic (or a chosen list) into a rosbag2 (mcap) bag.

Topics are discovered while running, so nodes started later are recorded too. Messages are stored
as received (CDR bytes, no re-serialization), with the standard rosbag2 metadata.
"""

from __future__ import annotations

import time
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from tmrl_learning.bags import STORAGES, BagWriter
from tmrl_ros.interfaces import message_class
from tmrl_ros.params import declare


class Recorder(Node):
    def __init__(self) -> None:
        super().__init__("recorder")
        self.output_dir = Path(declare(self, "output_dir", "bags", "folder in which a new bag folder is made"))
        self.bag_name = declare(self, "bag_name", "", "name of the bag folder ('' = tmrl_<date>_<time>)")
        self.topics = declare(self, "topics", [], "topics to record; empty = every topic under `prefix`")
        self.prefix = declare(self, "prefix", "/tmrl/", "record every topic under this prefix when `topics` is empty")
        storage = declare(self, "storage", "mcap", f"bag storage plugin, one of {sorted(STORAGES)}")
        period = declare(self, "discovery_period_s", 0.5, "how often to look for new topics (s)", low=0.05, high=60.0)

        name = self.bag_name or time.strftime("tmrl_%Y%m%d_%H%M%S")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.writer = BagWriter(self.output_dir / name, storage=storage)
        self.writer.__enter__()
        self._recorded: dict[str, object] = {}
        self.create_timer(period, self.discover)
        self.get_logger().info(f"recording to {self.writer.path} ({storage})")
        self.discover()

    def wanted(self, topic: str) -> bool:
        return topic in self.topics if self.topics else topic.startswith(self.prefix)

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self._recorded or not self.wanted(topic):
                continue
            if len(types) != 1:
                self.get_logger().warning(f"not recording {topic}: it has several types {types}")
                continue
            try:
                cls = message_class(types[0])
            except ValueError as err:
                self.get_logger().warning(f"not recording {topic}: {err}")
                continue
            # Match the publishers' reliability: a reliable subscriber never hears a best-effort publisher.
            publishers = self.get_publishers_info_by_topic(topic)
            best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers)
            qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                             else ReliabilityPolicy.RELIABLE)
            self._recorded[topic] = self.create_subscription(
                cls, topic, lambda data, t=topic, m=types[0]: self.record(t, m, data), qos, raw=True)
            self.get_logger().info(f"recording {topic} [{types[0]}]")

    def record(self, topic: str, msgtype: str, data: bytes) -> None:
        try:
            self.writer.write_cdr(topic, msgtype, self.get_clock().now().nanoseconds, data)
        except (KeyError, ValueError) as err:  # a type the bag cannot describe: log, keep recording others
            self.get_logger().error(f"dropped a message on {topic}: {err}", throttle_duration_sec=5.0)

    def close(self) -> None:
        self.writer.close()
        self.get_logger().info(f"wrote {self.writer.count} messages to {self.writer.path}")


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = Recorder()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.close()  # the bag must be finalised whatever stopped us
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
