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
from tqdm import tqdm  # noqa: E402

from tmrl_learning.csp.checkpoint import load_policy, read_checkpoint  # noqa: E402
from tmrl_learning.csp.evaluate import coverage_curve, coverage_interval, success_at_k  # noqa: E402
from tmrl_learning.csp.sampler import FlowSampler  # noqa: E402
from tmrl_learning.tasks import embodiment  # noqa: E402


def run_coverage(checkpoints: list[Path], starts: int, k: int, fractions: list[float], out: Path,
                 indist_starts: int = 0, guidance: list[float] | None = None) -> dict:
    """indist_starts > 0 also measures success@K at t = 0 on the task's in-distribution twin: the check
    that a policy failing out of distribution has learned its data at all. `guidance`: the CFG weights a
    CFG checkpoint is measured at, one entry each ("cfg w=2"); None: its conditional policy alone."""
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"starts": starts, "k": k, "fractions": fractions, "indist_starts": indist_starts,
                    "guidance": guidance, "methods": {}, "summary": {}}
    states = {ckpt: read_checkpoint(ckpt) for ckpt in checkpoints}
    plans = {ckpt: coverage_timesteps(state, fractions) for ckpt, state in states.items()}
    weights = {ckpt: coverage_weights(state, guidance) for ckpt, state in states.items()}
    twin_batches = sum(k * len(weights[ckpt]) for ckpt, state in states.items()
                       if indist_starts > 0 and embodiment(state["config"]["task"]).in_distribution)
    # one tick per batch of rollouts (all starts at once): minutes each on cube, so show the time left
    bar = tqdm(total=sum(len(plans[c]) * len(weights[c]) for c in checkpoints) * k + twin_batches, desc="coverage",
               unit="batch", mininterval=1.0)
    for ckpt in checkpoints:
        policy, cfg = load_policy(ckpt)
        sampler = FlowSampler(policy)
        for weight in weights[ckpt]:
            _measure(report, bar, sampler, cfg, ckpt, plans[ckpt], weight, starts, k, indist_starts)
    bar.close()
    (out / "coverage.json").write_text(json.dumps(report, indent=2))
    (out / "coverage.md").write_text(coverage_table(report))
    plot_coverage(report, out / "coverage.png")
    return report


def _measure(report: dict, bar, sampler, cfg, ckpt: Path, timesteps: list[int], weight: float | None, starts: int,
             k: int, indist_starts: int) -> None:
    """One checkpoint at one guidance weight: success@K at each context timestep (and in distribution)."""
    # the run folder tells variants of one method apart (e.g. raw and z-scored contexts)
    label = cfg.method if Path(ckpt).parent.name == cfg.method else f"{cfg.method} ({Path(ckpt).parent.name})"
    if weight is not None:
        label = f"{label} w={weight:g}"
    curves, intervals = {}, {}
    for t in timesteps:
        bar.set_postfix_str(f"{label} t={t}")
        matrix = success_at_k(sampler, cfg.task, starts, k, t, execute=cfg.execute, on_rollouts=bar.update,
                              guidance=weight)
        curves[t] = coverage_curve(matrix).tolist()
        intervals[t] = coverage_interval(matrix).tolist()
        bar.write(f"coverage {label} t={t}: success@1 {curves[t][0]:.2f}, success@{k} {curves[t][-1]:.2f}")
    best_t = max(curves, key=lambda t: curves[t][-1])
    report["methods"][label] = {"checkpoint": str(ckpt), "task": cfg.task, "curves": curves,
                                "intervals": intervals, "best_t": best_t, "guidance": weight}
    report["summary"][label] = {"best_t": best_t, f"success@{k}": curves[best_t][-1],
                                "success@1": curves[best_t][0], f"success@{k} interval": intervals[best_t][-1]}
    twin = embodiment(cfg.task).in_distribution
    if indist_starts > 0 and twin:
        bar.set_postfix_str(f"{label} in distribution")
        matrix = success_at_k(sampler, twin, indist_starts, k, 0, execute=cfg.execute, on_rollouts=bar.update,
                              guidance=weight)
        curve = coverage_curve(matrix).tolist()
        bar.write(f"in distribution ({twin}) {label} t=0: success@1 {curve[0]:.2f}, success@{k} {curve[-1]:.2f}")
        report["methods"][label]["in_distribution"] = {"task": twin, "curve": curve,
                                                       "interval": coverage_interval(matrix).tolist()}
        report["summary"][label].update({f"indist success@{k}": curve[-1], "indist success@1": curve[0]})


