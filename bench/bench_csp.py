"""Benchmark: CSP training step (batch 256) and batch-1 10-step sampling, each against a
straightforward reference in the same run.

    python bench/bench_csp.py [--horizon 5] [--out docs/results/bench_csp.json]

The reference is the straightforward model: `nn.MultiheadAttention`, `nn.Mish` and a per-tensor
AdamW. Ours: attention written as batched matmuls, the cheaper Mish of `tmrl_learning.activations`
and fused AdamW (same weights, same maths; the loss after identical steps is reported for both),
plus bf16 autocast, eager and with the network compiled in place (what `tmrl pretrain` does with
`bf16: auto` on a CPU with native bf16 and `compile: true`); the bf16 loss curve is compared with
fp32's from the same initialisation. On CPUs without native bf16, bf16 is ~20x slower: skip it with
--no-bf16.
Sampling: the reference recomputes the conditioning at every Euler step (a plain loop over the
network's forward); ours computes all steps' AdaLN modulations in one batched call; both must agree
within 1e-5.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, time_interleaved, write_report  # noqa: E402

from tmrl_learning.activations import Mish  # noqa: E402
from tmrl_learning.cpu_features import native_bf16  # noqa: E402
from tmrl_learning.csp.model import DiTConfig, SelfAttention  # noqa: E402
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig  # noqa: E402


class TorchAttention(nn.Module):
    """`nn.MultiheadAttention` behind the `SelfAttention` interface, with the same weights."""

    def __init__(self, ours: SelfAttention):
        super().__init__()
        hidden = ours.out_proj.in_features
        self.mha = nn.MultiheadAttention(hidden, ours.heads, batch_first=True)
        self.mha.load_state_dict(ours.state_dict())

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


def straightforward(policy: FlowPolicy) -> FlowPolicy:
    """A copy of the policy with the plain PyTorch layers: the reference implementation."""
    ref = copy.deepcopy(policy)
    for module in list(ref.modules()):
        for name, child in module.named_children():
            if isinstance(child, SelfAttention):
                setattr(module, name, TorchAttention(child))
            elif isinstance(child, Mish):
                setattr(module, name, nn.Mish())
    return ref


def reference_sample(policy: FlowPolicy, context, noise, timestep, context_noise, steps=10):
    """Euler sampling the plain way: the full forward (conditioning included) at every step."""
    c_t, t = policy.smoothed_context(context, timestep, context_noise)
    x = noise
    for k in range(steps):
        s = torch.full((x.shape[0],), 1.0 - k / steps)
        x = x - (1.0 / steps) * policy.net(x, s, t, c_t, None)
    return x


def train_curve(policy: FlowPolicy, bf16: bool, steps: int, seed: int = 0, fused: bool = True,
                every: int = 10) -> list[float]:
    """Loss every `every` steps (mean over the window) on a fixed toy regression from one seed."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-4, weight_decay=1e-6, betas=(0.95, 0.999), fused=fused)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        ctx = torch.randn(256, policy.cfg.model.context_dim, generator=gen)
        actions = torch.tanh(ctx[:, :2]).unsqueeze(1).expand(256, policy.cfg.model.horizon, 2).contiguous()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = policy.loss(actions, ctx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return [round(sum(losses[i:i + every]) / len(losses[i:i + every]), 5) for i in range(0, steps, every)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--curve-steps", type=int, default=200, help="steps for the loss check")
    parser.add_argument("--no-bf16", action="store_true", help="skip bf16 (for CPUs without native bf16)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_csp.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = PolicyConfig(model=DiTConfig(horizon=args.horizon, action_dim=2, context_dim=4))
    policy = FlowPolicy(cfg)
    with torch.no_grad():  # a non-trivial network (AdaLN-Zero starts at zero velocity)
        for p in policy.net.parameters():
            p.add_(0.02 * torch.randn_like(p))

    reference = straightforward(policy)
    batch = (torch.rand(256, args.horizon, 2) * 2 - 1, torch.randn(256, 4))

    def stepper(model: FlowPolicy, fused: bool, bf16: bool):
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=fused)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                loss = model.loss(*batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    variants = {"fp32_reference": stepper(reference, False, False), "fp32_ours": stepper(policy, True, False)}
    if not args.no_bf16:
        compiled = copy.deepcopy(policy)
        compiled.net.compile()  # in place, as `tmrl pretrain --set compile=true` does
        variants["bf16_autocast_ours"] = stepper(policy, True, True)
        variants["bf16_autocast_compiled_ours"] = stepper(compiled, True, True)
    train = time_interleaved(variants, repeats=30)  # the warm-up steps include the compilation
    ref_ms = train["fp32_reference"]["median_ms"]
    train["speedup_over_reference"] = {k: round(ref_ms / train[k]["median_ms"], 2) for k in variants}
    torch.manual_seed(1)
    start = FlowPolicy(cfg)  # one initialisation for every curve
    curves = {"fp32_reference": train_curve(straightforward(start), False, args.curve_steps, fused=False),
              "fp32_ours": train_curve(copy.deepcopy(start), False, args.curve_steps)}
    if not args.no_bf16:
        fast = copy.deepcopy(start)
        fast.net.compile()
        curves["bf16_compiled_ours"] = train_curve(fast, True, args.curve_steps)
        fp32 = curves["fp32_ours"]
        train["bf16_curve_max_relative_difference"] = round(max(
            abs(a - b) / b for a, b in zip(curves["bf16_compiled_ours"], fp32, strict=True)), 4)
    train[f"loss_every_10_steps_for_{args.curve_steps}_steps"] = curves
    train["fp32_curves_identical"] = curves["fp32_reference"] == curves["fp32_ours"]

    policy.eval()
    reference = straightforward(policy)  # the timed training steps changed the weights
    context, noise = torch.randn(1, 4), torch.randn(1, args.horizon, 2)
    t, eps = torch.tensor([30]), torch.randn(1, 4)
    with torch.no_grad():
        ref = reference_sample(reference, context, noise, t, eps)
        ours = policy.sample(context, action_noise=noise, timestep=t, context_noise=eps)
    sample = time_interleaved({
        "reference_per_step_conditioning": lambda: reference_sample(reference, context, noise, t, eps),
        "cached_conditioning": lambda: policy.sample(context, action_noise=noise, timestep=t, context_noise=eps),
    }, repeats=50)
    sample["max_abs_difference"] = float((ref - ours).abs().max())
    sample["speedup"] = round(sample["reference_per_step_conditioning"]["median_ms"]
                              / sample["cached_conditioning"]["median_ms"], 2)
    model = {"hidden": 128, "layers": 4, "heads": 4, "action_tokens": args.horizon,
             "params": sum(p.numel() for p in policy.parameters())}
    report = {"benchmark": "CSP policy", "command": " ".join(["python bench/bench_csp.py", *sys.argv[1:]]),
              "machine": {**machine(), "native_bf16": native_bf16()}, "model": model,
              "train_step_batch256": train, "sample_batch1_10steps": sample,
              "targets": {"train_step_ms": 50, "sample_ms": 4}}
    write_report(args.out, report)


if __name__ == "__main__":
    main()
