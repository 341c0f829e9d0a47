"""The flow policy as a Sampler (tmrl_learning.sampler): in PyTorch, or with its batch-1 sampler as
one ONNX Runtime graph; and loading one from a checkpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from tmrl_learning.csp.checkpoint import load_policy, read_checkpoint
from tmrl_learning.csp.export import OnnxSampler
from tmrl_learning.csp.policy import FlowPolicy


class FlowSampler:
    """The flow policy (PyTorch) as a Sampler."""

    def __init__(self, policy: FlowPolicy):
        self.policy = policy.eval()
        self.horizon, self.action_dim = policy.chunk_shape
        self.context_dim, self.proprio_dim = policy.cfg.model.context_dim, policy.cfg.model.proprio_dim
        self.context_noise_dim = self.context_dim
        self.num_timesteps = policy.smoother.num_timesteps

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None) -> np.ndarray:
        tensor = lambda v: torch.from_numpy(np.ascontiguousarray(v, np.float32))  # noqa: E731
        context = tensor(context)
        proprio = tensor(proprio) if self.proprio_dim else None
        timestep = torch.from_numpy(np.asarray(timestep, np.int64).reshape(-1))
        chunk = self.policy.sample(context, proprio, action_noise=tensor(action_noise), timestep=timestep,
                                   context_noise=tensor(context_noise),
                                   guidance=None if guidance is None else tensor(guidance))
        return chunk.numpy()


class OnnxFlowSampler(FlowSampler):
    """The flow policy with its batch-1 sampler as one ONNX Runtime graph (x3-4 faster for one chunk);
    batches, full chunks of noise and guidance go to PyTorch. The graph is checked against PyTorch
    when built."""

    def __init__(self, policy: FlowPolicy, path: str | Path, threads: int = 1):
        super().__init__(policy)
        self.onnx = OnnxSampler(policy, path, threads)

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None) -> np.ndarray:
        action_noise = np.asarray(action_noise, np.float32)
        if len(context) == 1 and guidance is None and action_noise.ndim == 2:
            return self.onnx(context[0], np.asarray(proprio, np.float32).reshape(1, -1)[0], action_noise[0],
                             int(np.asarray(timestep).reshape(-1)[0]), context_noise[0])[None]
        return super().sample(context, proprio, action_noise, timestep, context_noise, guidance)


def steered_dims(checkpoint: str | Path, context_dim: int) -> tuple[int, int]:
    """(T, context noise width) of the policy at `checkpoint`, what a steering actor over it outputs,
    read without loading its weights: a flow policy's schedule and its context width `context_dim`; a
    pi0 folder's schedule and its steered prefix directions (vla.prefix_noise)."""
    if Path(checkpoint).is_dir():  # a pi0 folder (tmrl_learning.vla.pi0)
        from tmrl_learning.vla.pi0 import read_csp_config
        from tmrl_learning.vla.prefix_noise import RANKS

        return read_csp_config(checkpoint).num_context_timesteps, RANKS[0] * RANKS[1]
    return int(read_checkpoint(checkpoint)["policy_config"]["num_context_timesteps"]), context_dim


def load_sampler(checkpoint: str | Path, backend: str = "torch", threads: int = 1,
                 onnx_path: str | Path | None = None, device: str = "cpu") -> FlowSampler:
    """The Sampler of a policy checkpoint. backend "onnx" writes its graph to `onnx_path` (default:
    next to the checkpoint, or a temporary folder where that is not writable); backend "openpi" is a
    policy served elsewhere over openpi's websocket protocol, `checkpoint` being its address. `device`
    places a pi0 folder's model (e.g. "cuda" on a GPU machine)."""
    if backend == "openpi":  # `checkpoint` is the server's address (host:port or ws://...)
        from tmrl_learning.remote.openpi import RemoteSampler

        return RemoteSampler(str(checkpoint))
    if backend not in ("torch", "onnx"):
        raise ValueError(f"unknown sampler backend {backend!r}; expected 'torch', 'onnx' or 'openpi'")
    if Path(checkpoint).is_dir():  # a pi0 folder (tmrl_learning.vla.pi0)
        from tmrl_learning.vla.pi0 import load_csp_pi0
        from tmrl_learning.vla.sampler import Pi0Sampler

        if backend != "torch":
            raise ValueError(f"{checkpoint} is a pi0 VLA: its sampler runs in PyTorch (backend 'torch')")
        return Pi0Sampler(load_csp_pi0(checkpoint), device=device)
    policy, _ = load_policy(checkpoint)
    if backend == "torch":
        return FlowSampler(policy)
    path = onnx_path or str(checkpoint) + ".onnx"
    if onnx_path is None and not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        path = os.path.join(tempfile.mkdtemp(prefix="tmrl_onnx_"), "sampler.onnx")
    return OnnxFlowSampler(policy, path, threads)
