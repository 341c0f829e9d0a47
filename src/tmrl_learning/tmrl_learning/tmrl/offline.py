"""Offline transitions for RLPD's 50/50 batches, built from a task's pre-training dataset.

Each dataset row i becomes (o_i, a_i, r_i, o_{i+1}, terminated_i) in the goal env's observation
layout, with the goal relabelled from the episode (its last row), reward 0 when the next state is
within the task's success radius of that goal and -1 otherwise.
"""

from __future__ import annotations

import numpy as np

from tmrl_learning.csp.data import ChunkSampler
from tmrl_learning.data.splits import split


def offline_transitions(sampler: ChunkSampler, limit: int = 200_000, seed: int = 0) -> dict[str, np.ndarray]:
    dataset, spec = sampler.dataset, sampler.spec
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(~dataset.terminals)  # rows with a successor in the same episode
    rows = rng.choice(rows, min(limit, len(rows)), replace=False)
    goal = spec.goal_of(dataset, sampler.episode_end[rows])
    task = split(spec.name)
    if spec.name.startswith("pointmaze"):
        obs = np.concatenate([dataset.observations[rows, :2], goal], -1)
        next_obs = np.concatenate([dataset.observations[rows + 1, :2], goal], -1)
        reached = np.linalg.norm(dataset.observations[rows + 1, :2] - goal, axis=-1) <= task.success_radius
    else:
        obs = np.concatenate([dataset.observations[rows], goal], -1)
        next_obs = np.concatenate([dataset.observations[rows + 1], goal], -1)
        reached = np.linalg.norm(dataset.qpos[rows + 1, 14:17] - goal, axis=-1) <= task.success_radius
    return {"observation": obs, "steering_action": dataset.actions[rows], "reward": reached - 1.0,
            "next_observation": next_obs, "terminated": reached.astype(np.float32)}
