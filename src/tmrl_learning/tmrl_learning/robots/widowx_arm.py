"""The WidowX 250 6-DOF (Interbotix wx250s, BridgeData V2's arm): its published kinematics and limits,
forward and inverse kinematics, and a MuJoCo model of it for the simulated peer.

Numbers are Interbotix's (interbotix_xsarm_descriptions wx250s.urdf.xacro; interbotix_xs_modules
mr_descriptions.py): joint origins, limits, the product-of-exponentials description (M, Slist) with the
space frame at `base_link` and the end effector at `ee_gripper_link`, the sleep pose, and the fingers'
travel. Inverse kinematics is the toolbox's: `modern_robotics.IKinSpace` from a few initial guesses,
solutions wrapped into the joint limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import modern_robotics as mr
import numpy as np

JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
JOINT_STATE_NAMES = (*JOINTS, "gripper", "left_finger", "right_finger")  # xs_sdk's joint_states order
LOWER = np.array([-np.pi + 1e-5, np.radians(-108), np.radians(-123), -np.pi + 1e-5, np.radians(-100), -np.pi + 1e-5])
UPPER = np.array([np.pi - 1e-5, np.radians(114), np.radians(92), np.pi - 1e-5, np.radians(123), np.pi - 1e-5])
VELOCITY = np.full(6, np.pi)                        # rad/s
EFFORT = np.array([10.0, 20.0, 15.0, 2.0, 5.0, 1.0])  # N m
SLEEP = np.array([0.0, -1.80, 1.55, 0.0, 0.8, 0.0])
HOME = np.zeros(6)                                  # end effector at (0.458325, 0, 0.36065), level
FINGER = (0.015, 0.037)                             # left_finger travel, m (right_finger mirrors it)
HORN_RADIUS, ARM_LENGTH = 0.014, 0.024              # the gripper's linkage, m
M = np.array([[1.0, 0, 0, 0.458325], [0, 1, 0, 0], [0, 0, 1, 0.36065], [0, 0, 0, 1]])
SLIST = np.array([[0, 0, 1, 0, 0, 0], [0, 1, 0, -0.11065, 0, 0], [0, 1, 0, -0.36065, 0, 0.04975],
                  [1, 0, 0, 0, 0.36065, 0], [0, 1, 0, -0.36065, 0, 0.29975], [1, 0, 0, 0, 0.36065, 0]],
                 dtype=np.float64).T


def forward(joints: np.ndarray) -> np.ndarray:
    """Joint positions (6,) -> the end effector's pose (4x4) in the base frame."""
    return mr.FKinSpace(M, SLIST, np.asarray(joints, np.float64))


def within_limits(joints: np.ndarray) -> bool:
    return bool(np.all(joints >= LOWER) and np.all(joints <= UPPER))


