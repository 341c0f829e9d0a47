"""A frozen policy (any Sampler) behind a request/response interface: one chunk per request, every
input checked first, so a malformed request is refused with a reason instead of raising inside a server."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.sampler import Sampler


class RequestError(ValueError):
    """A request the policy cannot serve; the message says why."""


@dataclass
class ChunkRequest:
    context: np.ndarray
    proprio: np.ndarray
    action_noise: np.ndarray      # (d,), (H*d,) or empty (drawn)
    context_timestep: int
    context_noise: np.ndarray     # (C,) or empty (drawn)
    guidance_weight: float = math.nan
    context_is_noised: bool = False


class PolicyService:
    """Serves any Sampler (tmrl_learning.sampler): the flow policy, or a VLA. Requests that leave the
    action or context noise empty get it drawn here, as the policy itself would."""

    def __init__(self, sampler: Sampler, name: str = ""):
        self.sampler = sampler
        self.horizon, self.action_dim = sampler.horizon, sampler.action_dim
        self.context_dim, self.proprio_dim = sampler.context_dim, sampler.proprio_dim
        self.num_timesteps = sampler.num_timesteps
        self.version = 0
        self.name = name

    @classmethod
    def from_checkpoint(cls, checkpoint: str, threads: int = 1, backend: str = "torch",
                        onnx_path: str | None = None) -> PolicyService:
        """backend "onnx": the batch-1 sampler as one ONNX Runtime graph (checked against PyTorch when
        built); requests it cannot take (a full chunk of noise, CFG guidance) go to PyTorch."""
        if threads:
            torch.set_num_threads(threads)
        return cls(load_sampler(checkpoint, backend, threads, onnx_path), str(checkpoint))

    def _vector(self, name: str, value, sizes: tuple[int, ...]) -> np.ndarray:
        value = np.asarray(value, np.float32).reshape(-1)
        if value.size not in sizes:
            raise RequestError(f"{name} has {value.size} values, expected " + " or ".join(map(str, sizes)))
        if not np.isfinite(value).all():
            raise RequestError(f"{name} contains NaN or inf")
        return value

    def check(self, req: ChunkRequest) -> dict:
        """The sampler's inputs for `req` (batch 1, noise drawn where empty), or RequestError naming
        the problem."""
        if req.context_is_noised:
            raise RequestError("the context is already noised; this server noises the clean context itself")
        context = self._vector("context", req.context, (self.context_dim,))
        proprio = self._vector("proprio", req.proprio, (self.proprio_dim,))
        h, d = self.horizon, self.action_dim
        noise = self._vector("action_noise", req.action_noise, (0, d, h * d))
        ctx_noise = self._vector("context_noise", req.context_noise,
                                 tuple(dict.fromkeys((0, self.sampler.context_noise_dim, self.context_dim))))
        if not 0 <= req.context_timestep <= self.num_timesteps:
            raise RequestError(f"context_timestep {req.context_timestep} outside [0, {self.num_timesteps}]")
        guidance = None if math.isnan(req.guidance_weight) else float(req.guidance_weight)
        if guidance is not None and not math.isfinite(guidance):
            raise RequestError("guidance_weight is infinite")
        if noise.size == 0:
            noise = torch.randn(h * d).numpy()
        if ctx_noise.size == 0:
            ctx_noise = torch.randn(self.sampler.context_noise_dim).numpy()
        return {"context": context[None], "proprio": proprio[None],
                "action_noise": noise.reshape(1, d) if noise.size == d else noise.reshape(1, h, d),
                "timestep": np.array([req.context_timestep]), "context_noise": ctx_noise[None],
                "guidance": None if guidance is None else np.array([guidance], np.float32)}

    def sample(self, req: ChunkRequest) -> tuple[np.ndarray, float]:
        """-> (chunk (H, d), latency in ms)."""
        inputs = self.check(req)
        start = time.perf_counter()
        chunk = self.sampler.sample(**inputs)[0]
        return chunk, (time.perf_counter() - start) * 1e3
