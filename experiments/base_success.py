"""Success rate of pre-trained checkpoints on one task at chosen context timesteps: the starting
point fine-tuning works from. Writes base_success.json and base_success.md into --out.

  python experiments/base_success.py runs/pre-cube/{csp,bc,cfg}/checkpoint.pt \
      --task cube-single-indist --timesteps 0 10 20 30 50 --episodes 24 --out docs/results/finetune-cube-indist

Timesteps other than 0 apply to CSP checkpoints only (the others have no context timestep).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from tmrl_learning.csp.checkpoint import load_policy
from tmrl_learning.csp.evaluate import success_rate
from tmrl_learning.csp.sampler import FlowSampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--task", required=True)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[0])
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for path in args.checkpoints:
        policy, cfg = load_policy(path)
        for t in args.timesteps if cfg.method == "csp" else [0]:
            rate = success_rate(FlowSampler(policy), args.task, episodes=args.episodes, timestep=t)
            rows.append({"checkpoint": str(path), "method": cfg.method, "timestep": t, "success": rate})
            print(f"{cfg.method:6s} t={t:3d}  success {rate:.3f}  ({args.episodes} episodes)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"task": args.task, "episodes": args.episodes, "rows": rows}
    (args.out / "base_success.json").write_text(json.dumps(result, indent=1))
    table = [f"Success of the pre-trained checkpoints on {args.task} ({args.episodes} episodes each, seeds 10000+)",
             "", "| method | context timestep | success |", "| --- | --- | --- |"]
    table += [f"| {r['method']} | {r['timestep']} | {r['success']:.3f} |" for r in rows]
    (args.out / "base_success.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
