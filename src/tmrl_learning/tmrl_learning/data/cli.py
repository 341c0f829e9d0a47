"""`tmrl data generate <name>` and `tmrl data info <file>`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tmrl_learning.data.dataset import load_dataset
from tmrl_learning.data.generate import DEFAULT_CACHE, RECIPES, dataset_path, get_dataset, recipe


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="generate and inspect OGBench-layout datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    gen = data_sub.add_parser("generate", help="generate a dataset (cached by its recipe's hash)")
    gen.add_argument("name", choices=sorted(RECIPES))
    gen.add_argument("--episodes", type=int, help="number of episodes (default: OGBench's full size)")
    gen.add_argument("--steps", type=int, help="steps per episode (default: OGBench's)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", type=Path, default=DEFAULT_CACHE, help=f"cache folder (default {DEFAULT_CACHE})")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    info = data_sub.add_parser("info", help="print a dataset file's keys, shapes and metadata")
    info.add_argument("file", type=Path)
    info.set_defaults(func=_info)


def _generate(args: argparse.Namespace) -> int:
    rec = recipe(args.name)
    changes = {"seed": args.seed}
    if args.episodes is not None:
        changes["episodes"] = args.episodes
    if args.steps is not None:
        changes["steps_per_episode"] = args.steps
    rec = rec.with_(**changes)
    if rec.episodes < 1 or rec.steps_per_episode < 2:
        raise ValueError(f"need episodes >= 1 and steps >= 2, got {rec.episodes} and {rec.steps_per_episode}")
    cached = dataset_path(rec, args.out).is_file()
    start = time.perf_counter()
    dataset, path = get_dataset(rec, args.out, progress=not args.quiet)
    took = time.perf_counter() - start
    verb = "reused" if cached else f"generated in {took:.1f} s"
    print(f"{path}: {len(dataset)} rows, {dataset.num_episodes} episodes ({verb}, "
          f"{path.stat().st_size / 2**20:.1f} MiB)")
    return 0


def _info(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.file)
    print(f"{args.file}: {len(dataset)} rows, {dataset.num_episodes} episodes")
    for key, value in dataset.arrays().items():
        print(f"  {key:13s} {str(value.dtype):8s} {tuple(value.shape)}")
    for key, value in sorted(dataset.metadata.items()):
        if key != "keys":
            print(f"  {key}: {value}")
    return 0
