"""perception: a driver's raw observations -> the policy's context and proprio.

    subscribes  observation   tmrl_msgs/Context from the driver (observation filled)
    publishes   tmrl/context  tmrl_msgs/Context with context and proprio filled (clean: timestep 0)

For the simulated tasks the raw observation is the state; robot drivers add their sensors (joint
states, images, point clouds) with their own time synchronisation in the robot-driver issue.
"""

from __future__ import annotations

from rclpy.node import Node

from tmrl_learning.system.perception import Perception
from tmrl_learning.system.tasks import sim_task
from tmrl_msgs.msg import Context
from tmrl_ros import qos
from tmrl_ros.convert import floats, vector
from tmrl_ros.node_main import run
from tmrl_ros.params import declare


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        task = sim_task(declare(self, "task", "pointmaze-large-to-giant", "task whose context layout to produce"))
        self.perception = Perception(task.spec, task.obs_dim)
        self.publisher = self.create_publisher(Context, "tmrl/context", qos.DECISION)
        self.create_subscription(Context, "observation", self.on_observation, qos.DECISION)
        self.published = self.dropped = 0

    def on_observation(self, msg: Context) -> None:
        try:
            obs, context, proprio = self.perception(vector(msg.observation))
        except ValueError as err:
            self.dropped += 1
            self.get_logger().error(f"dropped observation {msg.source}/{msg.episode_id}/{msg.step}: {err}",
                                    throttle_duration_sec=2.0)
            return
        msg.observation, msg.context, msg.proprio = floats(obs), floats(context), floats(proprio)
        msg.context_timestep = 0
        self.publisher.publish(msg)
        self.published += 1


def main(args: list[str] | None = None) -> None:
    run(PerceptionNode, args)
