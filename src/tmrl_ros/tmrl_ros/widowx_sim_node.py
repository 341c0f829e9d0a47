"""widowx_sim: a simulated WidowX 250 6-DOF serving the Interbotix xs_sdk's interface over DDS, for dry
runs and tests of the WidowX driver (tmrl_learning.robots.widowx_sim holds the physics and the servos).
Started in the robot's namespace (`/wx250s` by default, like the xs_sdk), under the name xs_sdk.

    publishes  joint_states               sensor_msgs/JointState at `rate_hz` (xs_sdk's joint order)
    subscribes commands/joint_group       interbotix_xs_msgs/JointGroupCommand
               commands/joint_single      interbotix_xs_msgs/JointSingleCommand
    services   torque_enable, reboot_motors, get_robot_info, set_operating_modes,
               set_motor_registers, get_motor_registers     (interbotix_xs_msgs/srv/...)

A malformed command is logged and not executed, as the xs_sdk does.
"""

from __future__ import annotations

import time

from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from interbotix_xs_msgs.srv import OperatingModes, Reboot, RegisterValues, RobotInfo, TorqueEnable
from rclpy.node import Node
from sensor_msgs.msg import JointState

from tmrl_learning.robots.widowx_sim import CommandError, WidowXSim
from tmrl_ros.node_main import run
from tmrl_ros.params import declare


class WidowXSimNode(Node):
    def __init__(self) -> None:
        super().__init__("xs_sdk")
        rate = declare(self, "rate_hz", 100.0, "joint_states rate, and physics catch-up rate", low=1.0, high=1000.0)
        self.sim = WidowXSim()
        self.states = self.create_publisher(JointState, "joint_states", 10)
        self.create_subscription(JointGroupCommand, "commands/joint_group",
                                 lambda m: self.command(self.sim.command_group, m.name, list(m.cmd)), 10)
        self.create_subscription(JointSingleCommand, "commands/joint_single",
                                 lambda m: self.command(self.sim.command_single, m.name, m.cmd), 10)
        self.create_service(TorqueEnable, "torque_enable", self.on_torque)
        self.create_service(Reboot, "reboot_motors", self.on_reboot)
        self.create_service(RobotInfo, "get_robot_info", self.on_info)
        self.create_service(OperatingModes, "set_operating_modes", self.on_modes)
        self.create_service(RegisterValues, "set_motor_registers", self.on_set_register)
        self.create_service(RegisterValues, "get_motor_registers", self.on_get_register)
        self.started = time.monotonic()
        self.create_timer(1.0 / rate, self.tick)
        self.get_logger().info(f"simulated wx250s serving {self.get_namespace()}")

    def command(self, apply, *args) -> None:
        try:
            apply(*args)
        except CommandError as err:
            self.get_logger().error(f"command not executed: {err}", throttle_duration_sec=2.0)

    def tick(self) -> None:
        """Catch the physics up with the wall clock, then publish the joints."""
        self.sim.advance(time.monotonic() - self.started - self.sim.time)
        names, positions, velocities, efforts = self.sim.joint_states()
        msg = JointState(name=names, position=positions.tolist(), velocity=velocities.tolist(),
                         effort=efforts.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.states.publish(msg)

    def _service(self, apply, response, *args):
        try:
            result = apply(*args)
        except CommandError as err:
            self.get_logger().error(str(err))
            return response
        return result if result is not None else response

    def on_torque(self, req, res):
        return self._service(self.sim.torque_enable, res, req.cmd_type, req.name, req.enable)

    def on_reboot(self, req, res):
        return self._service(self.sim.reboot, res, req.cmd_type, req.name, req.enable)

    def on_modes(self, req, res):
        return self._service(self.sim.set_operating_modes, res, req.cmd_type, req.name, req.mode, req.profile_type,
                             req.profile_velocity, req.profile_acceleration)

    def on_set_register(self, req, res):
        return self._service(self.sim.set_register, res, req.cmd_type, req.name, req.reg, req.value)

    def on_get_register(self, req, res):
        def get(*args):
            res.values = self.sim.get_register(*args)
            return res
        return self._service(get, res, req.cmd_type, req.name, req.reg)

    def on_info(self, req, res):
        def info(*args):
            for key, value in self.sim.robot_info(*args).items():
                setattr(res, key, [float(v) for v in value] if key.startswith("joint_") and "limits" in key
                        or key == "joint_sleep_positions" else value)
            return res
        return self._service(info, res, req.cmd_type, req.name)


def main(args: list[str] | None = None) -> None:
    run(WidowXSimNode, args)
