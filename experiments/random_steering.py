"""What each fine-tuning method's frozen policy achieves under the warm-up's uniformly random steering, before
any learning: the rate at which its first training episodes succeed. Experiment 2 found CFG-RL with ~3x TMRL's
held-out training successes; this separates what the pre-trained checkpoint and the steering space bring from
what the RL learned.

    scripts/run.sh python experiments/random_steering.py tmrl=checkpoints/cube-csp-zscore-s1.pt \\
        dsrl=checkpoints/cube-bc-raw-s1.pt cfg=checkpoints/cube-cfg-raw-s1.pt [--task cube-single-heldout] \\
        [--episodes 300] --out FOLDER

Each METHOD=CHECKPOINT gets the method's steering heads and bounds as `tmrl finetune` builds them (the
FinetuneConfig defaults experiment 2 ran with); every method runs the same episodes (tasks spread evenly,
reseeded alike). Writes random_steering.json and random_steering.md (95% bootstrap intervals over episodes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.evaluation_envs import EvaluationEnvs
from tmrl_learning.stats import pooled_rate
from tmrl_learning.tasks import embodiment
from tmrl_learning.tmrl.config import FinetuneConfig
from tmrl_learning.tmrl.evaluate import evaluate
from tmrl_learning.tmrl.methods import ChunkMaker, build_agent


def random_steering_success(name: str, checkpoint: Path, task: str, episodes: int, seed: int) -> list[bool]:
    cfg = FinetuneConfig(method=name, task=task, checkpoint=str(checkpoint))
    cfg.validate()
    sampler, spec = load_sampler(checkpoint), embodiment(task)
    agent = build_agent(name, cfg.agent, spec.obs_dim, spec.action_dim, spec.context_dim, sampler.num_timesteps,
                        cfg.t_max_fraction, seed)
    envs = EvaluationEnvs(spec, episodes)
    try:
        result = evaluate(ChunkMaker(agent, sampler, spec, cfg.execute), envs, cfg.execute, seed=seed,
                          record_timesteps=True, random_steering=np.random.default_rng(seed))
    finally:
        envs.close()
    return result["successes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", metavar="METHOD=CHECKPOINT")
    parser.add_argument("--task", default="cube-single-heldout")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=30_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = [pair.split("=", 1) for pair in args.pairs]
    if any(len(pair) != 2 for pair in pairs):
        parser.error(f"expected METHOD=CHECKPOINT pairs, got {args.pairs}")
    rows = []
    for name, checkpoint in pairs:
        successes = random_steering_success(name, Path(checkpoint), args.task, args.episodes, args.seed)
        rate, low, high = pooled_rate([sum(successes)], [len(successes)], np.random.default_rng(0))
        rows.append({"method": name, "checkpoint": checkpoint, "successes": int(sum(successes)),
                     "episodes": len(successes), "rate": rate, "interval": [low, high]})
        print(f"{name} over {checkpoint}: {sum(successes)} / {len(successes)} = {rate:.3f} [{low:.3f}, {high:.3f}]",
              flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "random_steering.json").write_text(json.dumps({"task": args.task, "seed": args.seed, "rows": rows},
                                                              indent=1))
    lines = [f"Success under uniformly random steering (the warm-up's actions) on {args.task}, {args.episodes} "
             "episodes per method, the same episodes for each.", "",
             "| method | checkpoint | successes | rate | 95% interval (bootstrap over episodes) |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['method']} | `{r['checkpoint']}` | {r['successes']} / {r['episodes']} | {r['rate']:.3f} | "
              f"[{r['interval'][0]:.3f}, {r['interval'][1]:.3f}] |" for r in rows]
    (args.out / "random_steering.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
