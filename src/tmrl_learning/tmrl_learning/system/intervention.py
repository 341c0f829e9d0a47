"""A human's intervention from a joystick-like input (sensor_msgs/Joy: a SpaceMouse through the spacenav
driver, a gamepad through joy): while the dead-man button is held, the axes make an action that replaces
the policy's; releasing the button hands control back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JoyMapping:
    axes: tuple[int, ...]              # the Joy axis driving each action component (-1: none, the value is 0)
    scale: tuple[float, ...]           # per component: action = clip(scale * axis, -1, 1)
    deadman_button: int = 0            # held: the human drives
    gripper_index: int = -1            # the action component of the gripper (-1: none)
    gripper_button: int = -1           # pressed: close (-1), else open (+1)

    def __post_init__(self) -> None:
        if len(self.axes) != len(self.scale):
            raise ValueError(f"intervention mapping: {len(self.axes)} axes but {len(self.scale)} scales")
        if self.gripper_index >= len(self.axes):
            raise ValueError(f"gripper_index {self.gripper_index} outside the {len(self.axes)}-D action")

    @property
    def action_dim(self) -> int:
        return len(self.axes)

    def action(self, axes, buttons) -> np.ndarray | None:
        """-> the human's action, or None while the dead-man button is released (or missing)."""
        if not 0 <= self.deadman_button < len(buttons) or not buttons[self.deadman_button]:
            return None
        values = np.array([axes[i] if 0 <= i < len(axes) else 0.0 for i in self.axes], np.float64)
        action = np.clip(values * np.asarray(self.scale), -1.0, 1.0)
        if self.gripper_index >= 0:
            pressed = 0 <= self.gripper_button < len(buttons) and bool(buttons[self.gripper_button])
            action[self.gripper_index] = -1.0 if pressed else 1.0
        return action
