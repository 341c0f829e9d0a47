"""Networks of the steering agent: a critic ensemble evaluated as one batched operation, and an
actor with several tanh-squashed Gaussian heads on one trunk."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from tmrl_learning.activations import Mish, mish


def hidden_precision(bf16: bool):
    """bf16 autocast for the hidden layers only: the output layers run in fp32 on fp32 copies of the
    features, so values (Q ~ -100, where bf16's spacing is 0.5) and log-stds keep fp32 resolution."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


class EnsembleLinear(nn.Module):
    """E independent linear layers applied at once: (E, B, in) -> (E, B, out)."""

    def __init__(self, members: int, fan_in: int, fan_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class CriticEnsemble(nn.Module):
    """Q_e(o, y) for e = 1..E, each an MLP with LayerNorm and Mish; output (E, B)."""

    def __init__(self, members: int, inputs: int, hidden: int = 256, layers: int = 3, bf16: bool = False):
        super().__init__()
        self.members, self.bf16 = members, bf16
        sizes = [inputs] + [hidden] * layers
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.gains = nn.ParameterList(nn.Parameter(torch.ones(members, 1, hidden)) for _ in range(layers))
        self.shifts = nn.ParameterList(nn.Parameter(torch.zeros(members, 1, hidden)) for _ in range(layers))
        self.out = EnsembleLinear(members, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], -1)
        x = x.unsqueeze(0).expand(self.members, *x.shape) if x.ndim == 2 else x
        with hidden_precision(self.bf16):
            for layer, gain, shift in zip(self.layers, self.gains, self.shifts, strict=True):
                h = layer(x)
                x = mish(torch.addcmul(shift, F.layer_norm(h, h.shape[-1:]), gain))
        return self.out(x.float()).squeeze(-1)


class SquashedGaussianActor(nn.Module):
    """One Mish trunk, one (mean, log-std) head per steering variable; samples y = tanh(u) in [-1, 1].

    `head_dims` maps head name -> size, e.g. {"noise": 2, "timestep": 1, "context_noise": 4}.
    """

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, obs_dim: int, head_dims: dict[str, int], hidden: int = 256, layers: int = 4,
                 bf16: bool = False):
        super().__init__()
        self.head_dims, self.bf16 = dict(head_dims), bf16
        trunk, size = [], obs_dim
        for _ in range(layers):
            trunk += [nn.Linear(size, hidden), Mish()]
            size = hidden
        self.trunk = nn.Sequential(*trunk)
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, 2 * dim) for name, dim in head_dims.items()})

    @property
    def action_dim(self) -> int:
        return sum(self.head_dims.values())

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """-> y (B, sum dims) in [-1, 1], and per-head log-probabilities {name: (B,)}."""
        with hidden_precision(self.bf16):
            h = self.trunk(obs).float()
        ys, logps = [], {}
        for name, head in self.heads.items():
            mean, log_std = head(h).chunk(2, -1)
            log_std = log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)
            u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
            y = torch.tanh(u)
            # log N(u; mean, std) - log|d tanh(u)/du|, summed over the head's dimensions
            normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
            logps[name] = (normal - 2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
            ys.append(y)
        return torch.cat(ys, -1), logps
