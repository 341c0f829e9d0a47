"""intervention: a human takes over a robot while holding a dead-man button (tmrl_learning.system.
intervention.JoyMapping): sensor_msgs/Joy in, the action the driver executes instead of the policy's out.

    subscribes joy            sensor_msgs/Joy (spacenav for a SpaceMouse, joy for a gamepad)
    publishes  intervention   std_msgs/Float32MultiArray: the human's action at the Joy rate while the button
                              is held; an empty one when it is released. The driver stops using an action that
                              is not refreshed within 0.5 s (a dead input device gives control back).

The defaults suit a SpaceMouse on an end-effector delta robot (7-D: x y z roll pitch yaw gripper): its six
axes drive the pose, the left button is the dead-man, the right one closes the gripper.
"""

from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import Float32MultiArray

from tmrl_learning.system.intervention import JoyMapping
from tmrl_ros.convert import floats
from tmrl_ros.node_main import run
from tmrl_ros.params import declare


class InterventionNode(Node):
    def __init__(self) -> None:
        super().__init__("intervention")
        axes = declare(self, "axes", [0, 1, 2, 3, 4, 5, -1], "the Joy axis of each action component (-1: none)")
        scale = declare(self, "scale", [1.0] * 7, "per action component: action = clip(scale * axis, -1, 1)")
        self.mapping = JoyMapping(tuple(axes), tuple(scale),
                                  declare(self, "deadman_button", 0, "held: the human drives"),
                                  declare(self, "gripper_index", 6, "the gripper's action component (-1: none)"),
                                  declare(self, "gripper_button", 1, "pressed: close the gripper"))
        self.publisher = self.create_publisher(Float32MultiArray, "intervention", 10)
        self.create_subscription(Joy, "joy", self.on_joy, 10)
        self.holding = False
        self.get_logger().info(f"intervention ready: {self.mapping.action_dim}-D actions, dead-man button "
                               f"{self.mapping.deadman_button}")

    def on_joy(self, msg: Joy) -> None:
        action = self.mapping.action(msg.axes, msg.buttons)
        if action is not None:
            if not self.holding:
                self.get_logger().info("human intervention: the policy is overridden")
            self.holding = True
            self.publisher.publish(Float32MultiArray(data=floats(action)))
        elif self.holding:
            self.holding = False
            self.publisher.publish(Float32MultiArray())
            self.get_logger().info("intervention released: the policy drives")


def main(args: list[str] | None = None) -> None:
    run(InterventionNode, args)
