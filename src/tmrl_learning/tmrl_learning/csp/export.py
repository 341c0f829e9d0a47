"""The whole sampler a = f(w, c_t, t, p) as one ONNX Runtime graph, its Euler steps unrolled.

At batch 1 (the policy server's case) eager PyTorch spends most of its time in per-operation
overhead; one ONNX Runtime graph removes it. Shapes are fixed at batch 1; guidance (CFG) is not
exported (the server falls back to PyTorch for it). `OnnxSampler` checks itself against the PyTorch
sampler when it is built, and refuses to serve if they differ by more than `tolerance`.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from tmrl_learning.csp.policy import FlowPolicy


class _Unrolled(torch.nn.Module):
    def __init__(self, policy: FlowPolicy):
        super().__init__()
        self.policy = policy

    def forward(self, context, proprio, noise, timestep, context_noise):
        return self.policy.sample(context, proprio if proprio.shape[-1] else None, action_noise=noise,
                                  timestep=timestep, context_noise=context_noise)


def export_onnx(policy: FlowPolicy, path: str | Path) -> bytes:
    """Write the batch-1 sampler (inputs context (1, C), proprio (1, P), noise (1, d), timestep (1,)
    int64, context_noise (1, C); output chunk (1, H, d)) to `path`; -> the model this call exported.
    Safe when several processes export to one path at once (robots:=2, a policy server beside
    in-process samplers): each writes a file of its own and moves it into place atomically, so `path`
    is always one whole export, and each gets its own model back, whoever's file `path` holds."""
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        _export(policy, tmp)
        model = tmp.read_bytes()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return model


def _export(policy: FlowPolicy, path: Path) -> None:
    m = policy.cfg.model
    example = (torch.zeros(1, m.context_dim), torch.zeros(1, m.proprio_dim), torch.zeros(1, m.action_dim),
               torch.zeros(1, dtype=torch.long), torch.zeros(1, m.context_dim))
    with warnings.catch_warnings():
        # Tracing fixes the Python-level shape checks at batch 1, which is what is exported; the
        # exporter's deprecation notice is about its own future.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(_Unrolled(policy.eval()), example, str(path), dynamo=False, opset_version=17,
                          input_names=["context", "proprio", "noise", "timestep", "context_noise"],
                          output_names=["chunk"])


class OnnxSampler:
    """The exported sampler: `__call__(context, proprio, noise, timestep, context_noise)` with numpy
    vectors (one sample) -> chunk (H, d)."""

    def __init__(self, policy: FlowPolicy, path: str | Path, threads: int = 1, tolerance: float = 1e-5):
        import onnxruntime as ort

        model = export_onnx(policy, path)  # this process' own export, never another's half-written file
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(threads, 1)
        options.inter_op_num_threads = 1
        # MatMul+Add -> Gemm needs 2-D operands and wraps each in reshapes: more nodes, slower here
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=["MatMulAddFusion"])
        self.inputs = {i.name for i in self.session.get_inputs()}  # the exporter drops unused ones
        self.max_difference = self._check(policy, tolerance)

    def __call__(self, context, proprio, noise, timestep: int, context_noise) -> np.ndarray:
        feeds = {"context": np.asarray(context, np.float32)[None], "proprio": np.asarray(proprio, np.float32)[None],
                 "noise": np.asarray(noise, np.float32)[None], "timestep": np.array([timestep], np.int64),
                 "context_noise": np.asarray(context_noise, np.float32)[None]}
        return self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0][0]

    def _check(self, policy: FlowPolicy, tolerance: float) -> float:
        m, rng, norm = policy.cfg.model, np.random.default_rng(0), policy.normalizer
        worst = 0.0
        for t in (0, policy.smoother.num_timesteps // 2, policy.smoother.num_timesteps):
            # inputs in the data's range: a unit draw in metres is hundreds of the data's stds on a tight
            # dimension (cube's resting z), where float32 differences grow past any useful tolerance
            c = norm.context_mean.numpy() + norm.context_std.numpy() * rng.normal(size=m.context_dim)
            p = norm.proprio_mean.numpy() + norm.proprio_std.numpy() * rng.normal(size=m.proprio_dim)
            w, e = rng.normal(size=m.action_dim), rng.normal(size=m.context_dim)
            ref = policy.sample(torch.tensor(c[None], dtype=torch.float32),
                                torch.tensor(p[None], dtype=torch.float32) if m.proprio_dim else None,
                                action_noise=torch.tensor(w[None], dtype=torch.float32), timestep=torch.tensor([t]),
                                context_noise=torch.tensor(e[None], dtype=torch.float32))[0].numpy()
            worst = max(worst, float(np.abs(self(c, p, w, t, e) - ref).max()))
        if worst > tolerance:
            raise RuntimeError(f"the ONNX sampler differs from PyTorch by {worst:.2e} (> {tolerance:.0e})")
        return worst
