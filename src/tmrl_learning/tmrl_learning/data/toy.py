"""LineWorld: a one-dimensional task small enough for tests, where the needed behaviour exists in
the demonstrations only under another context.

Demonstrations: context c = -1 -> action -0.8 (move left); c = +1 -> action +0.8 (move right).
Fine-tuning task: the agent is shown c = +1, but succeeds only by reaching x <= -0.6 (the left).
A policy conditioned on the clean context always moves right; one queried at a large context
timestep with a chosen context noise can be steered to the left mode.
"""

from __future__ import annotations

import numpy as np
import torch

from tmrl_learning.data.envs import GoalEnv
from tmrl_learning.embodiment import Embodiment, Task


class LineWorld(GoalEnv):
    """The RL observation is (x, shown context c); the policy's context is c; no proprio. The task's
    start and goal are x positions; the shown context is the goal the demonstrations would pair with
    the opposite direction."""

    step_size, shown_context = 0.4, 1.0

    def __init__(self, embodiment: Embodiment, seed: int = 0, tasks: tuple[Task, ...] = ()):
        super().__init__(embodiment, seed, tasks)
        self.x = 0.0

    def _reset_task(self, task: Task, seed: int) -> np.ndarray:
        self.x = float(task.start[0] + self.rng.uniform(-0.1, 0.1))
        self.goal_x = float(task.goal[0])
        return self._observe()

    def _observe(self) -> np.ndarray:
        return np.array([self.x, self.shown_context], np.float32)

    def _step_raw(self, action: np.ndarray) -> np.ndarray:
        self.x = float(np.clip(self.x + self.step_size * float(action[0]), -2.0, 2.0))
        return self._observe()

    def _success(self) -> bool:
        return self.x <= self.goal_x


def lineworld_demonstrations(n: int, generator: torch.Generator | None = None, horizon: int = 2):
    """(actions (n, H, 1), contexts (n, 1)) of the two demonstrated behaviours."""
    sign = torch.randint(0, 2, (n, 1), generator=generator).float() * 2 - 1
    actions = 0.8 * sign + 0.03 * torch.randn(n, 1, generator=generator)
    return actions.unsqueeze(1).expand(n, horizon, 1).contiguous(), sign
