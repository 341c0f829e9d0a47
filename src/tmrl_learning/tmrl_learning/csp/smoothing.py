"""The context corruption kernel: a DDPM forward process applied to the policy's context.

    beta_k linear from beta_start to beta_end over T steps,  alpha_bar_k = prod_{j<=k} (1 - beta_j)
    c_t = sqrt(alpha_bar_t) c_0 + sqrt(1 - alpha_bar_t) eps_c,   eps_c ~ N(0, I)

with the convention that t = 0 is the clean context (alpha_bar = 1) and t = k >= 1 uses
alpha_bar_{k-1} of the DDPM schedule, so indices run 0..T and T steps of noise are reachable.
"""

from __future__ import annotations

import torch


class ContextSmoother:
    def __init__(self, num_timesteps: int = 100, beta_start: float = 1e-4, beta_end: float = 0.02):
        if num_timesteps < 1:
            raise ValueError(f"num_timesteps must be >= 1, got {num_timesteps}")
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        self.num_timesteps = num_timesteps
        betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        # index 0 = clean; index k = after k noising steps
        alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1.0 - betas, 0)])
        self.alpha_bar = alpha_bar.float()  # (T + 1,)
        self._on_device = {self.alpha_bar.device: self.alpha_bar}  # one copy per device, not one per call

    @property
    def max_timestep(self) -> int:
        return self.num_timesteps

    def check(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t)
        if t.dtype.is_floating_point:
            raise TypeError(f"context timesteps must be integers in [0, {self.num_timesteps}], got dtype {t.dtype}")
        if (t < 0).any() or (t > self.num_timesteps).any():
            raise ValueError(f"context timestep out of range [0, {self.num_timesteps}]: {t.min()}..{t.max()}")
        return t.long()

    def corrupt(self, context: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
                check: bool = True) -> torch.Tensor:
        """context (B, C), t (B,) integers, noise (B, C) or None (drawn) -> c_t (B, C). `check=False` is for
        timesteps drawn in range here: the range check reads the tensor back, a device sync on a GPU."""
        t = self.check(t) if check else t
        if noise is None:
            noise = torch.randn_like(context)
        elif noise.shape != context.shape:
            raise ValueError(f"context noise has shape {tuple(noise.shape)}, context has {tuple(context.shape)}")
        if context.device not in self._on_device:
            self._on_device[context.device] = self.alpha_bar.to(context.device)
        abar = self._on_device[context.device][t].unsqueeze(-1)
        return abar.sqrt() * context + (1.0 - abar).sqrt() * noise

    def sample_timesteps(self, batch: int, t_max: int | None = None, generator: torch.Generator | None = None,
                         device: torch.device | str | None = None):
        """Uniform integer timesteps in [0, t_max] (default: all of them, so t = 0 stays reachable), drawn
        on `device` (the batch's: no host-to-device copy per training step)."""
        t_max = self.num_timesteps if t_max is None else t_max
        return torch.randint(0, t_max + 1, (batch,), generator=generator, device=device)

    def from_fraction(self, fraction: torch.Tensor | float) -> torch.Tensor:
        """Map a fraction in [0, 1] of the schedule to an integer timestep (0 = clean, 1 = T)."""
        fraction = torch.as_tensor(fraction, dtype=torch.float32).clamp(0.0, 1.0)
        return torch.round(fraction * self.num_timesteps).long()


def perceived_distance(smoother: ContextSmoother, target: torch.Tensor, data: torch.Tensor,
                       noise_bound: float = 1.0) -> tuple[int, float]:
    """How close steering can bring an out-of-data context to what the policy saw in training.

    `target` (C,) is the context the policy should act on (a held-out goal), `data` (N, C) the
    training contexts, both as the policy sees them (after its normaliser). At timestep t the policy
    sees c_t = sqrt(abar_t) c + sqrt(1 - abar_t) eps. Steering picks eps within [-noise_bound,
    noise_bound]^C; the corrupted target then equals the corruption of a training context c' with
    noise eps' = eps + sqrt(abar_t / (1 - abar_t)) (target - c'). Returns (t, |eps'|_inf) at the best t
    and c': the noise the policy would have to believe in, in standard deviations. Within ~2 the
    steered context is a typical training input (the policy perceives an in-data context); far beyond,
    no choice of t and eps makes it one."""
    abar = smoother.alpha_bar.double()[1:]  # t = 1..T (t = 0 is the clean context: exact, never in-data)
    ratio = (abar / (1.0 - abar)).sqrt()                                   # (T,)
    gap = (target.double()[None] - data.double()).abs()                    # (N, C)
    needed = (ratio[:, None, None] * gap[None] - noise_bound).clamp_min(0)  # (T, N, C)
    worst = needed.amax(-1)                                                 # (T, N)
    best = worst.amin(-1)                                                   # (T,)
    t = int(best.argmin())
    return t + 1, float(best[t])
