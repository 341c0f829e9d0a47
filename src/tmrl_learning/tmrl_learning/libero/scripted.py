"""A scripted pick-and-place demonstrator for LIBERO tasks of the form "put OBJECT in/on TARGET", reading
the simulator's privileged object positions (the task's `obj_of_interest`: [object, target]).

Phases: above the object, down to it, close, lift, above the target, lower, open. Actions are LIBERO's
OSC_POSE deltas (position part = gain x error, clipped to [-1, 1]; no rotation; gripper -1 open, +1
closed). Each phase has a step budget, so a missed grasp moves on instead of hanging. `noise` adds
Gaussian action noise for varied demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPEN, CLOSED = -1.0, 1.0


@dataclass
class PickPlaceScript:
    obj: str
    target: str
    gain: float = 10.0
    hover: float = 0.10        # m above the object before going down
    carry: float = 0.18        # m above the target while carrying
    release: float = 0.10      # m above the target where the gripper opens
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.reset()

    def reset(self) -> None:
        self.phase, self.count = 0, 0

    def _go(self, eef: np.ndarray, target: np.ndarray, grip: float) -> np.ndarray:
        action = np.zeros(7)
        action[:3] = np.clip(self.gain * (target - eef), -1.0, 1.0)
        action[6] = grip
        if self.noise:
            action[:3] = np.clip(action[:3] + self.rng.normal(0.0, self.noise, 3), -1.0, 1.0)
        return action

    def _next(self, done: bool, budget: int) -> None:
        self.count += 1
        if done or self.count >= budget:
            self.phase, self.count = self.phase + 1, 0

    def act(self, observation: dict) -> np.ndarray:
        eef = np.asarray(observation["proprio"][:3], np.float64)
        obj, target = observation["positions"][self.obj], observation["positions"][self.target]
        phase = self.phase
        if phase == 0:    # above the object
            goal, grip = obj + [0, 0, self.hover], OPEN
            self._next(np.linalg.norm(goal - eef) < 0.01, 60)
        elif phase == 1:  # down to it
            goal, grip = obj.copy(), OPEN
            self._next(np.linalg.norm(goal - eef) < 0.008, 30)
        elif phase == 2:  # close
            goal, grip = obj.copy(), CLOSED
            self._next(False, 12)
        elif phase == 3:  # lift straight up
            goal, grip = np.array([eef[0], eef[1], target[2] + self.carry]), CLOSED
            self._next(eef[2] > target[2] + self.carry - 0.03, 40)
        elif phase == 4:  # above the target
            goal, grip = target + [0, 0, self.carry], CLOSED
            self._next(np.linalg.norm((goal - eef)[:2]) < 0.01, 60)
        elif phase == 5:  # lower
            goal, grip = target + [0, 0, self.release], CLOSED
            self._next(np.linalg.norm(goal - eef) < 0.02, 30)
        else:             # open and wait
            goal, grip = target + [0, 0, self.release], OPEN
        return self._go(eef, goal, grip)
