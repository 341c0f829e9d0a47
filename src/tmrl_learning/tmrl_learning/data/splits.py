"""The out-of-distribution splits of the paper's state-based experiments, as named objects.

pointmaze-large-to-giant
    Pre-train on pointmaze-large-navigate; fine-tune and evaluate on pointmaze-giant with 4 tasks,
    one drawn per reset. These are the authors' tasks (start cell -> goal cell, (row, col)):
    (1,1)->(3,5), (3,8)->(5,12), (3,8)->(1,1), (5,9)->(3,8). The giant maze is 16 columns wide and the
    large one 12: goals beyond column 10 never occur in the training maze, and the corridors between
    these cells differ from the large maze's, so the pre-trained policy must extrapolate. Success
    radius 1.5 (OGBench's default is 1.0), 1000 steps, no start/goal jitter.

cube-single-heldout
    Pre-train on cube-single-play with every row whose cube x (qpos index 14) exceeds 0.4 m removed;
    evaluate 3 tasks whose goals lie in that held-out region (x = 0.525 m):
    (0.35, 0) -> (0.525, -0.1); (0.35, 0) -> (0.525, 0); (0.35, -0.1) -> (0.525, 0.1); z = 0.02 m.
    Success: cube within 0.04 m of the goal; 200 steps. The play data spans x 0.26-0.60, so the
    region x > 0.4 is seen by the simulator but never in the demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmrl_learning.data.dataset import Dataset


@dataclass(frozen=True)
class Task:
    name: str
    start: tuple[float, ...]  # pointmaze: start cell (row, col); cube: cube start (x, y, z) in m
    goal: tuple[float, ...]   # pointmaze: goal cell (row, col); cube: goal (x, y, z) in m


@dataclass(frozen=True)
class Split:
    name: str
    train_dataset: str        # the recipe/dataset name to pre-train on
    env_id: str               # the environment fine-tuning and evaluation run in
    tasks: tuple[Task, ...]
    success_radius: float
    max_steps: int

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"split {self.name} has no task {name!r}; tasks: {[t.name for t in self.tasks]}")

    def filter(self, dataset: Dataset) -> Dataset:
        """The training data this split allows (all of it, unless a region is held out)."""
        return dataset


@dataclass(frozen=True)
class HeldOutRegionSplit(Split):
    qpos_index: int = 14      # cube x in the cube-single qpos
    threshold: float = 0.4    # rows with qpos[:, qpos_index] > threshold are held out

    def in_heldout_region(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) > self.threshold

    def filter(self, dataset: Dataset) -> Dataset:
        if dataset.qpos is None or dataset.qpos.shape[1] <= self.qpos_index:
            raise ValueError(f"split {self.name} filters on qpos[:, {self.qpos_index}], which this dataset lacks")
        return dataset.subset(~self.in_heldout_region(dataset.qpos[:, self.qpos_index]))


POINTMAZE_LARGE_TO_GIANT = Split(
    name="pointmaze-large-to-giant",
    train_dataset="pointmaze-large-navigate",
    env_id="pointmaze-giant-v0",
    tasks=(Task("task1", (1, 1), (3, 5)), Task("task2", (3, 8), (5, 12)),
           Task("task3", (3, 8), (1, 1)), Task("task4", (5, 9), (3, 8))),
    success_radius=1.5,
    max_steps=1000,
)

CUBE_SINGLE_HELDOUT = HeldOutRegionSplit(
    name="cube-single-heldout",
    train_dataset="cube-single-play",
    env_id="cube-single-v0",
    tasks=(Task("heldout1", (0.35, 0.0, 0.02), (0.525, -0.1, 0.02)),
           Task("heldout2", (0.35, 0.0, 0.02), (0.525, 0.0, 0.02)),
           Task("heldout3", (0.35, -0.1, 0.02), (0.525, 0.1, 0.02))),
    success_radius=0.04,
    max_steps=200,
)

# In-distribution twins: tasks inside what the demonstrations cover, with the same observation layout
# and success rule. A pre-trained policy that fails these is broken or undertrained; one that solves
# them but not the split's own tasks shows the out-of-distribution gap the method is about.
POINTMAZE_LARGE = Split(
    name="pointmaze-large",
    train_dataset="pointmaze-large-navigate",
    env_id="pointmaze-large-v0",
    tasks=(Task("task1", (1, 1), (7, 10)), Task("task2", (5, 4), (7, 1)), Task("task3", (7, 4), (1, 10)),
           Task("task4", (3, 8), (5, 4)), Task("task5", (1, 1), (5, 4))),  # OGBench's large-maze tasks
    success_radius=1.5,
    max_steps=1000,
)

CUBE_IN_DISTRIBUTION = Task("indist1", (0.35, 0.1, 0.02), (0.35, -0.1, 0.02))

CUBE_SINGLE_INDIST = HeldOutRegionSplit(
    name="cube-single-indist",
    train_dataset="cube-single-play",
    env_id="cube-single-v0",
    tasks=(CUBE_IN_DISTRIBUTION,
           Task("indist2", (0.3, -0.1, 0.02), (0.38, 0.15, 0.02)),
           Task("indist3", (0.38, 0.0, 0.02), (0.3, 0.0, 0.02))),  # every x <= 0.4 m: seen in the data
    success_radius=0.04,
    max_steps=200,
)

SPLITS = {s.name: s for s in (POINTMAZE_LARGE_TO_GIANT, CUBE_SINGLE_HELDOUT, POINTMAZE_LARGE, CUBE_SINGLE_INDIST)}
IN_DISTRIBUTION = {POINTMAZE_LARGE_TO_GIANT.name: POINTMAZE_LARGE.name,
                   CUBE_SINGLE_HELDOUT.name: CUBE_SINGLE_INDIST.name}


def split(name: str) -> Split:
    if name not in SPLITS:
        raise KeyError(f"unknown split/task {name!r}; known: {sorted(SPLITS)}")
    return SPLITS[name]
