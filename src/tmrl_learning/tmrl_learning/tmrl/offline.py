"""Offline transitions for RLPD's 50/50 batches, built from a task's pre-training dataset.

Each dataset row i becomes (o_i, a_i, r_i, o_{i+1}, terminated_i) in the embodiment's RL observation
layout, with the goal relabelled from the episode (its last row), reward 0 when the goal row i+1
achieves is within the task's success radius of that goal and -1 otherwise.
"""

from __future__ import annotations

import numpy as np

from tmrl_learning.csp.data import ChunkSampler


def offline_transitions(sampler: ChunkSampler, limit: int = 200_000, seed: int = 0) -> dict[str, np.ndarray]:
    dataset, spec = sampler.dataset, sampler.spec
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(~dataset.terminals)  # rows with a successor in the same episode
    rows = rng.choice(rows, min(limit, len(rows)), replace=False)
    goal = spec.goal_of(dataset, sampler.episode_end[rows])
    obs = spec.rl_observation(dataset.observations[rows], goal)
    next_obs = spec.rl_observation(dataset.observations[rows + 1], goal)
    reached = np.linalg.norm(spec.goal_of(dataset, rows + 1) - goal, axis=-1) <= spec.success_radius
    return {"observation": obs, "steering_action": dataset.actions[rows], "reward": reached - 1.0,
            "next_observation": next_obs, "terminated": reached.astype(np.float32)}
