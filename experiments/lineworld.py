"""TMRL vs DSRL on LineWorld (the toy task where the needed behaviour exists in the data only under
another context), several seeds: learning curves, a results table and the timesteps TMRL picks.

    scripts/run.sh python experiments/lineworld.py [--seeds 3] [--steps 500] [--out docs/results/lineworld]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from tmrl_learning.csp.sampler import FlowSampler
from tmrl_learning.csp.toy import pretrain_lineworld
from tmrl_learning.data.envs import VectorEnv
from tmrl_learning.tasks import LINEWORLD
from tmrl_learning.tmrl.agent import AgentConfig
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.evaluate import evaluate
from tmrl_learning.tmrl.finetune import finetune
from tmrl_learning.tmrl.methods import ChunkMaker, build_agent
from tmrl_learning.tmrl.plots import plot_runs, plot_timesteps

SMALL_AGENT = dict(hidden=64, actor_layers=2, critic_layers=2, critics=2, batch_size=128, gamma=0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("docs/results/lineworld"))
    parser.add_argument("--runs", type=Path, default=Path("runs/lineworld"))
    args = parser.parse_args()
    dirs = []
    for method, t_max in (("tmrl", None), ("dsrl", 0)):
        for seed in range(args.seeds):
            policy = FlowSampler(pretrain_lineworld(t_max, seed))
            cfg = FinetuneConfig(method=method, task="lineworld", checkpoint="in-memory", seed=seed, num_envs=4,
                                 execute=2, steps=args.steps, eval_every=50,
                                 schedule=UpdateSchedule(warmup_transitions=400), eval_episodes=8,
                                 checkpoint_every=0, agent=AgentConfig(**SMALL_AGENT))
            run = args.runs / f"{method}-s{seed}"
            finetune(cfg, run, VectorEnv.of(LINEWORLD, 4, seed=100 * seed),
                     [LINEWORLD.make_env(99 + i) for i in range(8)], policy, progress=False)
            dirs.append(run)
            if method == "tmrl" and seed == 0:
                agent = build_agent(cfg.method, cfg.agent, 2, 1, 1, policy.num_timesteps, seed=seed)
                agent.load_state_dict(torch.load(run / "agent.pt", weights_only=False)["agent"])
                traces = evaluate(ChunkMaker(agent, policy, LINEWORLD, cfg.execute),
                                  [LINEWORLD.make_env(7 + i) for i in range(8)], cfg.execute, seed=7,
                                  record_timesteps=True)["timesteps"]
                args.out.mkdir(parents=True, exist_ok=True)
                plot_timesteps(traces, args.out / "timesteps.png", "LineWorld: timestep chosen by TMRL (T = 20)")
    print(plot_runs(dirs, args.out))
    (args.out / "COMMAND").write_text("scripts/run.sh python experiments/lineworld.py " + " ".join(sys.argv[1:]) + "\n")


if __name__ == "__main__":
    main()
