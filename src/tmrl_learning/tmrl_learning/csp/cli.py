"""`tmrl pretrain` and `tmrl coverage`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def add_csp_commands(sub: argparse._SubParsersAction) -> None:
    pre = sub.add_parser("pretrain", help="pre-train a CSP policy (or a BC/PostBC/CFG baseline)")
    pre.add_argument("--config", type=Path, required=True, help="YAML config, e.g. config/pointmaze.yaml")
    pre.add_argument("--method", choices=["csp", "bc", "postbc", "cfg"], help="override the config's method")
    pre.add_argument("--steps", type=int, help="override the number of training steps")
    pre.add_argument("--out", type=Path, help="run folder (default runs/pretrain/<task>-<method>-s<seed>)")
    pre.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override any config key, dotted for nested ones (policy.model.hidden=256)")
    pre.add_argument("--bag", type=Path, help="train on a rosbag2: a tmrl graph's recording (its transitions), or a "
                     "teleoperation recording in standard messages (with --observation-topic and --action-topic)")
    pre.add_argument("--observation-topic", help="the bag's observations (sensor_msgs/JointState, Float32MultiArray)")
    pre.add_argument("--action-topic", help="the bag's actions (std_msgs/Float32MultiArray)")
    pre.add_argument("--image-topic", action="append", default=[], help="a camera (sensor_msgs/Image), encoded and "
                     "appended to the observation; repeat for several (encoder: --set image_encoder=..., image_size)")
    pre.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    pre.set_defaults(func=_pretrain)

    frz = sub.add_parser("freeze", help="a checkpoint's policy without its optimizer state, to steer or to ship")
    frz.add_argument("checkpoint", type=Path)
    frz.add_argument("out", type=Path)
    frz.set_defaults(func=_freeze)

    srv = sub.add_parser("serve", help="serve a policy checkpoint over openpi's websocket policy protocol")
    srv.add_argument("checkpoint", type=Path)
    srv.add_argument("--host", default="0.0.0.0")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    srv.add_argument("--threads", type=int, default=1)
    srv.add_argument("--device", default="cpu", help="where a pi0 folder's model runs (cuda on a GPU machine)")
    srv.set_defaults(func=_serve)

    cov = sub.add_parser("coverage", help="success@K of pre-trained policies at fixed context timesteps")
    cov.add_argument("checkpoints", nargs="+", type=Path)
    cov.add_argument("--starts", type=int, default=50)
    cov.add_argument("--k", type=int, default=20)
    cov.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    cov.add_argument("--indist-starts", type=int, default=None,
                     help="starts for success@K at t = 0 on the in-distribution twin (default: --starts; 0: skip)")
    cov.add_argument("--guidance", type=float, nargs="+", default=None,
                     help="CFG weights omega to measure a CFG checkpoint at (0: unconditional, 1: conditional; "
                          "default: the conditional policy alone); other methods ignore it")
    cov.add_argument("--out", type=Path, default=Path("runs/coverage"))
    cov.add_argument("--threads", type=int, default=1, help="torch threads (1: steady beside other work)")
    cov.set_defaults(func=_coverage)


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set wants KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out


def _pretrain(args: argparse.Namespace) -> int:
    from tmrl_learning.config import load_yaml
    from tmrl_learning.csp.config import PretrainConfig
    from tmrl_learning.csp.evaluate import success_rate
    from tmrl_learning.csp.sampler import FlowSampler
    from tmrl_learning.csp.train import pretrain
    from tmrl_learning.tasks import embodiment

    overrides = parse_overrides(args.set)
    if args.method:
        overrides["method"] = args.method
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.bag:
        overrides["dataset_bag"] = str(args.bag)
    if bool(args.observation_topic) != bool(args.action_topic):
        raise SystemExit("tmrl pretrain: --observation-topic and --action-topic go together")
    if args.observation_topic:
        if not args.bag:
            raise SystemExit("tmrl pretrain: --observation-topic needs --bag")
        overrides.update(bag_observation_topic=args.observation_topic, bag_action_topic=args.action_topic,
                         bag_image_topics=list(args.image_topic))
    cfg = load_yaml(PretrainConfig, args.config, overrides)
    cfg.validate()
    out = args.out or Path("runs/pretrain") / f"{cfg.task}-{cfg.method}-s{cfg.seed}"

    def evaluate(policy, c):
        task, sampler = embodiment(c.task), FlowSampler(policy)
        scores = {"success": success_rate(sampler, c.task, c.eval_episodes, timestep=0, execute=c.execute)}
        if task.in_distribution:  # is the policy learning at all, on tasks its data covers?
            scores["success_indist"] = success_rate(sampler, task.in_distribution, c.eval_episodes, timestep=0,
                                                    execute=c.execute)
        return scores

    _, log = pretrain(cfg, out, resume=not args.no_resume, evaluate_fn=evaluate)
    last = [e for e in log if "loss" in e][-1]
    evals = [e for e in log if "eval/success" in e]
    print(f"{out}/checkpoint.pt: step {last['step']}, loss {last['loss']:.4f}"
          + (f", success {evals[-1]['eval/success']:.2f}" if evals else ""))
    return 0


def _freeze(args: argparse.Namespace) -> int:
    from tmrl_learning.csp.checkpoint import freeze_checkpoint, read_checkpoint

    out = freeze_checkpoint(args.checkpoint, args.out)
    step = read_checkpoint(out)["step"]
    mib = lambda path: path.stat().st_size / 2**20  # noqa: E731
    print(f"{out}: step {step}, {mib(out):.1f} MiB (was {mib(args.checkpoint):.1f})")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)  # 2 threads beside another busy process ran ~30x slower here
    from tmrl_learning.csp.coverage import run_coverage

    indist = args.starts if args.indist_starts is None else args.indist_starts
    report = run_coverage(args.checkpoints, args.starts, args.k, args.fractions, args.out, indist_starts=indist,
                          guidance=args.guidance)
    print(json.dumps(report["summary"], indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import torch

    from tmrl_learning.csp.sampler import load_sampler
    from tmrl_learning.remote.openpi import serve

    torch.set_num_threads(args.threads)
    sampler = load_sampler(args.checkpoint, args.backend, args.threads, device=args.device)
    serve(sampler, args.host, args.port, ready=lambda: print(f"serving {args.checkpoint} on ws://{args.host}:{args.port}",
                                                             flush=True))
    return 0
