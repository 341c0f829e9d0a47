"""Benchmark: dataset generation speed (environment steps per second) for each OGBench recipe.

    python bench/bench_datagen.py [--episodes N] [--out docs/results/bench_datagen.json]

Pointmaze runs in one process; cube-single-play in one process and in one process per core, so the
parallel speed-up is measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from pathlib import Path

from tmrl_learning.data.generate import generate, generate_cube, recipe


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    dataset = fn()
    return time.perf_counter() - start, len(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=4, help="episodes per recipe (small by default)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_datagen.json"))
    args = parser.parse_args()

    results = {}
    for name in ("pointmaze-large-navigate", "pointmaze-giant-navigate"):
        rec = recipe(name).with_(episodes=args.episodes)
        seconds, rows = timed(lambda r=rec: generate(r, progress=False))
        results[name] = {"rows": rows, "seconds": round(seconds, 2), "steps_per_s": round(rows / seconds)}
    cube = recipe("cube-single-play").with_(episodes=max(2, args.episodes))
    cores = multiprocessing.cpu_count()
    for workers in (1, cores):
        seconds, rows = timed(lambda w=workers: generate_cube(cube, progress=False, workers=w))
        results[f"cube-single-play/{workers}proc"] = {"rows": rows, "seconds": round(seconds, 2),
                                                       "steps_per_s": round(rows / seconds)}
    one, many = results["cube-single-play/1proc"], results[f"cube-single-play/{cores}proc"]
    report = {
        "benchmark": "dataset generation",
        "command": f"python bench/bench_datagen.py --episodes {args.episodes}",
        "machine": {"cpus": cores, "python": platform.python_version(), "processor": platform.processor()},
        "results": results,
        "cube_parallel_speedup": round(many["steps_per_s"] / one["steps_per_s"], 2),
        "full_size_estimate_minutes": {
            name: round(recipe(name).episodes * recipe(name).steps_per_episode
                        / results[key]["steps_per_s"] / 60, 1)
            for name, key in (("pointmaze-large-navigate", "pointmaze-large-navigate"),
                              ("pointmaze-giant-navigate", "pointmaze-giant-navigate"),
                              ("cube-single-play", f"cube-single-play/{cores}proc"))},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
