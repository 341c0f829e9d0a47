"""The flow-matching action-chunk policy with a smoothed context: training loss and sampler.

The sampler is the deterministic map a = f(w, c_t, t, p) that DSRL/TMRL steer: given the action
noise w, the context timestep t and the context noise eps_c it always returns the same chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tmrl_learning.csp.model import DiTConfig, FlowDiT
from tmrl_learning.csp.smoothing import ContextSmoother


@dataclass
class PolicyConfig:
    model: DiTConfig = field(default_factory=DiTConfig)
    num_context_timesteps: int = 100   # T of the context DDPM schedule
    beta_start: float = 1e-4
    beta_end: float = 0.02
    train_t_max: int | None = None     # None: train on all t in [0, T] (CSP); 0: plain BC
    flow_bins: int = 100               # s is discretised as floor(u * bins) / bins in training
    sample_steps: int = 10             # Euler steps of the sampler
    cfg_dropout: float = 0.0           # CFG baseline: probability of training with the context dropped
    context_normalization: str = "zscore"  # "zscore": standardise the context with the data's statistics
                                           # before corrupting it; "none": raw units, as the authors


CONTEXT_NORMALIZATIONS = ("zscore", "none")


class Normalizer(nn.Module):
    """Standardises context and proprio with dataset statistics (stored in checkpoints)."""

    def __init__(self, context_dim: int, proprio_dim: int):
        super().__init__()
        self.register_buffer("context_mean", torch.zeros(context_dim))
        self.register_buffer("context_std", torch.ones(context_dim))
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))

    def fit(self, context: torch.Tensor, proprio: torch.Tensor | None, context_too: bool = True) -> None:
        """Fit the statistics; with context_too False the context stays in raw units."""
        if context_too:
            self.context_mean.copy_(context.mean(0))
            self.context_std.copy_(context.std(0).clamp_min(1e-3))
        if proprio is not None and proprio.shape[-1]:
            self.proprio_mean.copy_(proprio.mean(0))
            self.proprio_std.copy_(proprio.std(0).clamp_min(1e-3))

    def context(self, c: torch.Tensor) -> torch.Tensor:
        return (c - self.context_mean) / self.context_std

    def proprio(self, p: torch.Tensor | None) -> torch.Tensor | None:
        return None if p is None or p.shape[-1] == 0 else (p - self.proprio_mean) / self.proprio_std


class FlowPolicy(nn.Module):
    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        if cfg.context_normalization not in CONTEXT_NORMALIZATIONS:
            raise ValueError(f"context_normalization must be one of {CONTEXT_NORMALIZATIONS}, "
                             f"got {cfg.context_normalization!r}")
        self.cfg = cfg
        self.net = FlowDiT(cfg.model)
        self.smoother = ContextSmoother(cfg.num_context_timesteps, cfg.beta_start, cfg.beta_end)
        self.normalizer = Normalizer(cfg.model.context_dim, cfg.model.proprio_dim)

    # ---- shapes and validation -------------------------------------------------------------------
    @property
    def chunk_shape(self) -> tuple[int, int]:
        return self.cfg.model.horizon, self.cfg.model.action_dim

    def check_batch(self, actions: torch.Tensor, context: torch.Tensor, proprio: torch.Tensor | None) -> None:
        """The checks of `loss`, for a batch still in host memory: a training loop runs them before moving the
        batch to its device and calls `loss(..., checked=True)`, so a GPU step never waits on them."""
        self._check_inputs(context, proprio)
        if actions.ndim != 3 or actions.shape[1:] != self.chunk_shape or actions.shape[0] != context.shape[0]:
            raise ValueError(f"actions have shape {tuple(actions.shape)}, expected ({context.shape[0]}, "
                             f"{', '.join(map(str, self.chunk_shape))})")

    def _check_inputs(self, context: torch.Tensor, proprio: torch.Tensor | None) -> int:
        m = self.cfg.model
        if context.ndim != 2 or context.shape[1] != m.context_dim:
            raise ValueError(f"context has shape {tuple(context.shape)}, expected (B, {m.context_dim})")
        if not torch.isfinite(context).all():
            raise ValueError("context contains NaN or inf")
        if m.proprio_dim:
            if proprio is None or proprio.shape != (context.shape[0], m.proprio_dim):
                got = None if proprio is None else tuple(proprio.shape)
                raise ValueError(f"proprio has shape {got}, expected ({context.shape[0]}, {m.proprio_dim})")
            if not torch.isfinite(proprio).all():
                raise ValueError("proprio contains NaN or inf")
        return context.shape[0]

    # ---- training --------------------------------------------------------------------------------
    def loss(self, actions: torch.Tensor, context: torch.Tensor, proprio: torch.Tensor | None = None,
             t: torch.Tensor | None = None, checked: bool = False) -> torch.Tensor:
        """Rectified-flow loss E||v(x_s, s, c_t, t, p) - (z - a)||^2 with t drawn per sample.
        actions (B, H, d), context (B, C) raw, proprio (B, P) raw or None. `checked`: the batch passed
        `check_batch` already (the inputs' checks are skipped; they are device syncs on a GPU)."""
        if not checked:
            self.check_batch(actions, context, proprio)
        b = context.shape[0]
        c0 = self.normalizer.context(context)
        p = self.normalizer.proprio(proprio)
        drawn = t is None  # timesteps drawn here are in range by construction
        if drawn:
            t = self.smoother.sample_timesteps(b, self.cfg.train_t_max, device=actions.device)
        c_t = self.smoother.corrupt(c0, t, check=not drawn)
        if self.cfg.cfg_dropout > 0:  # CFG: some samples learn the unconditional velocity (zero context)
            drop = torch.rand(b, device=actions.device) < self.cfg.cfg_dropout
            c_t = torch.where(drop.unsqueeze(-1), torch.zeros_like(c_t), c_t)
        z = torch.randn_like(actions)
        s = torch.floor(torch.rand(b, device=actions.device) * self.cfg.flow_bins) / self.cfg.flow_bins
        x_s = (1 - s.view(-1, 1, 1)) * actions + s.view(-1, 1, 1) * z
        v = self.net(x_s, s, t, c_t, p)
        return ((v - (z - actions)) ** 2).mean()

    # ---- sampling --------------------------------------------------------------------------------
    def smoothed_context(self, context: torch.Tensor, timestep: torch.Tensor | None,
                         context_noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        b = context.shape[0]
        t = torch.zeros(b, dtype=torch.long) if timestep is None else torch.as_tensor(timestep).long().reshape(b)
        return self.smoother.corrupt(self.normalizer.context(context), t, context_noise), t

    def initial_noise(self, action_noise: torch.Tensor | None, b: int, generator=None) -> torch.Tensor:
        h, d = self.chunk_shape
        if action_noise is None:
            return torch.randn(b, h, d, generator=generator)
        w = torch.as_tensor(action_noise, dtype=torch.float32)
        if w.shape == (b, d):  # one d-dim vector repeated over the chunk (DSRL/TMRL steering)
            return w.unsqueeze(1).expand(b, h, d).contiguous()
        if w.shape == (b, h, d):
            return w
        raise ValueError(f"action noise has shape {tuple(w.shape)}, expected ({b}, {d}) or ({b}, {h}, {d})")

    @torch.no_grad()
    def sample(self, context: torch.Tensor, proprio: torch.Tensor | None = None,
               action_noise: torch.Tensor | None = None, timestep: torch.Tensor | None = None,
               context_noise: torch.Tensor | None = None, steps: int | None = None,
               guidance: torch.Tensor | float | None = None, generator=None) -> torch.Tensor:
        """Chunks (B, H, d) for raw contexts (B, C). Noise, timestep and context noise are drawn
        when not given (timestep defaults to 0: the clean conditional)."""
        b = self._check_inputs(context, proprio)
        steps = steps or self.cfg.sample_steps
        if context_noise is None:
            context_noise = torch.randn(context.shape, generator=generator)
        elif context_noise.shape != context.shape:
            raise ValueError(f"context noise has shape {tuple(context_noise.shape)}, expected {tuple(context.shape)}")
        c_t, t = self.smoothed_context(context, timestep, context_noise)
        p = self.normalizer.proprio(proprio)
        x = self.initial_noise(action_noise, b, generator)
        # Conditioning for every Euler step at once (one batched call instead of `steps`).
        s_grid = torch.linspace(1.0, 0.0, steps + 1)[:-1]
        s_all = s_grid.repeat_interleave(b)
        rep = lambda v: None if v is None else v.repeat(steps, *[1] * (v.ndim - 1))  # noqa: E731
        mods = self.net.modulations(self.net.condition(s_all, rep(t), rep(c_t), rep(p)))
        if guidance is not None:
            null = self.net.modulations(self.net.condition(s_all, rep(t), torch.zeros_like(rep(c_t)), rep(p)))
            omega = torch.as_tensor(guidance, dtype=torch.float32).reshape(-1, 1, 1).expand(b, 1, 1)
        dt = 1.0 / steps
        if b == 1:  # one sample: the same steps without the batch dimension (far fewer operations)
            step_mods = self.net.step_modulations(mods, steps)
            step_null = self.net.step_modulations(null, steps) if guidance is not None else None
            x = x[0]
            for k in range(steps):
                v = self.net.velocity_tokens(x, step_mods[k])
                if guidance is not None:
                    v_u = self.net.velocity_tokens(x, step_null[k])
                    v = v_u + omega[0] * (v - v_u)
                x = x - dt * v
            return x[None]
        for k in range(steps):
            mod_k = [m[k * b:(k + 1) * b] for m in mods]
            v = self.net.velocity(x, mod_k)
            if guidance is not None:
                v_u = self.net.velocity(x, [m[k * b:(k + 1) * b] for m in null])
                v = v_u + omega * (v - v_u)
            x = x - dt * v
        return x
