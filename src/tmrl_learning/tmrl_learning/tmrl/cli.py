"""`tmrl finetune` and `tmrl plot`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_tmrl_commands(sub: argparse._SubParsersAction) -> None:
    from tmrl_learning.tmrl.methods import METHODS

    ft = sub.add_parser("finetune", help="fine-tune with TMRL or a baseline on a simulated task")
    ft.add_argument("--method", choices=sorted(METHODS), default="tmrl")
    ft.add_argument("--task", default="pointmaze-large-to-giant")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--steps", type=int, help="vector steps (default from the config)")
    ft.add_argument("--checkpoint", type=Path, help="pre-trained policy (CSP for tmrl, BC for dsrl, ...)")
    ft.add_argument("--config", type=Path, help="YAML FinetuneConfig (default: built-in defaults)")
    ft.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    ft.add_argument("--out", type=Path, help="run folder (default runs/finetune/<task>-<method>-s<seed>)")
    ft.set_defaults(func=_finetune)

    plot = sub.add_parser("plot", help="learning curves (mean and spread over seeds) from fine-tuning runs")
    plot.add_argument("runs", nargs="+", type=Path,
                      help="run folders; seeds of one variant (method and settings) are averaged")
    plot.add_argument("--out", type=Path, default=Path("docs/results/finetune"))
    plot.add_argument("--trace-episodes", type=int, default=4,
                      help="episodes of each task's first TMRL run to plot the chosen timestep along (0: none)")
    plot.set_defaults(func=_plot)


def _finetune(args: argparse.Namespace) -> int:
    from tmrl_learning.config import from_dict, load_yaml
    from tmrl_learning.csp.checkpoint import read_checkpoint
    from tmrl_learning.csp.cli import parse_overrides
    from tmrl_learning.csp.sampler import load_sampler
    from tmrl_learning.csp.train import make_sampler
    from tmrl_learning.data.envs import VectorEnv
    from tmrl_learning.evaluation_envs import EvaluationEnvs
    from tmrl_learning.tasks import embodiment
    from tmrl_learning.tmrl.config import FinetuneConfig
    from tmrl_learning.tmrl.finetune import finetune
    from tmrl_learning.tmrl.methods import method
    from tmrl_learning.tmrl.offline import offline_transitions

    overrides = parse_overrides(args.set)
    overrides.update(method=args.method, task=args.task, seed=args.seed)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.checkpoint:
        overrides["checkpoint"] = str(args.checkpoint)
    for key, value in method(args.method).defaults.items():
        overrides.setdefault(key, value)
    cfg = load_yaml(FinetuneConfig, args.config, overrides) if args.config else \
        from_dict(FinetuneConfig, _nest(overrides))
    cfg.validate()
    sampler, offline, task = None, None, embodiment(cfg.task)
    if method(cfg.method).steers_policy:
        trained_for = read_checkpoint(cfg.checkpoint)["config"]["task"]
        if cfg.task not in (trained_for, embodiment(trained_for).in_distribution):  # the twin shares the layout
            raise ValueError(f"checkpoint {cfg.checkpoint} was trained for {trained_for}, not {cfg.task}")
        sampler = load_sampler(cfg.checkpoint)
    if cfg.offline_fraction > 0:
        from tmrl_learning.csp.config import PretrainConfig

        data = PretrainConfig(task=cfg.task, dataset_episodes=cfg.offline_episodes)
        offline = offline_transitions(make_sampler(data))
    out = args.out or Path("runs/finetune") / f"{cfg.task}-{cfg.method}-s{cfg.seed}"
    venv = VectorEnv.of(task, cfg.num_envs, seed=cfg.seed)
    eval_envs = EvaluationEnvs(task, cfg.eval_episodes)
    curve = finetune(cfg, out, venv, eval_envs, sampler, offline=offline)
    print(f"{out}: final evaluation success {curve[-1]['eval_success']:.2f} after {curve[-1]['env_steps']} env steps")
    return 0


def _nest(flat: dict) -> dict:
    nested: dict = {}
    for key, value in flat.items():
        target = nested
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def _plot(args: argparse.Namespace) -> int:
    from tmrl_learning.tmrl.evaluate import timestep_traces
    from tmrl_learning.tmrl.plots import plot_runs, plot_timesteps

    table = plot_runs(args.runs, args.out)
    print(table)
    traced: set[str] = set()
    for run in args.runs:
        config = json.loads((run / "config.json").read_text())
        if args.trace_episodes <= 0 or config["method"] != "tmrl" or config["task"] in traced:
            continue
        _, traces, successes = timestep_traces(run, args.trace_episodes)
        path = args.out / f"timesteps-{config['task']}.png"
        plot_timesteps(traces, path, f"{config['task']}: timestep chosen by TMRL ({run.name})", successes)
        traced.add(config["task"])
        print(f"{path}: the timestep along {len(traces)} evaluation episodes of {run}")
    return 0
