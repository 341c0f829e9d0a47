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
from torch.nn import functional as F

from tmrl_learning.activations import Mish


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


def modulate(x: torch.Tensor, shift: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift, with gain = 1 + scale already formed (see `FlowDiT.modulations`)."""
    return torch.addcmul(shift, x, gain)


def norm_modulate(x: torch.Tensor, shift: torch.Tensor, gain: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """modulate(LayerNorm(x), shift, gain); one sample's path (`FlowDiT.velocity_tokens`) passes the
    modulation to LayerNorm as its affine part instead."""
    return modulate(F.layer_norm(x, x.shape[-1:], eps=eps), shift, gain)


def _adaln(ada: nn.Module, cond: torch.Tensor, parts: int) -> torch.Tensor:
    """AdaLN parameters (B, E) -> (B, 1, parts * h) laid out as (shift, gain, ...) pairs and gates,
    with the +1 of each scale added here, once per conditioning, instead of at every Euler step."""
    out = ada(cond).unsqueeze(1)
    h = out.shape[-1] // parts
    one = torch.zeros(parts, h, dtype=out.dtype, device=out.device)
    one[1::3] = 1.0  # shift, scale, gate, shift, scale, gate (blocks) / shift, scale (final layer)
    return out + one.reshape(-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention written out as batched matrix products.

    With a handful of tokens per sample, the fused CPU attention kernels behind
    `nn.MultiheadAttention` cost more than the projections around them (fwd + bwd at batch 256,
    5 tokens: 14.9 ms against 9.6 ms here). Parameter names match `nn.MultiheadAttention`, so
    checkpoints written with it load unchanged.
    """

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden width {hidden} is not divisible by {heads} heads")
        self.heads, self.scale = heads, (hidden // heads) ** -0.5
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden))
        self.out_proj = nn.Linear(hidden, hidden)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        # (b, n, 3 * heads, dh) -> (b, 3 * heads, n, dh) -> q, k, v: one split, no per-tensor squeezes
        q, k, v = qkv.view(b, n, 3 * self.heads, h // self.heads).transpose(1, 2).split(self.heads, dim=1)
        weights = torch.softmax((q * self.scale) @ k.transpose(-1, -2), dim=-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, h))

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """One sample's tokens x (n, h): the same function without the batch dimension."""
        n, h = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(n, 3 * self.heads, h // self.heads) \
            .transpose(0, 1).split(self.heads, dim=0)
        weights = torch.softmax((q * self.scale) @ k.transpose(-1, -2), dim=-1)
        return self.out_proj((weights @ v).transpose(0, 1).reshape(n, h))


class DiTBlock(nn.Module):
    def __init__(self, hidden: int, heads: int, mlp_ratio: float, embed: int):
        super().__init__()
        self.attn = SelfAttention(hidden, heads)
        inner = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, inner), Mish(), nn.Linear(inner, hidden))
        self.ada = nn.Sequential(Mish(), nn.Linear(embed, 6 * hidden))
        nn.init.zeros_(self.ada[-1].weight)  # AdaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.ada[-1].bias)

    def forward(self, x: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        """x (B, H, hidden); mod (B, 1, 6 * hidden) = this block's precomputed modulation."""
        shift1, gain1, gate1, shift2, gain2, gate2 = mod.chunk(6, dim=-1)
        x = torch.addcmul(x, gate1, self.attn(norm_modulate(x, shift1, gain1)))
        return torch.addcmul(x, gate2, self.mlp(norm_modulate(x, shift2, gain2)))

    def forward_tokens(self, x: torch.Tensor, mod: list[torch.Tensor]) -> torch.Tensor:
        """One sample: x (H, hidden), mod = the six (hidden,) vectors (shift, gain, gate) x 2."""
        shift1, gain1, gate1, shift2, gain2, gate2 = mod
        h = x.shape[-1:]
        x = torch.addcmul(x, gate1, self.attn.forward_tokens(F.layer_norm(x, h, gain1, shift1, 1e-6)))
        return torch.addcmul(x, gate2, self.mlp(F.layer_norm(x, h, gain2, shift2, 1e-6)))


class FlowDiT(nn.Module):
    """Velocity field v(x_s, s, c_t, t, p) of a rectified flow over action chunks."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        self.action_in = nn.Linear(cfg.action_dim, cfg.hidden)
        self.position = nn.Parameter(torch.zeros(1, cfg.horizon, cfg.hidden))
        nn.init.normal_(self.position, std=0.02)
        self.time_mlp = nn.Sequential(nn.Linear(4 * cfg.time_frequencies, cfg.embed), Mish(),
                                      nn.Linear(cfg.embed, cfg.embed))
        self.cond_mlp = nn.Sequential(nn.Linear(cfg.context_dim + cfg.proprio_dim, cfg.embed), Mish(),
                                      nn.Linear(cfg.embed, cfg.embed))
        embed = 2 * cfg.embed
        self.blocks = nn.ModuleList(DiTBlock(cfg.hidden, cfg.heads, cfg.mlp_ratio, embed) for _ in range(cfg.layers))
        self.final_ada = nn.Sequential(Mish(), nn.Linear(embed, 2 * cfg.hidden))
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
        """Per-block AdaLN parameters for a conditioning vector (B, E) -> [(B, 1, 6h)] * L + [(B, 1, 2h)]."""
        return [_adaln(block.ada, cond, 6) for block in self.blocks] + [_adaln(self.final_ada, cond, 2)]

    def velocity(self, x: torch.Tensor, mods: list[torch.Tensor]) -> torch.Tensor:
        """x (B, H, d) noisy chunk, precomputed modulations -> velocity (B, H, d)."""
        h = self.action_in(x) + self.position
        for block, mod in zip(self.blocks, mods[:-1], strict=True):
            h = block(h, mod)
        shift, gain = mods[-1].chunk(2, dim=-1)
        return self.action_out(norm_modulate(h, shift, gain))

    def forward(self, x: torch.Tensor, s: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                proprio: torch.Tensor | None = None) -> torch.Tensor:
        return self.velocity(x, self.modulations(self.condition(s, t, context, proprio)))

    # -- one sample (the policy server's case) ------------------------------------------------------
    # At batch 1, per-operation overhead is the whole cost. Without the batch dimension every Linear is
    # one matrix product with its bias (one Gemm in ONNX instead of MatMul + Add), LayerNorm takes the
    # modulation as its own affine part, and all steps' modulation vectors come from one split per
    # block: the exported sampler has ~920 nodes instead of ~1430.

    def step_modulations(self, mods: list[torch.Tensor], steps: int) -> list[list[list[torch.Tensor]]]:
        """One sample's modulations for `steps` Euler steps [(steps, 1, parts * h)] (step-major, as
        `FlowPolicy.sample` makes them) -> per step, per block, the `parts` vectors (h,)."""
        pieces = [m.reshape(-1).split(self.cfg.hidden) for m in mods]
        return [[p[k * len(p) // steps:(k + 1) * len(p) // steps] for p in pieces] for k in range(steps)]

    def velocity_tokens(self, x: torch.Tensor, mods: list[list[torch.Tensor]]) -> torch.Tensor:
        """`velocity` for one sample: x (H, d), one step's modulation vectors -> (H, d)."""
        h = self.action_in(x) + self.position[0]
        for block, mod in zip(self.blocks, mods[:-1], strict=True):
            h = block.forward_tokens(h, mod)
        shift, gain = mods[-1]
        return self.action_out(F.layer_norm(h, h.shape[-1:], gain, shift, 1e-6))
