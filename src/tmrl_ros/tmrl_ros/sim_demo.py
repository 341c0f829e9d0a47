"""The main job (`make demo`): a short end-to-end fine-tuning run on the default simulated task,
through the ROS 2 graph.

pointmaze-large -> pointmaze-giant: generate a small dataset, pre-train a CSP policy briefly, start
the sim graph (sim_bridge, perception, policy_server, steering, reward_reset, learner, recorder) as
processes over DDS, let TMRL fine-tune for a while with progress shown, then evaluate the learner's
actor, print success before and after, and write plots and the recorded bag. Small defaults (about
ten minutes on 2 cores); the flags scale it up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from tqdm import tqdm

TASK = "pointmaze-large-to-giant"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="folder for data, checkpoints, plots")
    parser.add_argument("--episodes", type=int, default=50, help="dataset episodes (OGBench: 1000)")
    parser.add_argument("--pretrain-steps", type=int, default=400, help="CSP steps (paper: 200000)")
    parser.add_argument("--finetune-seconds", type=float, default=240.0, help="wall time of the graph run")
    parser.add_argument("--robots", type=int, default=1, help="simulated robots feeding the one learner")
    parser.add_argument("--eval-episodes", type=int, default=8)
    return parser.parse_args(argv)


def pretrain_policy(args: argparse.Namespace):
    from tmrl_learning.csp.config import PretrainConfig
    from tmrl_learning.csp.evaluate import success_rate
    from tmrl_learning.csp.sampler import FlowSampler
    from tmrl_learning.csp.train import pretrain

    pre = PretrainConfig(task=TASK, dataset_episodes=args.episodes, dataset_dir=str(args.out / "data"),
                         steps=args.pretrain_steps, eval_every=0, checkpoint_every=100)
    policy, log = pretrain(pre, args.out / "pretrain")
    print(f"tmrl demo:       loss {log[-1]['loss']:.4f}", flush=True)
    print("tmrl demo: [2/5] the pre-trained policy alone on the 4 giant-maze tasks (t = 0)", flush=True)
    before = success_rate(FlowSampler(policy), TASK, episodes=args.eval_episodes, timestep=0, execute=pre.execute)
    print(f"tmrl demo:       success {before:.2f}", flush=True)
    return args.out / "pretrain" / "checkpoint.pt", before


def run_graph(args: argparse.Namespace, checkpoint: Path):
    import rclpy

    from tmrl_ros.graph import recorder_graph, sim_finetune_graph
    from tmrl_ros.monitor import GraphMonitor
    from tmrl_ros.processes import GraphProcesses

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 200)))
    run = args.out / "graph"
    sources = tuple(f"sim{i}" for i in range(args.robots))
    specs = sim_finetune_graph(TASK, str(checkpoint), run, sources=sources)
    bag = run / "bags" / time.strftime("demo_%Y%m%d_%H%M%S")
    specs += recorder_graph(bag.parent, bag_name=bag.name)
    rclpy.init()
    node = rclpy.create_node("tmrl_demo_monitor")
    monitor = GraphMonitor(node)
    graph = GraphProcesses(specs, run / "logs")
    print(f"tmrl demo: [3/5] the ROS 2 graph ({len(specs)} processes, logs in {run / 'logs'}); "
          f"`ros2 topic echo /tmrl/timestep` shows what TMRL picks", flush=True)
    with graph:
        bar = tqdm(total=int(args.finetune_seconds), desc="tmrl graph", unit="s")
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < args.finetune_seconds:
            rclpy.spin_once(node, timeout_sec=0.2)
            if int(elapsed) > bar.n:
                status = monitor.status
                bar.set_postfix(transitions=status.get("transitions", 0), updates=status.get("updates", 0),
                                episodes=len(monitor.episodes), refresh=False)
                bar.update(int(elapsed) - bar.n)
            dead = graph.dead()
            if dead:
                bar.close()
                raise RuntimeError(f"nodes exited: {dead}\n{graph.logs()}")
        bar.close()
    node.destroy_node()
    rclpy.shutdown()
    return run, bag, monitor


def evaluate_learner(args: argparse.Namespace, checkpoint: Path, run: Path) -> float:
    import torch

    from tmrl_learning.csp.sampler import load_sampler
    from tmrl_learning.system.steering import make_agent
    from tmrl_learning.tasks import embodiment
    from tmrl_learning.tmrl.config import FinetuneConfig
    from tmrl_learning.tmrl.evaluate import evaluate
    from tmrl_learning.tmrl.methods import ChunkMaker

    cfg = FinetuneConfig(method="tmrl", task=TASK, checkpoint=str(checkpoint))
    task = embodiment(TASK)
    agent = make_agent(cfg, task)
    agent.load_state_dict(torch.load(run / "learner" / "learner.pt", weights_only=False)["agent"])
    envs = [task.make_env(seed=50_000 + i) for i in range(args.eval_episodes)]
    maker = ChunkMaker(agent, load_sampler(checkpoint), task, cfg.execute)
    return evaluate(maker, envs, cfg.execute, seed=10_000)["success"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"tmrl demo: [1/5] dataset pointmaze-large-navigate ({args.episodes} episodes) and CSP pre-training "
          f"({args.pretrain_steps} steps)", flush=True)
    checkpoint, before = pretrain_policy(args)
    run, bag, monitor = run_graph(args, checkpoint)
    status = monitor.status
    graph_success = monitor.recent_success(min(20, len(monitor.episodes))) if monitor.episodes else 0.0
    print(f"tmrl demo:       {status.get('transitions', 0)} transitions, {status.get('updates', 0)} updates, "
          f"{len(monitor.episodes)} episodes ({graph_success:.2f} success over the last 20)", flush=True)
    print("tmrl demo: [4/5] the learner's actor, evaluated on the giant-maze tasks", flush=True)
    after = evaluate_learner(args, checkpoint, run)
    print("tmrl demo: [5/5] plots", flush=True)
    from tmrl_learning.tmrl.plots import plot_graph_run

    plot = plot_graph_run(monitor.episode_times, [e.success for e in monitor.episodes], monitor.timestep_times,
                          monitor.timesteps, args.out / "plots" / "graph_run.png")
    summary = {"pretrained_success": before, "finetuned_success": after, "transitions": status.get("transitions", 0),
               "updates": status.get("updates", 0), "episodes": len(monitor.episodes),
               "distinct_timesteps": len(set(monitor.timesteps)), "bag": str(bag)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"tmrl demo: done: success {before:.2f} -> {after:.2f} (deterministic actor, {args.eval_episodes} "
          f"episodes); plot {plot}; bag {bag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
