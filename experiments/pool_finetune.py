"""Pool fine-tuning runs over seeds (experiment 2 of issue 15): at every evaluation, each method's
success pooled over its seeds with a 95% hierarchical bootstrap (seeds, then the evaluation episodes);
the training episodes that succeeded, counted since the start of each run, pooled the same way; and the
critics' mean Q. Runs are grouped by method and the pre-trained policy they steer.

    scripts/run.sh python experiments/pool_finetune.py RUN [RUN ...] --out FOLDER [--with POOLED_JSON]
        -> FOLDER/pooled.md, FOLDER/pooled.json, FOLDER/pooled.png
`--with` adds methods pooled before from runs no longer at hand (their pooled.json), so methods run in
different sessions share one table and figure.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tmrl_learning.stats import pooled_rate  # noqa: E402
from tmrl_learning.tmrl.plots import read_run  # noqa: E402


def pool(runs: list[Path]) -> dict[str, list[dict]]:
    groups: dict[str, list[tuple[dict, list[dict]]]] = defaultdict(list)
    for run in runs:
        config, rows = read_run(run)
        over = Path(config.get("checkpoint") or "-").parent.name or "-"
        groups[f"{config['method']} over {over}"].append((config, rows))
    rng = np.random.default_rng(0)
    out = {}
    for label, seeds in sorted(groups.items()):
        n = min(len(rows) for _, rows in seeds)
        points = []
        for i in range(n):
            episodes = [config["eval_episodes"] for config, _ in seeds]
            wins = [round(rows[i]["eval_success"] * e) for (_, rows), e in zip(seeds, episodes, strict=True)]
            point = {"env_steps": int(np.mean([rows[i]["env_steps"] for _, rows in seeds])),
                     "eval": [w / e for w, e in zip(wins, episodes, strict=True)],
                     "eval_pooled": pooled_rate(wins, episodes, rng),
                     "q_mean": float(np.mean([rows[i].get("q_mean", np.nan) for _, rows in seeds]))}
            if all("train_episodes" in rows[i] and rows[i]["train_episodes"] > 0 for _, rows in seeds):
                point["train_successes"] = [int(rows[i]["train_successes"]) for _, rows in seeds]
                point["train_episodes"] = [int(rows[i]["train_episodes"]) for _, rows in seeds]
                point["train_pooled"] = pooled_rate(point["train_successes"], point["train_episodes"], rng)
            points.append(point)
        out[label] = points
    return out


def report(pooled: dict[str, list[dict]], folder: Path) -> str:
    lines = ["Evaluation success at each evaluation, pooled over seeds (95% hierarchical bootstrap: seeds, then "
             "episodes); training episodes that succeeded since the start of each run, pooled the same way.", "",
             "| method | env steps | evaluation per seed | evaluation pooled [95%] | training successes / episodes "
             "per seed | training rate pooled [95%] | mean Q |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, points in pooled.items():
        for p in points:
            mean, low, high = p["eval_pooled"]
            train = " / ".join(f"{k}/{n}" for k, n in zip(p.get("train_successes", []), p.get("train_episodes", []),
                                                          strict=True)) or "-"
            rate = "-" if "train_pooled" not in p else "{:.3f} [{:.3f}, {:.3f}]".format(*p["train_pooled"])
            lines.append(f"| {label} ({len(p['eval'])} seeds) | {p['env_steps']} | "
                         f"{' / '.join(f'{e:.2f}' for e in p['eval'])} | {mean:.2f} [{low:.2f}, {high:.2f}] | "
                         f"{train} | {rate} | {p['q_mean']:.1f} |")
    fig, axes = plt.subplots(3, 1, figsize=(6, 9), sharex=True)
    for label, points in pooled.items():
        x = [p["env_steps"] for p in points]
        for ax, key in zip(axes[:2], ("eval_pooled", "train_pooled"), strict=True):
            have = [p for p in points if key in p]
            if have:
                values = np.array([p[key] for p in have])
                ax.plot([p["env_steps"] for p in have], values[:, 0], marker="o", label=label)
                ax.fill_between([p["env_steps"] for p in have], values[:, 1], values[:, 2], alpha=0.2)
        axes[2].plot(x, [p["q_mean"] for p in points], label=label)
    axes[0].set(ylabel="evaluation success", ylim=(-0.02, None))
    axes[1].set(ylabel="training episodes succeeded\n(since the start)", ylim=(-0.005, None))
    axes[2].set(ylabel="mean Q", xlabel="environment steps")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("pooled over seeds, 95% hierarchical bootstrap")
    fig.tight_layout()
    fig.savefig(folder / "pooled.png", dpi=120)
    plt.close(fig)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--with", dest="earlier", type=Path, help="a pooled.json whose methods join the table")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(args.earlier.read_text()) if args.earlier else {}
    pooled = pool(args.runs)
    pooled = {label: pooled.get(label) or earlier[label] for label in sorted({*earlier, *pooled})}  # new runs win
    (args.out / "pooled.json").write_text(json.dumps(pooled, indent=1))
    table = report(pooled, args.out)
    (args.out / "pooled.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