def coverage_weights(state: dict, guidance: list[float] | None) -> list[float | None]:
    """The CFG weights a checkpoint is measured at: the requested ones for a CFG policy (trained with the
    context dropped, so it has an unconditional branch); none (the policy as it is) otherwise."""
    return list(guidance) if guidance and state["config"]["method"] == "cfg" else [None]


def coverage_timesteps(state: dict, fractions: list[float]) -> list[int]:
    """The context timesteps a checkpoint is measured at: t = 0 alone for the methods trained at t = 0."""
    if state["config"]["method"] in ("bc", "postbc", "cfg"):
        return [0]
    return [int(round(f * state["policy_config"]["num_context_timesteps"])) for f in fractions]


def coverage_table(report: dict) -> str:
    """The report as a markdown table: success@1 and success@K per method and context timestep, and
    in distribution where measured."""
    k = report["k"]
    lines = [f"{report['starts']} out-of-distribution starts, K = {k}", "",
             f"| method | t | success@1 | success@{k} | 95% interval (bootstrap over starts) |",
             "| --- | --- | --- | --- | --- |"]
    for label, entry in report["methods"].items():
        for t, curve in entry["curves"].items():
            low, high = entry.get("intervals", {}).get(t, [[None, None]])[-1]
            band = "" if low is None else f"[{low:.2f}, {high:.2f}]"
            lines.append(f"| {label} | {t} | {curve[0]:.2f} | {curve[-1]:.2f} | {band} |")
        if "in_distribution" in entry:
            curve = entry["in_distribution"]["curve"]
            low, high = entry["in_distribution"].get("interval", [[None, None]])[-1]
            band = "" if low is None else f"[{low:.2f}, {high:.2f}]"
            lines.append(f"| {label}, in distribution ({entry['in_distribution']['task']}) | 0 | {curve[0]:.2f} "
                         f"| {curve[-1]:.2f} | {band} |")
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
    spec = embodiment(cfg.task)
    env = spec.make_env(seed=42, tasks=[task_name] if task_name else None)
    context, proprio = spec.split_observation(env.reset()[None])
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


def merge_reports(folders: list[Path], out: Path) -> dict:
    """Several coverage reports (one run each, same starts and K) as one table and one plot."""
    reports = [json.loads((Path(f) / "coverage.json").read_text()) for f in folders]
    keys = {(r["starts"], r["k"]) for r in reports}
    if len(keys) != 1:
        raise ValueError(f"reports differ in (starts, K): {sorted(keys)}; only like with like merges")
    merged = {**reports[0], "methods": {}, "summary": {}}
    for folder, report in zip(folders, reports, strict=True):
        for label, entry in report["methods"].items():
            name = label if label not in merged["methods"] else f"{label} ({Path(folder).name})"
            merged["methods"][name] = entry
            merged["summary"][name] = report["summary"][label]
    out.mkdir(parents=True, exist_ok=True)
    (out / "coverage.json").write_text(json.dumps(merged, indent=2))
    (out / "coverage.md").write_text(coverage_table(merged))
    plot_coverage(merged, out / "coverage.png")
    return merged


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 4 or sys.argv[1] != "merge":
        sys.exit("usage: python -m tmrl_learning.csp.coverage merge OUT REPORT_FOLDER...")
    merge_reports([Path(f) for f in sys.argv[3:]], Path(sys.argv[2]))
