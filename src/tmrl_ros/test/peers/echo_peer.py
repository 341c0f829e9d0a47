"""A second process for the interface tests: echoes messages and serves the tmrl_msgs actions.

    echo_peer.py TYPE [TYPE...]   republish /tmrl_test/in/<Name> on /tmrl_test/out/<Name>
    echo_peer.py --actions        serve SampleChunk and ExecuteChunk on /tmrl_test/sample, /execute
"""

from __future__ import annotations

import sys
import time

import rclpy
import rclpy.executors
from rclpy.action import ActionServer
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from tmrl_msgs.action import ExecuteChunk, SampleChunk
from tmrl_msgs.msg import ActionChunk
from tmrl_ros.interfaces import message_class

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class Echo(Node):
    def __init__(self, type_names: list[str]):
        super().__init__("echo_peer")
        self._keep = []
        for type_name in type_names:
            cls = message_class(type_name)
            name = type_name.split("/")[-1]
            pub = self.create_publisher(cls, f"/tmrl_test/out/{name}", QOS)
            self._keep.append(self.create_subscription(cls, f"/tmrl_test/in/{name}", pub.publish, QOS))


class Actions(Node):
    """SampleChunk: a chunk whose rows are the goal's action noise. ExecuteChunk: one feedback per
    executed step, reward -1 per step, terminated when the chunk's last value is positive."""

    def __init__(self):
        super().__init__("action_peer")
        self.sample = ActionServer(self, SampleChunk, "/tmrl_test/sample", self.on_sample)
        self.execute = ActionServer(self, ExecuteChunk, "/tmrl_test/execute", self.on_execute)

    def on_sample(self, handle):
        goal = handle.request
        noise = list(goal.steering.action_noise)
        horizon = 4
        result = SampleChunk.Result(accepted=True, latency_ms=0.5)
        result.chunk = ActionChunk(horizon=horizon, action_dim=len(noise), data=noise * horizon,
                                   context_timestep=goal.steering.context_timestep, policy_version=7)
        result.chunk.header.frame_id = goal.context.source
        handle.succeed()
        return result

    def on_execute(self, handle):
        goal = handle.request
        steps = goal.steps or goal.chunk.horizon
        for step in range(steps):
            handle.publish_feedback(ExecuteChunk.Feedback(step=step, reward=-1.0, success=False))
            time.sleep(0.01)
        handle.succeed()
        result = ExecuteChunk.Result(accepted=True, executed_steps=steps, reward=-float(steps),
                                     terminated=goal.chunk.data[-1] > 0, success=goal.chunk.data[-1] > 0)
        result.context.step = steps
        return result


def main() -> None:
    rclpy.init()
    node = Actions() if sys.argv[1:] == ["--actions"] else Echo(sys.argv[1:])
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except RuntimeError as err:  # seen once in CI: a take that failed; report it, keep serving
                node.get_logger().error(f"spin: {err}")
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
