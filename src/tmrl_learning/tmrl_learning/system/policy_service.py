"""The frozen CSP policy behind a request/response interface: one chunk per request, every input
checked first, so a malformed request is refused with a reason instead of raising inside a server."""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from tmrl_learning.csp.train import load_policy


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
    def __init__(self, checkpoint: str, threads: int = 1, backend: str = "torch", onnx_path: str | None = None):
        """backend "onnx": the sampler as one ONNX Runtime graph (checked against PyTorch when built),
        written to `onnx_path` (default: next to the checkpoint); requests it cannot take (a full
        chunk of noise, CFG guidance) go to PyTorch."""
        if backend not in ("torch", "onnx"):
            raise ValueError(f"unknown sampler backend {backend!r}; expected 'torch' or 'onnx'")
        if threads:
            torch.set_num_threads(threads)
        self.policy, self.config = load_policy(checkpoint)
        self.onnx = None
        if backend == "onnx":
            from tmrl_learning.csp.export import OnnxSampler

            path = onnx_path or str(checkpoint) + ".onnx"
            if onnx_path is None and not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
                path = os.path.join(tempfile.mkdtemp(prefix="tmrl_onnx_"), "sampler.onnx")
            self.onnx = OnnxSampler(self.policy, path, threads)
        self.horizon, self.action_dim = self.policy.chunk_shape
        m = self.policy.cfg.model
        self.context_dim, self.proprio_dim = m.context_dim, m.proprio_dim
        self.num_timesteps = self.policy.smoother.num_timesteps
        self.version = 0
        self.checkpoint = checkpoint

    def _vector(self, name: str, value, sizes: tuple[int, ...]) -> np.ndarray:
        value = np.asarray(value, np.float32).reshape(-1)
        if value.size not in sizes:
            raise RequestError(f"{name} has {value.size} values, expected " + " or ".join(map(str, sizes)))
        if not np.isfinite(value).all():
            raise RequestError(f"{name} contains NaN or inf")
        return value

    def check(self, req: ChunkRequest) -> dict:
        """The sampler's inputs for `req` as tensors, or RequestError naming the problem."""
        if req.context_is_noised:
            raise RequestError("the context is already noised; this server noises the clean context itself")
        context = self._vector("context", req.context, (self.context_dim,))
        proprio = self._vector("proprio", req.proprio, (self.proprio_dim,))
        h, d = self.horizon, self.action_dim
        noise = self._vector("action_noise", req.action_noise, (0, d, h * d))
        ctx_noise = self._vector("context_noise", req.context_noise, (0, self.context_dim))
        if not 0 <= req.context_timestep <= self.num_timesteps:
            raise RequestError(f"context_timestep {req.context_timestep} outside [0, {self.num_timesteps}]")
        guidance = None if math.isnan(req.guidance_weight) else float(req.guidance_weight)
        if guidance is not None and not math.isfinite(guidance):
            raise RequestError("guidance_weight is infinite")
        return {
            "context": torch.from_numpy(context)[None],
            "proprio": torch.from_numpy(proprio)[None] if self.proprio_dim else None,
            "action_noise": None if noise.size == 0 else torch.from_numpy(noise).reshape(1, -1, d).squeeze(1),
            "timestep": torch.tensor([req.context_timestep]),
            "context_noise": None if ctx_noise.size == 0 else torch.from_numpy(ctx_noise)[None],
            "guidance": guidance,
        }

    def sample(self, req: ChunkRequest) -> tuple[np.ndarray, float]:
        """-> (chunk (H, d), latency in ms)."""
        inputs = self.check(req)
        start = time.perf_counter()
        noise = inputs["action_noise"]
        if self.onnx is not None and inputs["guidance"] is None and (noise is None or noise.ndim == 2):
            draw = lambda v, n: torch.randn(1, n) if v is None else v  # noqa: E731 - as the PyTorch sampler draws
            chunk = self.onnx(inputs["context"][0], req.proprio, draw(noise, self.action_dim)[0],
                              req.context_timestep, draw(inputs["context_noise"], self.context_dim)[0])
            return chunk, (time.perf_counter() - start) * 1e3
        chunk = self.policy.sample(**inputs)[0].numpy()
        return chunk, (time.perf_counter() - start) * 1e3
