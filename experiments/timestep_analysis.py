"""Experiment 4 of the reproduction (issue 15): the context timestep a TMRL actor picks along its
trajectories, split by whether the object is held (lifted above its resting height), on successful and
failed evaluation episodes. The paper: t is high early (exploring for the object) and low once it is held.
The same for CFG-RL's guidance weight omega, the other scalar an actor can dial per decision.

    scripts/run.sh python experiments/timestep_analysis.py RUN [--episodes 50] [--seed 20000] --out FOLDER

RUN is a `tmrl finetune --method tmrl` (or `--method cfg`) folder (its last saved actor, deterministic).
The object counts as held at a decision when its height (qpos index of the embodiment's `rest`) exceeds
the resting height by 1 cm. Writes timesteps.json (guidance.json for CFG-RL; per episode: the value and
held at every decision, success), timesteps.md (mean before and while held, success and failure, 95%
bootstrap intervals over episodes) and timesteps.png.
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
# the scalar steering heads, in the order looked for, and what each is called in the files and plots
SCALAR_HEADS = {"timestep": ("timesteps", "t"), "guidance": ("guidance", "omega")}


def run_episodes(run: Path, episodes: int, seed: int) -> tuple[dict, str, list[dict]]:
    """-> (the run's config, the scalar head read, one record per episode)."""
    config, maker = load_run(run)
    head = next((h for h in SCALAR_HEADS if h in maker.agent.cfg.heads), None)
    if head is None:
        raise ValueError(f"{run}: its actor ({config['method']}) has none of the scalar heads {sorted(SCALAR_HEADS)}")
    key, symbol = SCALAR_HEADS[head]
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
            trace.append(float(inputs[head][0]))
            held.append(bool(env.env._data.qpos[index] > rest_height + LIFT_MARGIN))
            result = env.step_chunk(chunks[0], config["execute"])
            obs = result.observation
            if result.terminated or result.truncated:
                success = bool(result.success)
                break
        out.append({key: trace, "held": held, "success": success})
        print(f"episode {i}: success {success}, mean {symbol} {np.mean(trace):.2f}, held at {sum(held)} of "
              f"{len(held)} decisions", flush=True)
    return config, head, out


def summarise(episodes: list[dict], key: str = "timesteps") -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for outcome in (True, False):
        chosen = [e for e in episodes if e["success"] == outcome]
        for phase, want in (("before the object is held", False), ("while it is held", True)):
            per_episode = [float(np.mean(np.asarray(e[key])[np.asarray(e["held"]) == want]))
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
    config, head, episodes = run_episodes(args.run, args.episodes, args.seed)
    key, symbol = SCALAR_HEADS[head]
    rows = summarise(episodes, key)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{key}.json").write_text(json.dumps({"run": str(args.run), "task": config["task"], "head": head,
                                                      "episodes": episodes, "summary": rows}, indent=1))
    successes = sum(e["success"] for e in episodes)
    lines = [f"{config['method']}'s {head} ({symbol}) along {len(episodes)} deterministic evaluation episodes of "
             f"{config['task']} ({successes} successes); the object counts as held {LIFT_MARGIN * 100:.0f} cm above "
             "rest.", "",
             f"| episodes | phase | episodes with that phase | mean {symbol} "
             "| 95% interval (bootstrap over episodes) |",
             "| --- | --- | --- | --- | --- |"]
    digits = 1 if head == "timestep" else 2
    lines += [f"| {r['episodes']} | {r['phase']} | {r['n']} | {r['mean_t']:.{digits}f} | "
              f"[{r['interval'][0]:.{digits}f}, {r['interval'][1]:.{digits}f}] |" for r in rows]
    (args.out / f"{key}.md").write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, outcome in zip(axes, (True, False), strict=True):
        for e in (e for e in episodes if e["success"] == outcome):
            t, held = np.asarray(e[key]), np.asarray(e["held"])
            ax.plot(t, color="0.7", lw=0.8)
            ax.scatter(np.flatnonzero(held), t[held], s=6, color="tab:red")
            ax.scatter(np.flatnonzero(~held), t[~held], s=6, color="tab:blue")
        ax.set(title=f"{'successful' if outcome else 'failed'} episodes (red: object held)", xlabel="macro-step")
    axes[0].set_ylabel("context timestep t" if head == "timestep" else "guidance weight omega")
    fig.tight_layout()
    fig.savefig(args.out / f"{key}.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
