"""The WidowX driver: a WidowX 250 6-DOF through the Interbotix xs_sdk (its ROS 2 topics and services),
commanded with BridgeData-style end-effector delta actions (tmrl_learning.robots.ee_delta) at 5 Hz.

Each action moves the commanded pose (clipped into the workspace box by the safety step), solves the
arm's inverse kinematics (Interbotix's numbers, seeded with the last solution) and publishes one
`arm` group command on the control clock's grid; the servos reach it along a time profile of one control
period. A pose without a
solution within the joint limits is not sent: the arm holds and the safety counters say so. The gripper
is driven in PWM mode like the Interbotix toolbox does (+PWM opens, -PWM closes). The observation is
read just before the next tick.

State (10): end-effector position from the measured joints (3, m), gripper opening (1, 0 closed .. 1
open), joint positions (6, rad); goal (3). Connecting: the driver waits for joint_states and the
services under `address` (the robot's namespace, e.g. /wx250s), checks get_robot_info, sets the operating
modes and torques the motors on. Tested against tmrl_ros.widowx_sim_node.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import rclpy
from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
from interbotix_xs_msgs.srv import OperatingModes, RegisterValues, RobotInfo, TorqueEnable
from rclpy.executors import SingleThreadedExecutor
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState

from tmrl_learning.data.envs import StepResult
from tmrl_learning.embodiment import Embodiment
from tmrl_learning.robots import widowx_arm as arm
from tmrl_learning.robots.ee_delta import EndEffectorTarget
from tmrl_learning.robots.paced_driver import PacedDriver
from tmrl_learning.system.safety import SafetyLimits

GRIPPER_DOWN = Rotation.from_euler("y", np.pi / 2)  # the fingers point at the table


@dataclass
class WidowXOptions:
    """Device options (the driver node's `device_options`)."""

    control_period_s: float = 0.2       # BridgeData's 5 Hz
    translation_step: float = 0.02      # m per action unit
    rotation_step: float = 0.1          # rad per action unit
    reset_moving_time_s: float = 1.5    # profile of the moves to home and to the start
    gripper_pwm: float = 350.0          # the toolbox's PWM range is 150-350
    reset_radius: float = 0.0           # m: random start offset in x, y
    connect_timeout_s: float = 5.0
    arrival_tolerance: float = 0.03     # rad: a reset move has arrived
    home_joints: tuple[float, ...] = tuple(arm.HOME)
    sleep_on_close: bool = True         # send the arm to its sleep pose when the driver closes (as Interbotix does)


class WidowXDriver(PacedDriver):
    Options, device = WidowXOptions, "WidowX"

    def __init__(self, embodiment: Embodiment, seed: int = 0, control_period_s: float = 0.0,
                 safety: SafetyLimits | None = None, address: str = "/wx250s", **options):
        super().__init__(embodiment, options, control_period_s, safety)
        self.address = "/" + address.strip("/")
        self.rng = np.random.default_rng(seed)
        self.node = self.executor = None
        self.joints: np.ndarray | None = None   # the latest joint_states, xs_sdk order
        self.names: list[str] = []
        self.commanded = np.asarray(self.options.home_joints, np.float64)
        self.target: EndEffectorTarget | None = None
        self.goal = np.zeros(embodiment.goal_dim)
        self.task_name, self.steps, self._gripper = "", 0, 0.0
        self._states = threading.Event()

    # ---- connection ---------------------------------------------------------------------------------
    def connect(self) -> None:
        """Reach the xs_sdk under `address`; ConnectionError naming what was missing."""
        if self.node is None:
            if not rclpy.ok():
                rclpy.init()
            self.node = rclpy.create_node(f"widowx_driver_{id(self) % 10**6}")
            a = self.address
            self.group = self.node.create_publisher(JointGroupCommand, f"{a}/commands/joint_group", 10)
            self.single = self.node.create_publisher(JointSingleCommand, f"{a}/commands/joint_single", 10)
            self.node.create_subscription(JointState, f"{a}/joint_states", self._on_states, 10)
            self.clients = {name: self.node.create_client(kind, f"{a}/{name}") for name, kind in (
                ("get_robot_info", RobotInfo), ("set_operating_modes", OperatingModes),
                ("torque_enable", TorqueEnable), ("set_motor_registers", RegisterValues))}
            self.executor = SingleThreadedExecutor()
            self.executor.add_node(self.node)
            threading.Thread(target=self.executor.spin, name="widowx_driver", daemon=True).start()
        timeout = self.options.connect_timeout_s
        if not self._states.wait(timeout):
            raise ConnectionError(f"no WidowX at {self.address}: no {self.address}/joint_states within {timeout} s "
                                  f"(is the Interbotix xs_sdk running, in this ROS domain?)")
        missing = [name for name, client in self.clients.items() if not client.wait_for_service(timeout_sec=timeout)]
        if missing:
            raise ConnectionError(f"the WidowX at {self.address} does not serve {missing}")
        info = self._call("get_robot_info", RobotInfo.Request(cmd_type="group", name="arm"))
        if tuple(info.joint_names) != arm.JOINTS:
            raise ConnectionError(f"the arm at {self.address} has joints {list(info.joint_names)}; this driver "
                                  f"drives a wx250s {list(arm.JOINTS)}")
        self._call("set_operating_modes", OperatingModes.Request(cmd_type="group", name="arm", mode="position",
                                                                 profile_type="time"))
        self._call("set_operating_modes", OperatingModes.Request(cmd_type="single", name="gripper", mode="pwm"))
        self._call("torque_enable", TorqueEnable.Request(cmd_type="group", name="all", enable=True))

    def _call(self, name: str, request):
        future = self.clients[name].call_async(request)
        deadline = time.monotonic() + self.options.connect_timeout_s
        while not future.done():
            if time.monotonic() > deadline:
                raise ConnectionError(f"{self.address}/{name} did not answer within {self.options.connect_timeout_s} s")
            time.sleep(0.005)
        return future.result()

    def _on_states(self, msg: JointState) -> None:
        if not self.names:
            self.names = list(msg.name)
            self.index = [self.names.index(n) for n in (*arm.JOINTS, "left_finger")]
        self.joints = np.asarray(msg.position, np.float64)
        self._states.set()

    def _set_profile(self, seconds: float) -> None:
        self._call("set_motor_registers", RegisterValues.Request(cmd_type="group", name="arm", reg="Profile_Velocity",
                                                                 value=int(seconds * 1000)))
        self._call("set_motor_registers", RegisterValues.Request(
            cmd_type="group", name="arm", reg="Profile_Acceleration", value=int(seconds * 250)))

    # ---- reading -----------------------------------------------------------------------------------
    def arm_joints(self) -> np.ndarray:
        return self.joints[self.index[:6]]

    def opening(self) -> float:
        lo, hi = arm.FINGER
        return float(np.clip((self.joints[self.index[6]] - lo) / (hi - lo), 0.0, 1.0))

    def _observe(self) -> np.ndarray:
        joints = self.arm_joints()
        return np.concatenate([arm.forward(joints)[:3, 3], [self.opening()], joints, self.goal]).astype(np.float32)

    # ---- the device ---------------------------------------------------------------------------------
    def _move_and_wait(self, joints: np.ndarray) -> None:
        self._publish(joints)
        deadline = time.monotonic() + self.options.reset_moving_time_s + 3.0
        while np.abs(self.arm_joints() - joints).max() > self.options.arrival_tolerance:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the WidowX did not reach {np.round(joints, 3).tolist()} (at "
                                   f"{np.round(self.arm_joints(), 3).tolist()}): blocked, or torque off?")
            time.sleep(0.02)

    def _publish(self, joints: np.ndarray) -> None:
        self.group.publish(JointGroupCommand(name="arm", cmd=[float(q) for q in joints]))
        self.commanded = np.asarray(joints, np.float64)

    def _grip(self, opening: float) -> None:
        sign = 1.0 if opening >= 0.5 else -1.0
        if sign != self._gripper:
            self.single.publish(JointSingleCommand(name="gripper", cmd=sign * self.options.gripper_pwm))
            self._gripper = sign

    def _start(self, seed: int) -> np.ndarray:
        self.connect()
        if seed >= 0:
            self.rng = np.random.default_rng(seed)
        opt = self.options
        self._set_profile(opt.reset_moving_time_s)
        self._gripper = 0.0
        self._grip(1.0)
        self._move_and_wait(np.asarray(opt.home_joints, np.float64))
        task = self.embodiment.tasks[self.rng.integers(len(self.embodiment.tasks))]
        angle, radius = self.rng.uniform(0, 2 * np.pi), opt.reset_radius * np.sqrt(self.rng.uniform())
        start = self.safety.workspace(np.asarray(task.start, np.float64)
                                      + radius * np.array([np.cos(angle), np.sin(angle), 0.0]))
        target = EndEffectorTarget(start, GRIPPER_DOWN, 1.0)
        joints = arm.inverse(self._pose(target), self.arm_joints())
        if joints is None:
            raise ValueError(f"task {task.name}: no joint solution reaches the start {start.tolist()}")
        self._move_and_wait(joints)
        self._set_profile(opt.control_period_s)
        self.target, self.goal, self.task_name, self.steps = target, np.asarray(task.goal, np.float64), task.name, 0
        self.clock.restart()
        return self._observe()

    @staticmethod
    def _pose(target: EndEffectorTarget) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = target.rotation.as_matrix(), target.position
        return pose

    def _act(self, action: np.ndarray) -> StepResult:
        opt = self.options
        target = self.target.moved(action, opt.translation_step, opt.rotation_step)
        target.position = self.safety.workspace(target.position)  # UnsafeAction if not finite
        joints = arm.inverse(self._pose(target), self.commanded)
        self.clock.wait_to_send()
        if joints is None:  # out of reach: hold the last pose
            self.safety.note_clip("no joint solution: held")
        elif np.any(np.abs(joints - self.commanded) > arm.VELOCITY * opt.control_period_s):
            self.safety.note_clip("joint velocity limit: held")  # e.g. IK jumping to another branch
        else:
            self._publish(joints)
            self.target = target
        self._grip(target.opening)
        self.clock.sent()
        self.clock.wait_to_read()
        obs = self._observe()
        self.steps += 1
        success = bool(np.linalg.norm(obs[:3] - self.goal) < self.embodiment.success_radius)
        return StepResult(obs, 0.0 if success else -1.0, success,
                          (not success) and self.steps >= self.embodiment.max_steps, success)

    def _halt(self) -> None:
        """Goal = the present position: the servos stop where they are."""
        if self.node is not None and self.joints is not None:
            self._publish(self.arm_joints())

    def close(self) -> None:
        super().close()
        if self.node is not None and self.joints is not None and self.options.sleep_on_close:
            try:
                self._set_profile(self.options.reset_moving_time_s)
                self._move_and_wait(arm.SLEEP)
            except (ConnectionError, RuntimeError) as err:  # closing anyway: say so
                self.node.get_logger().warning(f"the arm did not reach its sleep pose: {err}")
        if self.executor is not None:
            self.executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
            self.node = self.executor = None

    def _task_name(self) -> str:
        return self.task_name

    def _goal(self) -> np.ndarray:
        return self.goal
