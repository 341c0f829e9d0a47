"""Training samples for CSP from an OGBench-layout dataset: action chunks with their context.

For row i of an episode: the chunk is actions[i : i + H] (padded with the episode's last action),
the goal is relabelled from the same episode (its last row, as the authors do; a random future row;
or, for an object task, the last row where the object rests), and the context/proprio are cut from the
RL observation (state ++ goal) as the task's `Embodiment` says.
"""

from __future__ import annotations

import numpy as np
import torch

from tmrl_learning.data.dataset import Dataset
from tmrl_learning.embodiment import Embodiment

GOAL_RELABELS = ("final", "future", "rest")


def last_resting_rows(resting: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(N,) for each row, the last row of its episode/segment where the object rests; the segment's
    last row where it never rests. A segment of filtered play data ends wherever the object crossed
    the filter's boundary, often in the air: its resting place is the goal a demonstrator reached."""
    starts = np.concatenate([[0], ends[:-1] + 1])
    rest_rows = np.flatnonzero(resting)
    last = np.searchsorted(rest_rows, ends, side="right") - 1
    goal = ends.copy()
    ok = last >= 0
    ok[ok] = rest_rows[last[ok]] >= starts[ok]
    goal[ok] = rest_rows[last[ok]]
    segment = np.searchsorted(ends, np.arange(len(resting)))
    return goal[segment]


class ChunkSampler:
    """Random batches (actions (B, H, d), context (B, C), proprio (B, P)) from a dataset."""

    def __init__(self, dataset: Dataset, spec: Embodiment, horizon: int, goal_relabel: str = "final", seed: int = 0):
        if goal_relabel not in GOAL_RELABELS:
            raise ValueError(f"goal_relabel must be one of {GOAL_RELABELS}, got {goal_relabel!r}")
        if dataset.actions.shape[1] != spec.action_dim:
            raise ValueError(f"dataset actions are {dataset.actions.shape[1]}-D, task {spec.name} needs "
                             f"{spec.action_dim}-D")
        self.dataset, self.spec, self.horizon, self.goal_relabel = dataset, spec, horizon, goal_relabel
        self.rng = np.random.default_rng(seed)
        ends = dataset.episode_ends
        self.episode_end = ends[np.searchsorted(ends, np.arange(len(dataset)))]  # (N,) last row of each row's episode
        self.chunk_rows = np.minimum(np.arange(len(dataset))[:, None] + np.arange(horizon), self.episode_end[:, None])
        self.actions = torch.from_numpy(dataset.actions)
        if goal_relabel == "rest":
            self.rest_row = last_resting_rows(spec.resting(dataset), ends)


    def __len__(self) -> int:
        return len(self.dataset)

    def goals(self, rows: np.ndarray) -> np.ndarray:
        if self.goal_relabel == "final":
            goal_rows = self.episode_end[rows]
        elif self.goal_relabel == "rest":
            goal_rows = self.rest_row[rows]
        else:
            goal_rows = self.rng.integers(rows, self.episode_end[rows] + 1)
        return self.spec.goal_of(self.dataset, goal_rows)

    def tensors(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        context, proprio = self.spec.split_observation(
            self.spec.rl_observation(self.dataset.observations[rows], self.goals(rows)))
        actions = self.actions[torch.from_numpy(self.chunk_rows[rows])]
        return actions, torch.from_numpy(np.ascontiguousarray(context, np.float32)), \
            torch.from_numpy(np.ascontiguousarray(proprio, np.float32))

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tensors(self.rng.integers(0, len(self.dataset), size))

    def all_contexts(self, limit: int = 100_000) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts and proprio of (up to `limit`) rows, for normalisation statistics."""
        rows = self.rng.choice(len(self.dataset), min(limit, len(self.dataset)), replace=False)
        _, context, proprio = self.tensors(rows)
        return context, proprio
