"""Learning curves over seeds (the paper's Figure 6) and a results table, from run folders; the
timestep TMRL picks along trajectories (Figure 13)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_run(run: Path) -> tuple[dict, list[dict]]:
    config = json.loads((run / "config.json").read_text())
    with open(run / "curve.csv") as f:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    if not rows:
        raise ValueError(f"{run}/curve.csv has no rows")
    return config, rows


# the panels of the learning-curve figure, one row each: the paper's curve, then what explains it
# (training episodes that succeeded, and whether the critics have started to value them)
PANELS = (("eval_success", "evaluation success", (-0.02, 1.02)),
          ("train_success", "training success (last 20 episodes)", (-0.02, 1.02)),
          ("q_mean", "mean Q", None))


# settings that change a run's budget, logging or speed, or that the runner derives from others: runs
# that differ only in these (and the seed) are seeds of one variant
NOT_A_VARIANT = {"seed", "steps", "eval_every", "eval_episodes", "checkpoint_every", "threads", "agent.compile",
                 "agent.heads", "agent.t_max"}


def _variant_settings(config: dict, prefix: str = "") -> dict[str, str]:
    """The settings that make a variant, flattened (agent.gamma), each as its JSON text."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if name in NOT_A_VARIANT:
            continue
        if isinstance(value, dict):
            out.update(_variant_settings(value, f"{name}."))
        else:
            out[name] = json.dumps(value, sort_keys=True)
    return out


def _checkpoint_name(config: dict) -> str:
    """The pre-trained policy a run steers, by its folder's name (runs/pre-cube/csp/checkpoint.pt -> csp)."""
    checkpoint = config.get("checkpoint") or ""
    return Path(checkpoint).parent.name or checkpoint or "-"


def variant_labels(configs: list[dict]) -> list[str]:
    """One label per run: its method, plus the settings in which its variant differs from the other
    variants of the same method on the same task (none when there is only one variant)."""
    keys = [frozenset(_variant_settings(c).items()) for c in configs]
    labels = []
    for config, key in zip(configs, keys, strict=True):
        others = {other for c, other in zip(configs, keys, strict=True)
                  if (c["task"], c["method"]) == (config["task"], config["method"]) and other != key}
        differing = sorted({k for other in others for k, _ in key ^ other})
        mine = dict(key)
        shown = {k: _checkpoint_name(config) if k == "checkpoint" else json.loads(mine[k]) if k in mine else "-"
                 for k in differing}
        parts = [f"{k}={v}" for k, v in shown.items()]
        labels.append(f"{config['method']} ({', '.join(parts)})" if parts else config["method"])
    return labels


def plot_runs(runs: list[Path], out: Path) -> str:
    """Curves (mean and spread over the seeds of each variant) and a markdown table, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    loaded = [read_run(run) for run in runs]
    groups: dict[tuple[str, str], list[list[dict]]] = defaultdict(list)
    over: dict[tuple[str, str], str] = {}
    for (config, rows), label in zip(loaded, variant_labels([c for c, _ in loaded]), strict=True):
        groups[(config["task"], label)].append(rows)
        over[(config["task"], label)] = _checkpoint_name(config)
    tasks = sorted({task for task, _ in groups})
    fig, axes = plt.subplots(len(PANELS), len(tasks), figsize=(5.5 * len(tasks), 3.2 * len(PANELS)),
                             squeeze=False, sharex="col")
    # training success: over the last 20 training episodes at the first and at the last log (the
    # first log covers the warm-up's random steering: what the pre-trained policy's exploration finds)
    lines = ["| task | method | over | seeds | final success (mean ± std) | training success, first / last log "
             "| env steps |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for column, task in enumerate(tasks):
        for (t, variant), curves in sorted(groups.items()):
            if t != task:
                continue
            n = min(len(c) for c in curves)
            x = np.array([curves[0][i]["env_steps"] for i in range(n)])
            for ax, (key, _, limits) in zip(axes[:, column], PANELS, strict=True):
                y = np.array([[c[i].get(key, np.nan) for i in range(n)] for c in curves])
                mean, std = y.mean(0), y.std(0)
                low, high = (np.clip(mean - std, *limits), np.clip(mean + std, *limits)) if limits else \
                    (mean - std, mean + std)
                ax.plot(x, mean, label=f"{variant} ({len(curves)} seeds)")
                ax.fill_between(x, low, high, alpha=0.2)
            final = np.array([c[n - 1]["eval_success"] for c in curves])
            train = np.array([[c[0].get("train_success", np.nan), c[n - 1].get("train_success", np.nan)]
                              for c in curves]).mean(0)
            lines.append(f"| {task} | {variant} | {over[(task, variant)]} | {len(curves)} "
                         f"| {final.mean():.2f} ± {final.std():.2f} "
                         f"| {train[0]:.2f} / {train[1]:.2f} | {int(x[-1])} |")
        for row, (ax, (_, label, limits)) in enumerate(zip(axes[:, column], PANELS, strict=True)):
            ax.set(ylabel=label, **({"ylim": limits} if limits else {}))
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(task)
                ax.legend(fontsize=8)
        axes[-1, column].set_xlabel("environment steps")
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=120)
    plt.close(fig)
    table = "\n".join(lines)
    (out / "results.md").write_text(table + "\n")
    return table


def plot_timesteps(traces: list[list[int]], path: Path, title: str = "", successes: list[bool] | None = None) -> None:
    """The context timestep TMRL picks along trajectories (the paper's Figure 13)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, trace in enumerate(traces):
        label = None if successes is None else f"episode {i + 1}: {'success' if successes[i] else 'failure'}"
        ax.plot(np.arange(len(trace)), trace, marker="o", ms=3, alpha=0.6, label=label)
    ax.set(xlabel="macro-step", ylabel="context timestep t", title=title or "timestep chosen by TMRL")
    ax.grid(alpha=0.3)
    if successes is not None:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_graph_run(episode_times: list[float], successes: list[bool], timestep_times: list[float],
                   timesteps: list[float], path: Path, window: int = 10) -> Path:
    """A run of the ROS graph as its monitor saw it: episode success (moving mean over `window`
    episodes) and the context timestep published on /tmrl/timestep, against wall time."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    t0 = min([*episode_times[:1], *timestep_times[:1]], default=0.0)
    if successes:
        s = np.asarray(successes, float)
        mean = np.convolve(s, np.ones(window), "full")[: len(s)] / np.minimum(np.arange(1, len(s) + 1), window)
        top.plot(np.asarray(episode_times) - t0, mean)
    top.set_ylabel(f"success (last {window} episodes)")
    top.set_ylim(-0.05, 1.05)
    bottom.plot(np.asarray(timestep_times) - t0, timesteps, ".", markersize=2)
    bottom.set_ylabel("/tmrl/timestep")
    bottom.set_xlabel("seconds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
