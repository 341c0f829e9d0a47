"""Experiment 4 of the reproduction (issue 15): the context timestep a TMRL actor picks along its
trajectories, split by whether the object is held (lifted above its resting height), on successful and
failed evaluation episodes. The paper: t is high early (exploring for the object) and low once it is held.

    scripts/run.sh python experiments/timestep_analysis.py RUN [--episodes 50] [--seed 20000] --out FOLDER

RUN is a `tmrl finetune --method tmrl` folder (its last saved actor, deterministic). The object counts as
held at a decision when its height (qpos index of the embodiment's `rest`) exceeds the resting height by
1 cm. Writes timesteps.json (per episode: t and held at every decision, success), timesteps.md (mean t
before and while held, success and failure, 95% bootstrap intervals over episodes) and timesteps.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tmrl_learning.stats import bootstrap_mean  # noqa: E402
from tmrl_learning.tmrl.evaluate import load_run  # noqa: E402

LIFT_MARGIN = 0.01  # m above the resting height


def run_episodes(run: Path, episodes: int, seed: int) -> tuple[dict, list[dict]]:
    config, maker = load_run(run)
    task = maker.embodiment
    if task.rest is None:
        raise ValueError(f"{task.name} defines no resting object: nothing can be held")
    index, rest_height = task.rest
    out = []
    for i in range(episodes):
        env = task.make_env(seed=seed + i)
        obs, trace, held, success = env.reset(env.tasks[i % len(env.tasks)].name), [], [], False
        while True:
            y = maker.agent.act(obs[None], deterministic=True)
            chunks, inputs = maker(y, obs[None])
            trace.append(int(inputs["timestep"][0]))
            held.append(bool(env.env._data.qpos[index] > rest_height + LIFT_MARGIN))
            result = env.step_chunk(chunks[0], config["execute"])
            obs = result.observation
            if result.terminated or result.truncated:
                success = bool(result.success)
                break
        out.append({"timesteps": trace, "held": held, "success": success})
        print(f"episode {i}: success {success}, mean t {np.mean(trace):.1f}, held at {sum(held)} of {len(held)} "
              f"decisions", flush=True)
    return config, out


def summarise(episodes: list[dict]) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for outcome in (True, False):
        chosen = [e for e in episodes if e["success"] == outcome]
        for phase, want in (("before the object is held", False), ("while it is held", True)):
            per_episode = [float(np.mean(np.asarray(e["timesteps"])[np.asarray(e["held"]) == want]))
                           for e in chosen if want in e["held"]]
            mean, low, high = bootstrap_mean(per_episode, rng)
            rows.append({"episodes": "success" if outcome else "failure", "phase": phase, "n": len(per_episode),
                         "mean_t": mean, "interval": [low, high]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config, episodes = run_episodes(args.run, args.episodes, args.seed)
    rows = summarise(episodes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "timesteps.json").write_text(json.dumps({"run": str(args.run), "task": config["task"],
                                                         "episodes": episodes, "summary": rows}, indent=1))
    successes = sum(e["success"] for e in episodes)
    lines = [f"TMRL's context timestep along {len(episodes)} deterministic evaluation episodes of {config['task']} "
             f"({successes} successes); the object counts as held {LIFT_MARGIN * 100:.0f} cm above rest.", "",
             "| episodes | phase | episodes with that phase | mean t | 95% interval (bootstrap over episodes) |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['episodes']} | {r['phase']} | {r['n']} | {r['mean_t']:.1f} | "
              f"[{r['interval'][0]:.1f}, {r['interval'][1]:.1f}] |" for r in rows]
    (args.out / "timesteps.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, outcome in zip(axes, (True, False), strict=True):
        for e in (e for e in episodes if e["success"] == outcome):
            t, held = np.asarray(e["timesteps"]), np.asarray(e["held"])
            ax.plot(t, color="0.7", lw=0.8)
            ax.scatter(np.flatnonzero(held), t[held], s=6, color="tab:red")
            ax.scatter(np.flatnonzero(~held), t[~held], s=6, color="tab:blue")
        ax.set(title=f"{'successful' if outcome else 'failed'} episodes (red: object held)", xlabel="macro-step")
    axes[0].set_ylabel("context timestep t")
    fig.tight_layout()
    fig.savefig(args.out / "timesteps.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
