"""The Sampler protocol: what DSRL/TMRL steer. A pre-trained policy is a deterministic map

    chunk = sample(context, proprio, action_noise, timestep, context_noise)

from the steering inputs to an action chunk, with the number of context timesteps T it was smoothed
over. The policy server, the in-process steering path, the fine-tuning runner and coverage all take
a Sampler; a VLA (local or remote) is one more implementation. Noise is always an input: whoever
calls draws it, so the same inputs give the same chunk. The flow policy's samplers are in
tmrl_learning.csp.sampler.

Shapes (B = batch): context (B, C), proprio (B, P) (P may be 0), action_noise (B, d) (one vector
repeated over the chunk) or (B, H, d), timestep (B,) integers in [0, T], context_noise (B, E),
guidance (B,) or None (CFG only) -> chunk (B, H, d), float32 numpy. E (`context_noise_dim`) is C for a
state context; a VLA's prefix is steered in a few directions instead (tmrl_learning.vla.prefix_noise).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class Sampler(Protocol):
    horizon: int
    action_dim: int
    context_dim: int
    context_noise_dim: int  # what the steering actor outputs as context noise
    proprio_dim: int
    num_timesteps: int  # T: timesteps run 0 (clean context) .. T

    def sample(self, context: np.ndarray, proprio: np.ndarray, action_noise: np.ndarray, timestep: np.ndarray,
               context_noise: np.ndarray, guidance: np.ndarray | None = None) -> np.ndarray: ...


def draw_inputs(sampler: Sampler, batch: int, generator: torch.Generator | None = None) -> dict[str, np.ndarray]:
    """Random action noise (B, H, d) and context noise (B, E), as the flow policy draws them."""
    return {"action_noise": torch.randn(batch, sampler.horizon, sampler.action_dim, generator=generator).numpy(),
            "context_noise": torch.randn(batch, sampler.context_noise_dim, generator=generator).numpy()}
