"""The Sampler protocol (tmrl_learning.sampler) over pi0 with a context-smoothed prefix (vla.pi0)."""

from __future__ import annotations

import numpy as np
import torch

from tmrl_learning.vla.pi0 import CspPi0
from tmrl_learning.vla.prefix_noise import RANKS, PrefixNoise


class Pi0Sampler:
    """The Sampler protocol over a CspPi0: the context is the flattened prefix (L * D values, L the
    policy's `prefix_tokens`), as perception computes it with `embed_prefix`. The context noise is
    steered in `noise_ranks` = (token, width) directions (vla.prefix_noise); a full (L * D) noise is
    taken as it is."""

    def __init__(self, policy: CspPi0, noise_ranks: tuple[int, int] = RANKS, noise_seed: int = 0,
                 device: str = "cpu"):
        self.device = torch.device(device)  # "cuda": on a GPU machine (the inputs move there, chunks come back)
        self.policy = policy.eval().to(self.device)
        self.prefix_tokens = policy.prefix_tokens
        self.horizon, self.action_dim = policy.cfg.horizon, policy.cfg.action_dim
        self.context_dim = self.prefix_tokens * policy.prefix_width
        self.prefix_noise = PrefixNoise(self.prefix_tokens, policy.prefix_width, *noise_ranks, seed=noise_seed)
        self.context_noise_dim = self.prefix_noise.dim
        self.proprio_dim = policy.cfg.proprio_dim
        self.num_timesteps = policy.cfg.num_context_timesteps

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None) -> np.ndarray:
        if guidance is not None:
            raise ValueError("a pi0 sampler has no classifier-free guidance")
        context = torch.as_tensor(np.asarray(context, np.float32)).to(self.device)
        b = context.shape[0]
        if context.shape[1] != self.context_dim:
            raise ValueError(f"context has {context.shape[1]} values, expected {self.prefix_tokens} prefix tokens x "
                             f"{self.policy.prefix_width} = {self.context_dim}")
        noise = torch.as_tensor(np.asarray(action_noise, np.float32))
        if noise.ndim == 2:  # one vector repeated over the chunk, as DSRL steers it
            noise = noise[:, None, :].expand(b, self.horizon, self.action_dim)
        prefix = context.reshape(b, self.prefix_tokens, self.policy.prefix_width)
        eps = torch.as_tensor(np.asarray(context_noise, np.float32))
        if eps.shape[1] != self.context_dim:
            eps = self.prefix_noise(eps)  # (B, E) steered directions -> (B, L, D), ValueError for another width
        chunk = self.policy.sample(prefix, torch.as_tensor(np.asarray(proprio, np.float32)).to(self.device),
                                   noise.contiguous().to(self.device),
                                   torch.as_tensor(np.asarray(timestep)).long().to(self.device), eps.to(self.device))
        return chunk.cpu().numpy()