def inverse(pose: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray | None:
    """A 4x4 pose -> joint positions within the limits reaching it (to 1 mm / 1 mrad), or None. Tries the
    guess first (the current joints: the nearest solution), then the toolbox's guesses."""
    guesses = [np.asarray(guess, np.float64)] if guess is not None else []
    guesses += [np.array([w, 0, 0, 0, 0, 0.0]) for w in (0.0, -2 * np.pi / 3, 2 * np.pi / 3)]
    for start in guesses:
        theta, ok = mr.IKinSpace(SLIST, M, pose, start, 0.001, 0.001)
        if not ok:
            continue
        theta = (np.asarray(theta) + np.pi) % (2 * np.pi) - np.pi  # wrap, then shift back into the limits
        theta = np.where(theta < LOWER, theta + 2 * np.pi, np.where(theta > UPPER, theta - 2 * np.pi, theta))
        if within_limits(theta):
            return theta
    return None


def finger_from_gripper_angle(angle: float) -> float:
    """The gripper servo's angle (rad) -> left_finger's position (m), by the horn-and-arm linkage."""
    a = np.pi / 2 - angle
    return float(HORN_RADIUS * np.cos(a) + np.sqrt(max(ARM_LENGTH ** 2 - (HORN_RADIUS * np.sin(a)) ** 2, 0.0)))


def gripper_angle_from_finger(finger: float) -> float:
    """Inverse of `finger_from_gripper_angle` (the xs_sdk's linear_position conversion)."""
    x = float(np.clip(finger, 1e-4, HORN_RADIUS + ARM_LENGTH))
    c = (HORN_RADIUS ** 2 + x ** 2 - ARM_LENGTH ** 2) / (2 * HORN_RADIUS * x)
    return float(np.pi / 2 - np.arccos(np.clip(c, -1.0, 1.0)))


@dataclass(frozen=True)
class Link:
    name: str
    joint: str
    origin: tuple[float, float, float]
    axis: tuple[int, int, int]
    length: tuple[float, float, float]   # the capsule from the joint to the next joint (collision and mass)
    mass: float


# Joint origins from the URDF (xyz in the parent frame); masses roughly Interbotix's.
LINKS = (Link("shoulder_link", "waist", (0, 0, 0.072), (0, 0, 1), (0, 0, 0.03865), 0.48),
         Link("upper_arm_link", "shoulder", (0, 0, 0.03865), (0, 1, 0), (0.04975, 0, 0.25), 0.43),
         Link("upper_forearm_link", "elbow", (0.04975, 0, 0.25), (0, 1, 0), (0.175, 0, 0), 0.23),
         Link("lower_forearm_link", "forearm_roll", (0.175, 0, 0), (1, 0, 0), (0.075, 0, 0), 0.22),
         Link("wrist_link", "wrist_angle", (0.075, 0, 0), (0, 1, 0), (0.065, 0, 0), 0.08),
         Link("gripper_link", "wrist_rotate", (0.065, 0, 0), (1, 0, 0), (0.066, 0, 0), 0.07))
EE_OFFSET = 0.093575     # wrist_rotate joint -> ee_gripper_link along x (0.043 + 0.023 + 0.027575)
FINGERS_OFFSET = 0.066   # wrist_rotate joint -> fingers_link (0.043 + 0.023)


def mjcf() -> str:
    """The arm as a MuJoCo model: the URDF's chain, position servos with the joints' limits (the
    Dynamixels in position mode), and the two fingers on slides coupled like the linkage."""
    bodies, close = [], []
    for i, link in enumerate(LINKS):
        lo, hi = LOWER[i], UPPER[i]
        bodies.append(f'<body name="{link.name}" pos="{" ".join(map(str, link.origin))}">'
                      f'<joint name="{link.joint}" axis="{" ".join(map(str, link.axis))}" range="{lo} {hi}" '
                      f'damping="0.5" armature="0.01"/>'
                      f'<geom type="capsule" fromto="0 0 0 {" ".join(map(str, link.length))}" size="0.02" '
                      f'mass="{link.mass}" contype="0" conaffinity="0"/>')
        close.append("</body>")
    fingers = (f'<body name="fingers_link" pos="{FINGERS_OFFSET} 0 0">'
               f'<site name="ee_gripper" pos="{EE_OFFSET - FINGERS_OFFSET} 0 0" size="0.005"/>'
               f'<body name="left_finger_link"><joint name="left_finger" type="slide" axis="0 1 0" '
               f'range="{FINGER[0]} {FINGER[1]}" damping="5"/><geom type="box" size="0.02 0.005 0.01" '
               f'pos="0.02 0 0" mass="0.02"/></body>'
               f'<body name="right_finger_link"><joint name="right_finger" type="slide" axis="0 1 0" '
               f'range="{-FINGER[1]} {-FINGER[0]}" damping="5"/><geom type="box" size="0.02 0.005 0.01" '
               f'pos="0.02 0 0" mass="0.02"/></body></body>')
    servos = "".join(f'<position name="{j}" joint="{j}" kp="600" kv="15" ctrlrange="{LOWER[i]} {UPPER[i]}" '
                     f'forcerange="{-EFFORT[i]} {EFFORT[i]}"/>' for i, j in enumerate(JOINTS))
    return f"""<mujoco model="wx250s">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002" integrator="implicitfast"/>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01" pos="0 0 0"/>
    <body name="base_link">{''.join(bodies)}{fingers}{''.join(close)}</body>
  </worldbody>
  <equality><joint joint1="right_finger" joint2="left_finger" polycoef="0 -1 0 0 0"/></equality>
  <actuator>{servos}<position name="left_finger" joint="left_finger" kp="200" kv="5"
    ctrlrange="{FINGER[0]} {FINGER[1]}"/></actuator>
</mujoco>"""
