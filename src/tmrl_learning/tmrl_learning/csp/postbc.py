"""PostBC: a bootstrap ensemble of MLP regressors whose per-state spread is a posterior covariance;
BC targets are perturbed by N(0, (alpha * std(s))^2) while the flow policy trains.

The members are trained together as one batched network (weights (M, in, out)), each on its own
bootstrap resample of the dataset rows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from tmrl_learning.activations import mish


class EnsembleMLP(nn.Module):
    def __init__(self, members: int, inputs: int, outputs: int, hidden: int, layers: int):
        super().__init__()
        sizes = [inputs] + [hidden] * layers + [outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = 1.0 / fan_in ** 0.5
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, B, in) -> (M, B, out)"""
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.weights) - 1:
                x = mish(x)
        return x


class PosteriorEnsemble(nn.Module):
    def __init__(self, cfg, inputs: int, horizon: int, action_dim: int):
        super().__init__()
        self.cfg = cfg
        self.horizon, self.action_dim = horizon, action_dim
        self.net = EnsembleMLP(cfg.members, inputs, horizon * action_dim, cfg.hidden, cfg.layers)
        self.register_buffer("in_mean", torch.zeros(inputs))
        self.register_buffer("in_std", torch.ones(inputs))

    def _inputs(self, context: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        x = torch.cat([context, proprio], -1) if proprio.shape[-1] else context
        return (x - self.in_mean) / self.in_std

    @classmethod
    def fit(cls, sampler, cfg, seed: int = 0, progress: bool = True, batch: int = 256) -> PosteriorEnsemble:
        spec = sampler.spec
        model = cls(cfg, spec.context_dim + spec.proprio_dim, sampler.horizon, spec.action_dim)
        context, proprio = sampler.all_contexts()
        x = torch.cat([context, proprio], -1) if proprio.shape[-1] else context
        model.in_mean.copy_(x.mean(0))
        model.in_std.copy_(x.std(0).clamp_min(1e-3))
        rng = np.random.default_rng(seed)
        n = len(sampler)
        bootstrap = [rng.integers(0, n, n) for _ in range(cfg.members)]  # one resample per member
        optimizer = torch.optim.Adam(model.net.parameters(), lr=1e-3, fused=True)
        for _ in tqdm(range(cfg.steps), desc="postbc ensemble", disable=not progress, mininterval=1.0):
            rows = np.stack([b[rng.integers(0, n, batch)] for b in bootstrap])  # (M, B)
            actions, context, proprio = sampler.tensors(rows.reshape(-1))
            pred = model.net(model._inputs(context, proprio).view(cfg.members, batch, -1))
            loss = ((pred - actions.view(cfg.members, batch, -1)) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.requires_grad_(False)
        return model

    @torch.no_grad()
    def std(self, context: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Per-state posterior std of the chunk, (B, H, d)."""
        x = self._inputs(context, proprio).unsqueeze(0).expand(self.cfg.members, -1, -1)
        return self.net(x).std(0).view(-1, self.horizon, self.action_dim)

    def perturb(self, actions: torch.Tensor, context: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        noise = torch.randn_like(actions) * self.std(context, proprio) * self.cfg.alpha
        return (actions + noise).clamp(-1.0, 1.0)
