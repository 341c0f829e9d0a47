"""Coverage of pre-trained policies (the paper's Figure 7) and the action distribution at one context
as the context timestep grows (Figure 4), written as JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tmrl_learning.csp.data import task_spec  # noqa: E402
from tmrl_learning.csp.evaluate import coverage_curve, success_at_k  # noqa: E402
from tmrl_learning.csp.train import load_policy  # noqa: E402
from tmrl_learning.data.envs import make_goal_env  # noqa: E402
from tmrl_learning.data.splits import IN_DISTRIBUTION  # noqa: E402


def run_coverage(checkpoints: list[Path], starts: int, k: int, fractions: list[float], out: Path,
                 indist_starts: int = 0) -> dict:
    """indist_starts > 0 also measures success@K at t = 0 on the task's in-distribution twin: the check
    that a policy failing out of distribution has learned its data at all."""
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"starts": starts, "k": k, "fractions": fractions, "indist_starts": indist_starts,
                    "methods": {}, "summary": {}}
    for ckpt in checkpoints:
        policy, cfg = load_policy(ckpt)
        label = f"{cfg.method}"
        curves = {}
        timesteps = [0] if cfg.method in ("bc", "postbc", "cfg") else \
            [int(round(f * policy.smoother.num_timesteps)) for f in fractions]
        for t in timesteps:
            matrix = success_at_k(policy, cfg.task, starts, k, t, execute=cfg.execute)
            curves[t] = coverage_curve(matrix).tolist()
            print(f"coverage {label} t={t}: success@1 {curves[t][0]:.2f}, success@{k} {curves[t][-1]:.2f}",
                  flush=True)
        best_t = max(curves, key=lambda t: curves[t][-1])
        report["methods"][label] = {"checkpoint": str(ckpt), "task": cfg.task, "curves": curves, "best_t": best_t}
        report["summary"][label] = {"best_t": best_t, f"success@{k}": curves[best_t][-1],
                                    "success@1": curves[best_t][0]}
        twin = IN_DISTRIBUTION.get(cfg.task)
        if indist_starts > 0 and twin:
            curve = coverage_curve(success_at_k(policy, twin, indist_starts, k, 0, execute=cfg.execute)).tolist()
            print(f"in distribution ({twin}) {label} t=0: success@1 {curve[0]:.2f}, success@{k} {curve[-1]:.2f}",
                  flush=True)
            report["methods"][label]["in_distribution"] = {"task": twin, "curve": curve}
            report["summary"][label].update({f"indist success@{k}": curve[-1], "indist success@1": curve[0]})
    (out / "coverage.json").write_text(json.dumps(report, indent=2))
    (out / "coverage.md").write_text(coverage_table(report))
    plot_coverage(report, out / "coverage.png")
    return report


def coverage_table(report: dict) -> str:
    """The report as a markdown table: success@1 and success@K per method and context timestep, and
    in distribution where measured."""
    k = report["k"]
    lines = [f"{report['starts']} out-of-distribution starts, K = {k}", "",
             f"| method | t | success@1 | success@{k} |", "| --- | --- | --- | --- |"]
    for label, entry in report["methods"].items():
        for t, curve in entry["curves"].items():
            lines.append(f"| {label} | {t} | {curve[0]:.2f} | {curve[-1]:.2f} |")
        if "in_distribution" in entry:
            curve = entry["in_distribution"]["curve"]
            lines.append(f"| {label}, in distribution ({entry['in_distribution']['task']}) | 0 | {curve[0]:.2f} "
                         f"| {curve[-1]:.2f} |")
    return "\n".join(lines) + "\n"


def plot_coverage(report: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ks = np.arange(1, report["k"] + 1)
    for label, entry in report["methods"].items():
        best = entry["curves"][entry["best_t"]] if entry["best_t"] in entry["curves"] else \
            entry["curves"][str(entry["best_t"])]
        line, = axes[0].plot(ks, best, marker="o", ms=3, label=f"{label} (t={entry['best_t']})")
        if "in_distribution" in entry:
            axes[0].plot(ks, entry["in_distribution"]["curve"], ls="--", color=line.get_color(),
                         label=f"{label}, in distribution (t=0)")
        if len(entry["curves"]) > 1:
            for t, curve in entry["curves"].items():
                axes[1].plot(ks, curve, label=f"{label} t={t}")
    axes[0].set(xlabel="K (rollouts per start)", ylabel="success@K", title="coverage at the best t", ylim=(-0.02, 1.02))
    axes[1].set(xlabel="K", ylabel="success@K", title="CSP at fixed context timesteps", ylim=(-0.02, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_action_spread(checkpoint: Path, path: Path, fractions=(0.0, 0.25, 0.5, 0.75, 1.0), samples: int = 400,
                       task_name: str | None = None) -> dict:
    """Scatter of the first action of sampled chunks at one context (an evaluation start) as t grows."""
    policy, cfg = load_policy(checkpoint)
    spec = task_spec(cfg.task)
    env = make_goal_env(cfg.task, seed=42, tasks=[task_name] if task_name else None)
    context, proprio = spec.from_env_observation(env.reset()[None])
    context = torch.from_numpy(np.repeat(context, samples, 0))
    proprio = torch.from_numpy(np.ascontiguousarray(np.repeat(proprio, samples, 0)))
    fig, axes = plt.subplots(1, len(fractions), figsize=(3 * len(fractions), 3), sharex=True, sharey=True)
    spreads = {}
    for ax, f in zip(axes, fractions, strict=True):
        t = int(round(f * policy.smoother.num_timesteps))
        a = policy.sample(context, proprio, timestep=torch.full((samples,), t)).numpy()[:, 0, :2]
        spreads[t] = float(a.std(0).mean())
        ax.scatter(a[:, 0], a[:, 1], s=3, alpha=0.5)
        ax.set(title=f"t = {t}", xlim=(-1.1, 1.1), ylim=(-1.1, 1.1))
    fig.suptitle(f"{cfg.method} on {cfg.task}: first action at one context")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return spreads
