"""Small helpers shared by the benchmarks: timing and the JSON report."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import torch


def time_ms(fn, repeats: int = 20, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(samples), 3), "min_ms": round(min(samples), 3)}


def time_interleaved(fns: dict, repeats: int = 20, warmup: int = 3) -> dict:
    """Time several functions in alternation (a, b, a, b, ...) so that a noisy neighbour hits all
    of them alike: {name: {median_ms, min_ms}}."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: {"median_ms": round(statistics.median(v), 3), "min_ms": round(min(v), 3)}
            for name, v in samples.items()}


def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "processor": platform.processor()}


def write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
