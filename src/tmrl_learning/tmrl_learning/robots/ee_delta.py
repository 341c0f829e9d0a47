"""End-effector delta actions, as BridgeData (WidowX) and DROID (Franka) command arms: an action in
[-1, 1]^7 is (dx, dy, dz, droll, dpitch, dyaw, gripper). The first six move the commanded pose in the
robot's base frame by `translation_step` m and `rotation_step` rad per unit; the gripper value is
absolute: (g + 1) / 2 is the opening, 1 = fully open. The target integrates the commands (not the
measured pose), so a slow arm does not make the commands drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

ACTION_DIM = 7


@dataclass
class EndEffectorTarget:
    position: np.ndarray      # (3,) m, base frame
    rotation: Rotation        # orientation, base frame
    opening: float = 1.0      # gripper, 0 closed .. 1 open

    @classmethod
    def at(cls, position, quaternion_xyzw, opening: float = 1.0) -> EndEffectorTarget:
        return cls(np.asarray(position, np.float64).copy(), Rotation.from_quat(quaternion_xyzw), float(opening))

    @property
    def quaternion(self) -> np.ndarray:
        """(x, y, z, w)"""
        return self.rotation.as_quat()

    def moved(self, action: np.ndarray, translation_step: float, rotation_step: float) -> EndEffectorTarget:
        """The target after one action (not yet clipped into a workspace)."""
        action = np.asarray(action, np.float64)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"an end-effector delta action has {ACTION_DIM} values, got shape {action.shape}")
        turn = Rotation.from_rotvec(action[3:6] * rotation_step)
        return EndEffectorTarget(self.position + action[:3] * translation_step, turn * self.rotation,
                                 float(np.clip((action[6] + 1.0) / 2.0, 0.0, 1.0)))
