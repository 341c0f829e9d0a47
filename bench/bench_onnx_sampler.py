"""Benchmark: batch-1 10-step sampling of the CSP policy (hidden 128, 4 layers, 5 action tokens) in
three ways, in the same run: the straightforward reference (conditioning recomputed every Euler
step), PyTorch with the conditioning cached, and the whole unrolled sampler as one ONNX Runtime
graph (what the policy server uses). Outputs must agree within 1e-5.

    python bench/bench_onnx_sampler.py [--threads 1] [--out docs/results/bench_onnx_sampler.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_csp import reference_sample, straightforward  # noqa: E402
from common import machine, time_interleaved, write_report  # noqa: E402

from tmrl_learning.csp.export import OnnxSampler  # noqa: E402
from tmrl_learning.csp.model import DiTConfig  # noqa: E402
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_onnx_sampler.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=args.horizon, action_dim=2, context_dim=4)))
    with torch.no_grad():  # a non-trivial network (AdaLN-Zero starts at zero velocity)
        for p in policy.net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    policy.eval()
    reference = straightforward(policy)
    context, noise, t, eps = torch.randn(1, 4), torch.randn(1, 2), torch.tensor([30]), torch.randn(1, 4)
    full_noise = noise.unsqueeze(1).expand(1, args.horizon, 2).contiguous()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = OnnxSampler(policy, Path(tmp) / "sampler.onnx", threads=args.threads)
        with torch.no_grad():
            ref = reference_sample(reference, context, full_noise, t, eps)
            cached = policy.sample(context, action_noise=noise, timestep=t, context_noise=eps)
        ours = torch.from_numpy(onnx(context[0].numpy(), torch.zeros(0).numpy(), noise[0].numpy(), 30,
                                     eps[0].numpy()))
        timings = time_interleaved({
            "reference_per_step_conditioning": lambda: reference_sample(reference, context, full_noise, t, eps),
            "torch_cached_conditioning": lambda: policy.sample(context, action_noise=noise, timestep=t,
                                                               context_noise=eps),
            "onnx_runtime_unrolled": lambda: onnx(context[0].numpy(), torch.zeros(0).numpy(), noise[0].numpy(), 30,
                                                  eps[0].numpy()),
        }, repeats=100)
    ref_ms = timings["reference_per_step_conditioning"]["median_ms"]
    report = {"benchmark": "CSP batch-1 sampling", "command": " ".join(["python bench/bench_onnx_sampler.py",
                                                                         *sys.argv[1:]]),
              "machine": machine(), "sample_batch1_10steps": timings,
              "speedup_over_reference": {k: round(ref_ms / v["median_ms"], 2) for k, v in timings.items()},
              "max_abs_difference_vs_reference": {"torch_cached": float((cached - ref).abs().max()),
                                                  "onnx": float((ours[None] - ref).abs().max())},
              "target_ms": 4}
    write_report(args.out, report)


if __name__ == "__main__":
    main()
