"""What a task or robot is, to everything that learns on it: one `Embodiment` per task.

The RL observation is the state followed by the goal, `(obs_dim,) = state (obs_dim - goal_dim) ++ goal
(goal_dim)`. Two index ranges of it are what the pre-trained policy sees: the *context* (the part CSP
noises) and the *proprio* (un-noised conditioning). A dataset row holds the state; its goal is
relabelled from the episode (`achieved_goal` says where a row records the goal it achieves). The
simulated environment comes from `make_env`, a robot's driver from `make_driver_fn`. Nothing else in
the code branches on a task's name: a new task or robot is one more `Embodiment` in `tmrl_learning.tasks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Task:
    """One evaluation task: a start and a goal in the embodiment's own terms (pointmaze: cells
    (row, col); cube: positions (x, y, z) in m)."""

    name: str
    start: tuple[float, ...]
    goal: tuple[float, ...]


@dataclass(frozen=True)
class HeldOutRegion:
    """Dataset rows whose `qpos[:, index]` exceeds `threshold` are held out of pre-training."""

    qpos_index: int
    threshold: float

    def contains(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values) > self.threshold

    def filter(self, dataset):
        if dataset.qpos is None or dataset.qpos.shape[1] <= self.qpos_index:
            raise ValueError(f"the held-out filter reads qpos[:, {self.qpos_index}], which this dataset lacks")
        return dataset.subset(~self.contains(dataset.qpos[:, self.qpos_index]))


@dataclass(frozen=True)
class Embodiment:
    name: str
    obs_dim: int                                   # the RL observation: state ++ goal
    goal_dim: int
    action_dim: int
    context: tuple[int, int]                       # [start, stop) of the RL observation: what CSP noises
    proprio: tuple[int, int]                       # [start, stop): un-noised conditioning (may be empty)
    max_steps: int                                 # episode limit, in environment steps
    success_radius: float                          # goal reached within this distance (task units)
    tasks: tuple[Task, ...]                        # evaluation tasks, one drawn per reset
    make_env_fn: Callable[..., Any] | None = None  # (embodiment, seed, tasks) -> its simulated GoalEnv
                                                   # (None: a robot, no simulator)
    action_bounds: tuple[float, float] = (-1.0, 1.0)
    env_id: str = ""                               # the simulator environment, where there is one
    train_dataset: str = ""                        # recipe of the pre-training data ("" = bags only)
    achieved_goal: tuple[str, int, int] | None = None  # (dataset array, start, stop): the goal a row achieves
    rest: tuple[int, float] | None = None          # (qpos index of an object's height, most height at rest) in m
    heldout: HeldOutRegion | None = None           # pre-training data left out (the out-of-distribution gap)
    in_distribution: str = ""                      # the twin whose tasks the data covers (sanity checks)
    make_driver_fn: Callable[..., Any] | None = None  # (embodiment, seed, **options) -> a robot's driver;
                                                      # None: the simulator's (system.driver.SimDriver)
    max_envs: int = 0                              # most environments an evaluation holds at once (0: no
                                                   # limit); a LIBERO env is a ~1.2 GB server process,
                                                   # a cube simulator ~150 MB
    instruction: str = ""                          # the task in words: a VLA's language input
    cameras: tuple[str, ...] = ()                  # cameras the simulator renders with every observation
                                                   # (an image policy's input; the driver publishes them)
    image_size: int = 128                          # their side, in pixels

    def __post_init__(self) -> None:
        for what, (start, stop) in (("context", self.context), ("proprio", self.proprio)):
            if not 0 <= start <= stop <= self.obs_dim:
                raise ValueError(f"{self.name}: {what} range [{start}, {stop}) is not inside the "
                                 f"{self.obs_dim}-D observation")
        if not 0 <= self.goal_dim <= self.obs_dim:
            raise ValueError(f"{self.name}: goal_dim {self.goal_dim} outside [0, {self.obs_dim}]")

    # ---- dimensions --------------------------------------------------------------------------------
    @property
    def context_dim(self) -> int:
        return self.context[1] - self.context[0]

    @property
    def proprio_dim(self) -> int:
        return self.proprio[1] - self.proprio[0]

    @property
    def state_dim(self) -> int:
        return self.obs_dim - self.goal_dim

    # ---- observations ------------------------------------------------------------------------------
    def split_observation(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RL observations (..., obs_dim) -> (context (..., C), proprio (..., P))."""
        obs = np.asarray(obs)
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(f"observation has {obs.shape[-1]} values, {self.name} expects {self.obs_dim}")
        return obs[..., self.context[0]:self.context[1]], obs[..., self.proprio[0]:self.proprio[1]]

    def rl_observation(self, rows: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Dataset rows (..., >= state_dim) and their goals (..., goal_dim) -> RL observations."""
        return np.concatenate([np.asarray(rows)[..., :self.state_dim], goal], -1)

    # ---- pre-training data -------------------------------------------------------------------------
    def goal_of(self, dataset, rows: np.ndarray) -> np.ndarray:
        """(len(rows), goal_dim): the goal each dataset row achieves."""
        if self.achieved_goal is None:
            raise ValueError(f"{self.name} does not say where a dataset row records its goal")
        array, start, stop = self.achieved_goal
        values = getattr(dataset, array)
        if values is None:
            raise ValueError(f"{self.name} reads goals from the dataset's {array}, which this dataset lacks")
        return values[rows, start:stop]

    def resting(self, dataset) -> np.ndarray:
        """(N,) bool: rows where the task's object rests (goal_relabel "rest")."""
        if self.rest is None or dataset.qpos is None:
            raise ValueError(f"{self.name} defines no resting object: goal_relabel 'rest' does not apply")
        index, height = self.rest
        return dataset.qpos[:, index] <= height

    def filter(self, dataset):
        """The part of `dataset` this embodiment pre-trains on."""
        return self.heldout.filter(dataset) if self.heldout is not None else dataset

    # ---- tasks and environments --------------------------------------------------------------------
    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"{self.name} has no task {name!r}; tasks: {[t.name for t in self.tasks]}")

    def make_env(self, seed: int = 0, tasks: list[str] | None = None):
        """The environment (or driver) for this embodiment, drawing from `tasks` (default: all)."""
        if self.make_env_fn is None:
            raise ValueError(f"{self.name} has no simulated environment (a robot): it runs through its driver")
        chosen = tuple(self.task(n) for n in tasks) if tasks else self.tasks
        return self.make_env_fn(self, seed, chosen)
