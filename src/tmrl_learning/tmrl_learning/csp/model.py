"""A small DiT for action chunks, conditioned with AdaLN-Zero on (flow time s, context timestep t,
noised context c_t, proprio p).

Action tokens: one per chunk step (linear embedding + learned position embedding). Conditioning:
[MLP(sin(t) ++ sin(s)), MLP(c_t ++ p)] -> one vector per sample that modulates every block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DiTConfig:
    horizon: int = 8           # H: actions per chunk
    action_dim: int = 2        # d
    context_dim: int = 4       # the noised part of the conditioning
    proprio_dim: int = 0       # un-noised conditioning
    hidden: int = 128
    embed: int = 256           # conditioning width
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    time_frequencies: int = 32  # sinusoidal features per time input


def sinusoidal(x: torch.Tensor, frequencies: int, max_period: float = 1000.0) -> torch.Tensor:
    """x (B,) in arbitrary units -> (B, 2 * frequencies)."""
    half = torch.exp(-math.log(max_period) * torch.arange(frequencies, device=x.device, dtype=torch.float32)
                     / frequencies)
    args = x.float().unsqueeze(-1) * half
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class DiTBlock(nn.Module):
    def __init__(self, hidden: int, heads: int, mlp_ratio: float, embed: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        inner = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, inner), nn.Mish(), nn.Linear(inner, hidden))
        self.ada = nn.Sequential(nn.Mish(), nn.Linear(embed, 6 * hidden))
        nn.init.zeros_(self.ada[-1].weight)  # AdaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.ada[-1].bias)

    def forward(self, x: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        """x (B, H, hidden); mod (B, 6 * hidden) = this block's precomputed modulation."""
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
        h = modulate(self.norm1(x), shift1, scale1)
        x = x + gate1.unsqueeze(1) * self.attn(h, h, h, need_weights=False)[0]
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FlowDiT(nn.Module):
    """Velocity field v(x_s, s, c_t, t, p) of a rectified flow over action chunks."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        self.action_in = nn.Linear(cfg.action_dim, cfg.hidden)
        self.position = nn.Parameter(torch.zeros(1, cfg.horizon, cfg.hidden))
        nn.init.normal_(self.position, std=0.02)
        self.time_mlp = nn.Sequential(nn.Linear(4 * cfg.time_frequencies, cfg.embed), nn.Mish(),
                                      nn.Linear(cfg.embed, cfg.embed))
        self.cond_mlp = nn.Sequential(nn.Linear(cfg.context_dim + cfg.proprio_dim, cfg.embed), nn.Mish(),
                                      nn.Linear(cfg.embed, cfg.embed))
        embed = 2 * cfg.embed
        self.blocks = nn.ModuleList(DiTBlock(cfg.hidden, cfg.heads, cfg.mlp_ratio, embed) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(cfg.hidden, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.Mish(), nn.Linear(embed, 2 * cfg.hidden))
        self.action_out = nn.Linear(cfg.hidden, cfg.action_dim)
        for layer in (self.final_ada[-1], self.action_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def condition(self, s: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                  proprio: torch.Tensor | None) -> torch.Tensor:
        """(B,) flow time in [0, 1], (B,) context timestep, (B, C), (B, P) -> (B, 2 * embed)."""
        f = self.cfg.time_frequencies
        times = torch.cat([sinusoidal(t.float(), f), sinusoidal(s * 100.0, f)], dim=-1)  # s on DDPM-like scale
        cond_in = context if proprio is None or proprio.shape[-1] == 0 else torch.cat([context, proprio], -1)
        return torch.cat([self.time_mlp(times), self.cond_mlp(cond_in)], dim=-1)

    def modulations(self, cond: torch.Tensor) -> list[torch.Tensor]:
        """Per-block AdaLN parameters for a conditioning vector (B, E) -> [(B, 6h)] * L + [(B, 2h)]."""
        return [block.ada(cond) for block in self.blocks] + [self.final_ada(cond)]

    def velocity(self, x: torch.Tensor, mods: list[torch.Tensor]) -> torch.Tensor:
        """x (B, H, d) noisy chunk, precomputed modulations -> velocity (B, H, d)."""
        h = self.action_in(x) + self.position
        for block, mod in zip(self.blocks, mods[:-1], strict=True):
            h = block(h, mod)
        shift, scale = mods[-1].chunk(2, dim=-1)
        return self.action_out(modulate(self.final_norm(h), shift, scale))

    def forward(self, x: torch.Tensor, s: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                proprio: torch.Tensor | None = None) -> torch.Tensor:
        return self.velocity(x, self.modulations(self.condition(s, t, context, proprio)))
