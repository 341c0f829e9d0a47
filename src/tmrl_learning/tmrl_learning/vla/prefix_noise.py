"""The context noise over a VLA prefix, steered in a few directions.

A pi0 prefix is L tokens x D widths (about 800 x 2048 for pi0): an actor cannot output a noise value for
each. The actor's context noise z has k = k_L * k_D values; they set the prefix noise along a fixed
orthonormal basis A (x) B (A: L x k_L, B: D x k_D, orthonormal columns, drawn once from a seed), and the
rest of the noise is one frozen Gaussian draw with those directions removed:

    eps_c = A Z B^T + (xi - A A^T xi B B^T),   Z = z reshaped (k_L, k_D),   xi ~ N(0, I) drawn once

With z ~ N(0, I_k) this eps_c is exactly a N(0, I) draw in the k steered directions plus a Gaussian
draw in the others: the corrupted prefix looks like one seen in CSP training, whatever the actor picks
within its bound, and z is read back as A^T eps_c B. Memory: (L k_L + D k_D + L D) floats.
"""

from __future__ import annotations

import torch

RANKS = (4, 8)  # (token, width) directions the actor steers: 32 context noise values


class PrefixNoise:
    def __init__(self, tokens: int, width: int, token_rank: int = RANKS[0], width_rank: int = RANKS[1],
                 seed: int = 0):
        if not (1 <= token_rank <= tokens and 1 <= width_rank <= width):
            raise ValueError(f"prefix noise ranks ({token_rank}, {width_rank}) must be within the prefix's "
                             f"({tokens} tokens, {width} widths)")
        g = torch.Generator().manual_seed(seed)
        self.tokens, self.width, self.ranks = tokens, width, (token_rank, width_rank)
        self.A = torch.linalg.qr(torch.randn(tokens, token_rank, generator=g)).Q
        self.B = torch.linalg.qr(torch.randn(width, width_rank, generator=g)).Q
        xi = torch.randn(tokens, width, generator=g)
        self.rest = xi - self.A @ (self.A.T @ xi @ self.B) @ self.B.T
        self.dim = token_rank * width_rank

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, k) -> prefix noise (B, L, D)."""
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ValueError(f"context noise has shape {tuple(z.shape)}, expected (B, {self.dim}): "
                             f"{self.ranks[0]} token x {self.ranks[1]} width directions")
        steered = self.A @ z.reshape(-1, *self.ranks).to(self.A.dtype) @ self.B.T
        return steered + self.rest

    def steered(self, eps: torch.Tensor) -> torch.Tensor:
        """prefix noise (B, L, D) -> its coordinates z (B, k) in the steered directions."""
        return (self.A.T @ eps @ self.B).reshape(eps.shape[0], self.dim)
