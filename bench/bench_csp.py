"""Benchmark: CSP training step (batch 256) and batch-1 10-step sampling, each against a
straightforward reference in the same run.

    python bench/bench_csp.py [--horizon 5] [--out docs/results/bench_csp.json]

Training: fp32 (the reference) vs bf16 autocast, with the loss after a few hundred identical steps
for both. Sampling: the reference recomputes the conditioning at every Euler step (a plain loop over
the network's forward); ours computes all steps' AdaLN modulations in one batched call; both must
agree within 1e-5.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, time_ms, write_report  # noqa: E402

from tmrl_learning.csp.model import DiTConfig  # noqa: E402
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig  # noqa: E402


def reference_sample(policy: FlowPolicy, context, noise, timestep, context_noise, steps=10):
    """Euler sampling the plain way: the full forward (conditioning included) at every step."""
    c_t, t = policy.smoothed_context(context, timestep, context_noise)
    x = noise
    for k in range(steps):
        s = torch.full((x.shape[0],), 1.0 - k / steps)
        x = x - (1.0 / steps) * policy.net(x, s, t, c_t, None)
    return x


def train_steps(policy: FlowPolicy, bf16: bool, steps: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-4, weight_decay=1e-6, betas=(0.95, 0.999))
    gen = torch.Generator().manual_seed(seed)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        ctx = torch.randn(256, policy.cfg.model.context_dim, generator=gen)
        actions = torch.tanh(ctx[:, :2]).unsqueeze(1).expand(256, policy.cfg.model.horizon, 2).contiguous()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = policy.loss(actions, ctx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--curve-steps", type=int, default=200, help="steps for the fp32 vs bf16 loss check")
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_csp.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = PolicyConfig(model=DiTConfig(horizon=args.horizon, action_dim=2, context_dim=4))
    policy = FlowPolicy(cfg)
    with torch.no_grad():  # a non-trivial network (AdaLN-Zero starts at zero velocity)
        for p in policy.net.parameters():
            p.add_(0.02 * torch.randn_like(p))

    batch = (torch.rand(256, args.horizon, 2) * 2 - 1, torch.randn(256, 4))
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-4)

    def step(bf16: bool):
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = policy.loss(*batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = {"fp32_reference": time_ms(lambda: step(False), repeats=10),
             "bf16_autocast": time_ms(lambda: step(True), repeats=5, warmup=1)}
    train["bf16_speedup"] = round(train["fp32_reference"]["median_ms"] / train["bf16_autocast"]["median_ms"], 2)
    final = {name: train_steps(FlowPolicy(cfg), bf16, args.curve_steps) for name, bf16 in
             (("fp32", False), ("bf16", True))}
    train[f"loss_after_{args.curve_steps}_steps"] = final

    policy.eval()
    context, noise = torch.randn(1, 4), torch.randn(1, args.horizon, 2)
    t, eps = torch.tensor([30]), torch.randn(1, 4)
    with torch.no_grad():
        ref = reference_sample(policy, context, noise, t, eps)
        ours = policy.sample(context, action_noise=noise, timestep=t, context_noise=eps)
    sample = {
        "reference_per_step_conditioning": time_ms(lambda: reference_sample(policy, context, noise, t, eps), 50),
        "cached_conditioning": time_ms(lambda: policy.sample(context, action_noise=noise, timestep=t,
                                                             context_noise=eps), 50),
        "max_abs_difference": float((ref - ours).abs().max()),
    }
    sample["speedup"] = round(sample["reference_per_step_conditioning"]["median_ms"]
                              / sample["cached_conditioning"]["median_ms"], 2)
    report = {"benchmark": "CSP policy", "command": " ".join(["python bench/bench_csp.py", *sys.argv[1:]]),
              "machine": machine(), "model": {"hidden": 128, "layers": 4, "heads": 4, "action_tokens": args.horizon,
                                              "params": sum(p.numel() for p in policy.parameters())},
              "train_step_batch256": train, "sample_batch1_10steps": sample,
              "targets": {"train_step_ms": 50, "sample_ms": 4}}
    write_report(args.out, report)


if __name__ == "__main__":
    main()
