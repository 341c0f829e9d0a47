"""The Franka driver: a Franka Research 3 / Panda through franky (libfranka underneath), commanded with
DROID-style end-effector delta actions (robots.ee_delta) at a fixed control rate.

Each action moves the commanded pose (clipped into the workspace box by the safety step) and starts
an asynchronous Cartesian motion to it, which replaces the one still running; commands go out on the
control clock's grid and the observation is read just before the next tick (robots.control_clock).
The gripper moves on a thread of its own (robots.franka_gripper). Reset: recover from errors, wait for
the arm to come to rest, open the gripper while going to the home joints, then to the task's start
(plus a random offset within `reset_radius` in x, y). A reflex or a motion error during a chunk is recovered
from and cuts the episode (truncated).

State (11): end-effector position (3, m), gripper width (1, m), joint positions (7, rad); goal (3): the
position to reach. Tested against `franky-sim`, which serves libfranka's network protocol over MuJoCo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tmrl_learning.data.envs import StepResult
from tmrl_learning.embodiment import Embodiment
from tmrl_learning.robots.ee_delta import EndEffectorTarget
from tmrl_learning.robots.franka_gripper import GripperCommander
from tmrl_learning.robots.paced_driver import PacedDriver
from tmrl_learning.system.safety import SafetyLimits

SETTLED_JOINT_SPEED = 0.01  # rad/s: every joint slower than this is an arm at rest


@dataclass
class FrankaOptions:
    """Device options (the driver node's `device_options`)."""

    control_period_s: float = 1 / 15      # DROID's control rate, 15 Hz
    translation_step: float = 0.01        # m per action unit
    rotation_step: float = 0.05           # rad per action unit
    home_joints: tuple[float, ...] = (0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4)
    dynamics_factor: float = 0.15         # of the robot's velocity/acceleration/jerk limits, during chunks
    reset_dynamics_factor: float = 0.1    # ... during resets
    reset_radius: float = 0.0             # m: random start offset in x, y
    gripper_speed: float = 0.1            # m/s
    gripper_deadband: float = 0.1         # change of opening (0..1) before the gripper is commanded again
    gripper_timeout_s: float = 5.0        # a reset waits this long for the gripper to open
    settle_timeout_s: float = 2.0         # a reset waits this long for the arm to come to rest before planning
    realtime: bool = True                 # libfranka's realtime check; off only for a simulator peer


class FrankaDriver(PacedDriver):
    Options, device = FrankaOptions, "Franka"

    def __init__(self, embodiment: Embodiment, seed: int = 0, control_period_s: float = 0.0,
                 safety: SafetyLimits | None = None, address: str = "", **options):
        if not address:
            raise ValueError("the Franka driver needs the robot's address (the driver node's `address`)")
        super().__init__(embodiment, options, control_period_s, safety)
        self.address = address
        self.rng = np.random.default_rng(seed)
        self.robot = self.gripper = self.hand = None
        self.target: EndEffectorTarget | None = None
        self.goal = np.zeros(embodiment.goal_dim)
        self.task_name = ""
        self.steps = 0
        self._gripper_opening = None

    # ---- connection ---------------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect to the arm and the gripper; ConnectionError naming the address if it cannot."""
        if self.robot is not None:
            return
        import franky

        realtime = franky.RealtimeConfig.Enforce if self.options.realtime else franky.RealtimeConfig.Ignore
        try:
            robot = franky.Robot(self.address, realtime_config=realtime)
            gripper = franky.Gripper(self.address)
        except franky.Exception as err:
            raise ConnectionError(f"could not reach the Franka at {self.address}: {err}") from err
        self.robot, self.gripper = robot, gripper
        self.hand = GripperCommander(gripper, self.options.gripper_speed)

    # ---- the device ---------------------------------------------------------------------------------
    def _start(self, seed: int) -> np.ndarray:
        import franky

        self.connect()
        if seed >= 0:
            self.rng = np.random.default_rng(seed)
        robot, opt = self.robot, self.options
        try:
            robot.join_motion()  # the last chunk's motion: a halted or failed one reports it here
        except (franky.Exception, RuntimeError):
            pass
        if robot.has_errors:
            robot.recover_from_errors()
        robot.relative_dynamics_factor = opt.reset_dynamics_factor
        self.hand.command(self.gripper.max_width)  # opens while the arm goes home
        self._gripper_opening = 1.0
        self._move_retrying(lambda: franky.JointMotion(np.asarray(opt.home_joints, np.float64)))
        if not self.hand.wait(opt.gripper_timeout_s):
            raise RuntimeError(f"the Franka gripper at {self.address} did not open within {opt.gripper_timeout_s} s")
        task = self.embodiment.tasks[self.rng.integers(len(self.embodiment.tasks))]
        angle, radius = self.rng.uniform(0, 2 * np.pi), opt.reset_radius * np.sqrt(self.rng.uniform())
        start = np.asarray(task.start, np.float64) + radius * np.array([np.cos(angle), np.sin(angle), 0.0])
        start = self.safety.workspace(start)
        home = robot.current_pose.end_effector_pose
        self._move_retrying(lambda: franky.CartesianMotion(franky.Affine(start, home.quaternion),
                                                           franky.ReferenceType.Absolute))
        pose = robot.current_pose.end_effector_pose
        self.target = EndEffectorTarget.at(pose.translation, pose.quaternion)
        robot.relative_dynamics_factor = opt.dynamics_factor
        self.goal, self.task_name, self.steps = np.asarray(task.goal, np.float64), task.name, 0
        self.clock.restart()
        return self._observe()

    def _move_retrying(self, make_motion, attempts: int = 3) -> None:
        """A reset motion (`make_motion()`: franky motions run once); a planner failure or a reflex (seen while
        the arm still settles from a halted chunk) is recovered from and a new motion tried."""
        import franky

        for attempt in range(attempts):
            self._settle()
            try:
                self.robot.move(make_motion())
                return
            except (franky.Exception, RuntimeError):
                if attempt + 1 == attempts:
                    raise
                self.robot.recover_from_errors()
                time.sleep(0.2)

    def _settle(self) -> None:
        """Wait (up to settle_timeout_s) until the arm is at rest: a motion planned from a moving state after a
        halted chunk is what the planner refused (ruckig -111)."""
        deadline = time.monotonic() + self.options.settle_timeout_s
        while (np.abs(self.robot.current_joint_velocities).max() > SETTLED_JOINT_SPEED
               and time.monotonic() < deadline):
            time.sleep(0.05)

    def _observe(self) -> np.ndarray:
        position = self.robot.current_pose.end_effector_pose.translation
        joints = self.robot.current_joint_positions
        return np.concatenate([position, [self.gripper.width], joints, self.goal]).astype(np.float32)

    def _act(self, action: np.ndarray) -> StepResult:
        import franky

        opt = self.options
        target = self.target.moved(action, opt.translation_step, opt.rotation_step)
        target.position = self.safety.workspace(target.position)  # UnsafeAction if not finite
        try:
            self.clock.wait_to_send()
            self.robot.move(franky.CartesianMotion(franky.Affine(target.position, target.quaternion),
                                                   franky.ReferenceType.Absolute), asynchronous=True)
            if abs(target.opening - self._gripper_opening) > opt.gripper_deadband:
                self.hand.command(target.opening * self.gripper.max_width)
                self._gripper_opening = target.opening
            self.target = target
            self.clock.sent()
            self.clock.wait_to_read()
            obs = self._observe()
        except (franky.Exception, RuntimeError):  # a reflex, a motion or planner error: recover, cut the episode
            self.robot.recover_from_errors()
            self.steps += 1
            return StepResult(self._observe(), -1.0, False, True, False)
        self.steps += 1
        success = bool(np.linalg.norm(obs[:3] - self.goal) < self.embodiment.success_radius)
        return StepResult(obs, 0.0 if success else -1.0, success,
                          (not success) and self.steps >= self.embodiment.max_steps, success)

    def close(self) -> None:
        super().close()
        if self.hand is not None:
            self.hand.close()
        self.robot = self.gripper = self.hand = None  # libfranka serves one controlling connection: let it go

    def _halt(self) -> None:
        if self.robot is not None:
            self.robot.stop()

    def _task_name(self) -> str:
        return self.task_name

    def _goal(self) -> np.ndarray:
        return self.goal
