"""A simulated WidowX 250 6-DOF behind the Interbotix xs_sdk's interface, without ROS: the physics
(robots.widowx_arm's MuJoCo model), the servos' behaviour (position mode with a time profile, the gripper
in PWM mode, torque on/off, register values) and the answers of get_robot_info. `tmrl_ros.widowx_sim_node`
serves it over DDS with the xs_sdk's topics and services, so the WidowX driver runs its real code
path against it.

Behaviour copied from the xs_sdk (its simulator and its driver): a group command must have one value
per joint of the group; a position goal is reached along a linear profile lasting `profile_velocity`
ms (profile_type "time"); a PWM gripper command moves the fingers at a speed proportional to it (+
opens); torque off lets the arm fall under gravity; torque on holds the present position.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from tmrl_learning.robots import widowx_arm as arm

FINGER_SPEED = 0.04     # m/s at the largest PWM (885)
PWM_MAX = 885.0
JOINT_IDS = (1, 2, 4, 6, 7, 8)   # Dynamixel ids of the arm joints (wx250s); the gripper is 9


@dataclass
class Mode:
    mode: str = "position"
    profile_type: str = "time"
    profile_velocity: int = 2000
    profile_acceleration: int = 300


class CommandError(ValueError):
    """A command the xs_sdk would log as an error and not execute."""


class WidowXSim:
    def __init__(self, pose: np.ndarray = arm.SLEEP):
        self.model = mujoco.MjModel.from_xml_string(arm.mjcf())
        self.data = mujoco.MjData(self.model)
        self.data.qpos[:6] = pose
        self.data.qpos[6:8] = (0.0195, -0.0195)
        self.data.ctrl[:6] = pose
        self.data.ctrl[6] = 0.0195
        self._gains = (self.model.actuator_gainprm.copy(), self.model.actuator_biasprm.copy())
        mujoco.mj_forward(self.model, self.data)
        self.modes = {"arm": Mode(), "gripper": Mode("pwm", "velocity", 0, 0)}
        self.torque = np.ones(7, bool)        # arm joints, gripper
        self.profile: list[tuple[float, float, float, float] | None] = [None] * 6  # (from, to, t0, duration)
        self.finger_speed = 0.0

    @property
    def time(self) -> float:
        return float(self.data.time)

    # ---- commands (topics) -------------------------------------------------------------------------
    def _joints_of(self, cmd_type: str, name: str) -> list[int]:
        """Indices (0-5 arm, 6 gripper) of a group ('arm', 'all') or a single joint."""
        if cmd_type == "group":
            if name == "arm":
                return list(range(6))
            if name == "all":
                return list(range(7))
        elif cmd_type == "single":
            if name in arm.JOINTS:
                return [arm.JOINTS.index(name)]
            if name == "gripper":
                return [6]
        raise CommandError(f"unknown {cmd_type} {name!r}")

    def command_group(self, name: str, cmd) -> None:
        joints = self._joints_of("group", name)
        cmd = np.asarray(cmd, np.float64)
        if cmd.shape != (len(joints),):
            raise CommandError(f"group {name} has {len(joints)} joints, the command {cmd.size} values")
        for j, value in zip(joints, cmd, strict=True):
            self._command(j, float(value))

    def command_single(self, name: str, cmd: float) -> None:
        self._command(self._joints_of("single", name)[0], float(cmd))

    def _command(self, joint: int, value: float) -> None:
        if not np.isfinite(value):
            raise CommandError(f"command for joint {joint} is not finite")
        if joint == 6:  # the gripper, PWM mode
            self.finger_speed = float(np.clip(value / PWM_MAX, -1, 1)) * FINGER_SPEED
            return
        if not self.torque[joint]:
            return  # a servo without torque ignores goals
        goal = float(np.clip(value, arm.LOWER[joint], arm.UPPER[joint]))
        mode = self.modes["arm"]
        duration = mode.profile_velocity / 1000.0 if mode.profile_type == "time" else 0.0
        self.profile[joint] = (float(self.data.ctrl[joint]), goal, self.time, duration)

    # ---- services ----------------------------------------------------------------------------------
    def torque_enable(self, cmd_type: str, name: str, enable: bool) -> None:
        for j in self._joints_of(cmd_type, name):
            self.torque[j] = enable
            actuator = j
            gain, bias = self._gains
            self.model.actuator_gainprm[actuator] = gain[actuator] if enable else 0.0
            self.model.actuator_biasprm[actuator] = bias[actuator] if enable else 0.0
            if enable:  # hold the present position
                self.data.ctrl[actuator] = self.data.qpos[j] if j < 6 else self.data.qpos[6]
                if j < 6:
                    self.profile[j] = None
            elif j == 6:
                self.finger_speed = 0.0

    def reboot(self, cmd_type: str, name: str, enable: bool) -> None:
        self.torque_enable(cmd_type, name, enable)

    def set_operating_modes(self, cmd_type: str, name: str, mode: str, profile_type: str, velocity: int,
                            acceleration: int) -> None:
        key = "gripper" if self._joints_of(cmd_type, name) == [6] else "arm"
        self.modes[key] = Mode(mode, profile_type, int(velocity), int(acceleration))

    def set_register(self, cmd_type: str, name: str, reg: str, value: int) -> None:
        mode = self.modes["gripper" if self._joints_of(cmd_type, name) == [6] else "arm"]
        if reg == "Profile_Velocity":
            mode.profile_velocity = int(value)
        elif reg == "Profile_Acceleration":
            mode.profile_acceleration = int(value)
        else:
            raise CommandError(f"register {reg!r} is not simulated (Profile_Velocity, Profile_Acceleration)")

    def get_register(self, cmd_type: str, name: str, reg: str) -> list[int]:
        joints = self._joints_of(cmd_type, name)
        mode = self.modes["gripper" if joints == [6] else "arm"]
        values = {"Profile_Velocity": mode.profile_velocity, "Profile_Acceleration": mode.profile_acceleration}
        if reg not in values:
            raise CommandError(f"register {reg!r} is not simulated (Profile_Velocity, Profile_Acceleration)")
        return [values[reg]] * len(joints)

    def robot_info(self, cmd_type: str, name: str) -> dict:
        """What get_robot_info answers (with the URDF loaded, so limits are filled)."""
        joints = self._joints_of(cmd_type, name)
        arm_joints = [j for j in joints if j < 6]
        mode = self.modes["gripper" if joints == [6] else "arm"]
        names = [arm.JOINTS[j] for j in arm_joints] + (["left_finger"] if 6 in joints else [])
        return dict(mode=mode.mode, profile_type=mode.profile_type, joint_names=names,
                    joint_ids=[JOINT_IDS[j] for j in arm_joints] + ([9] if 6 in joints else []),
                    joint_lower_limits=[arm.LOWER[j] for j in arm_joints] + ([arm.FINGER[0]] if 6 in joints else []),
                    joint_upper_limits=[arm.UPPER[j] for j in arm_joints] + ([arm.FINGER[1]] if 6 in joints else []),
                    joint_velocity_limits=[arm.VELOCITY[j] for j in arm_joints] + ([1.0] if 6 in joints else []),
                    joint_sleep_positions=[arm.SLEEP[j] for j in arm_joints] + ([0.0195] if 6 in joints else []),
                    joint_state_indices=arm_joints + ([7] if 6 in joints else []),
                    num_joints=len(names), name=[name])

    # ---- time --------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Run the physics for `seconds` (in 2 ms steps), the servos following their profiles."""
        steps = max(int(round(seconds / self.model.opt.timestep)), 0)
        for _ in range(steps):
            t = self.time
            for j, profile in enumerate(self.profile):
                if profile is not None:
                    start, goal, t0, duration = profile
                    f = 1.0 if duration <= 0 else min((t - t0) / duration, 1.0)
                    self.data.ctrl[j] = start + f * (goal - start)
                    if f >= 1.0:
                        self.profile[j] = None
            if self.torque[6] and self.finger_speed:
                self.data.ctrl[6] = float(np.clip(self.data.ctrl[6] + self.finger_speed * self.model.opt.timestep,
                                                  *arm.FINGER))
            mujoco.mj_step(self.model, self.data)

    def joint_states(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(names, positions, velocities, efforts) in the xs_sdk's joint_states order."""
        q, v = self.data.qpos, self.data.qvel
        finger = float(q[6])
        positions = np.array([*q[:6], arm.gripper_angle_from_finger(finger), finger, -finger])
        velocities = np.array([*v[:6], 0.0, 0.0, 0.0])
        efforts = np.array([*self.data.actuator_force[:6], 0.0, 0.0, 0.0])
        return list(arm.JOINT_STATE_NAMES), positions, velocities, efforts
