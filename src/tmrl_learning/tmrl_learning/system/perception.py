"""Raw driver observations -> the policy's context and proprio (and the RL observation)."""

from __future__ import annotations

import numpy as np


class Perception:
    def __init__(self, embodiment):
        self.spec, self.obs_dim = embodiment, embodiment.obs_dim

    def __call__(self, observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (observation, context, proprio); ValueError for a wrong width or non-finite values."""
        obs = np.asarray(observation, np.float32)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"observation has {obs.size} values, task {self.spec.name} expects {self.obs_dim}")
        if not np.isfinite(obs).all():
            raise ValueError("observation contains NaN or inf")
        context, proprio = self.spec.split_observation(obs)
        return obs, np.asarray(context, np.float32), np.asarray(proprio, np.float32)
