"""A LIBERO task as a tmrl GoalEnv, run by the simulated bridge like any other: the environment lives in
a LIBERO server process (libero.client), started on the first reset and ended by close().

The embodiment's `env_id` is "SUITE/INDEX" (e.g. "libero_90/51"); its tasks are LIBERO's fixed init
states ("init-17": start = (17,)). Observation (15): the robot's proprioception (9: end-effector position,
quaternion, finger positions), the object's position (3), then the goal, the target's position (3) (the
task's `obj_of_interest`: [object, target], privileged). Success is LIBERO's own check. An embodiment with
`cameras` has them rendered (upright) with every observation: `images()`. The embodiment's `instruction`
must be LIBERO's own language for the task (checked when the server starts).
"""

from __future__ import annotations

import numpy as np

from tmrl_learning.data.envs import GoalEnv
from tmrl_learning.embodiment import Embodiment, Task
from tmrl_learning.libero.client import LiberoProcess


class LiberoGoalEnv(GoalEnv):
    def __init__(self, embodiment: Embodiment, seed: int = 0, tasks: tuple[Task, ...] = ()):
        super().__init__(embodiment, seed, tasks)
        suite, _, index = embodiment.env_id.partition("/")
        self.suite, self.index = suite, int(index)
        self.process: LiberoProcess | None = None
        self.success = False
        self._images: dict[str, np.ndarray] = {}

    def _observe(self, raw: dict) -> np.ndarray:
        obj, target = self.process.objects
        self._images = raw.get("images", {})
        return np.concatenate([raw["proprio"], raw["positions"][obj], raw["positions"][target]]).astype(np.float32)

    def _reset_task(self, task: Task, seed: int) -> np.ndarray:
        if self.process is None:
            spec = self.embodiment
            self.process = LiberoProcess(self.suite, self.index, spec.image_size, spec.cameras)
            language = self.process.language
            if spec.instruction and spec.instruction != language.lower():
                self.close()
                raise ValueError(f"{spec.name}: the instruction {spec.instruction!r} is not LIBERO's {language!r}")
        self.success = False
        return self._observe(self.process.reset(int(task.start[0])))

    def _step_raw(self, action: np.ndarray) -> np.ndarray:
        raw, _, self.success = self.process.step(action)
        return self._observe(raw)

    def _success(self) -> bool:
        return self.success

    def images(self) -> dict[str, np.ndarray]:
        return dict(self._images)

    def raw_positions(self) -> dict:
        """The last observation as the scripted demonstrator reads it (proprio and named positions)."""
        obs = np.asarray(self._obs)
        obj, target = self.process.objects
        return {"proprio": obs[:9], "positions": {obj: obs[9:12], target: obs[12:15]}}

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
