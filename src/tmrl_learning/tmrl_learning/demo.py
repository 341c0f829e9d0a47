"""`tmrl demo`: the main job, a short end-to-end fine-tuning run on the default simulated task.

pointmaze-large -> pointmaze-giant: generate a small dataset, pre-train a CSP policy briefly,
fine-tune it with TMRL in-process, print success and write plots. Small defaults (a few minutes on
2 cores); the flags scale it up. The same run through the ROS 2 graph is `tmrl_ros.sim_demo`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tmrl_learning.csp.config import PretrainConfig
from tmrl_learning.csp.evaluate import success_rate
from tmrl_learning.csp.sampler import FlowSampler
from tmrl_learning.csp.train import pretrain
from tmrl_learning.data.envs import VectorEnv
from tmrl_learning.evaluation_envs import EvaluationEnvs
from tmrl_learning.tasks import embodiment
from tmrl_learning.tmrl.agent import AgentConfig
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.evaluate import timestep_traces
from tmrl_learning.tmrl.finetune import finetune
from tmrl_learning.tmrl.plots import plot_runs, plot_timesteps

TASK = "pointmaze-large-to-giant"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="folder for data, checkpoints, plots")
    parser.add_argument("--episodes", type=int, default=50, help="dataset episodes (OGBench: 1000)")
    parser.add_argument("--pretrain-steps", type=int, default=400, help="CSP steps (paper: 200000)")
    parser.add_argument("--finetune-steps", type=int, default=400, help="TMRL vector steps (paper: 2M)")


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    print(f"tmrl demo: [1/4] dataset pointmaze-large-navigate ({args.episodes} episodes) and "
          f"CSP pre-training ({args.pretrain_steps} steps)", flush=True)
    pre = PretrainConfig(task=TASK, dataset_episodes=args.episodes, dataset_dir=str(out / "data"),
                         steps=args.pretrain_steps, eval_every=0, checkpoint_every=100)
    policy, log = pretrain(pre, out / "pretrain")
    print(f"tmrl demo:       loss {log[-1]['loss']:.4f}; checkpoint {out / 'pretrain' / 'checkpoint.pt'}")

    print("tmrl demo: [2/4] pre-trained policy on the 4 giant-maze tasks at t = 0", flush=True)
    sampler = FlowSampler(policy)
    before = success_rate(sampler, TASK, episodes=8, timestep=0, execute=pre.execute)
    print(f"tmrl demo:       success {before:.2f}")

    print(f"tmrl demo: [3/4] TMRL fine-tuning ({args.finetune_steps} vector steps, 4 envs)", flush=True)
    cfg = FinetuneConfig(method="tmrl", task=TASK, checkpoint=str(out / "pretrain" / "checkpoint.pt"),
                         steps=args.finetune_steps,
                         schedule=UpdateSchedule(warmup_transitions=4 * min(500, args.finetune_steps // 4)),
                         eval_every=max(1, args.finetune_steps // 4), eval_episodes=8,
                         checkpoint_every=max(1, args.finetune_steps // 4), agent=AgentConfig())
    run = out / "finetune"
    task = embodiment(TASK)
    eval_envs = EvaluationEnvs(task, cfg.eval_episodes)
    curve = finetune(cfg, run, VectorEnv.of(task, cfg.num_envs, seed=0), eval_envs, sampler)
    after = curve[-1]["eval_success"]
    print(f"tmrl demo:       evaluation success {after:.2f} after {curve[-1]['env_steps']} env steps")

    print("tmrl demo: [4/4] plots", flush=True)
    plot_runs([run], out / "plots")
    _, traces, successes = timestep_traces(run)
    plot_timesteps(traces, out / "plots" / "timesteps.png", "context timestep chosen by TMRL (giant maze)", successes)
    summary = {"pretrained_success": before, "finetuned_success": after, "env_steps": curve[-1]["env_steps"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"tmrl demo: done: success {before:.2f} -> {after:.2f}; plots in {out / 'plots'}")
    print("tmrl demo: the same run through the ROS 2 node graph: make demo (python -m tmrl_ros.sim_demo)")
    return 0
