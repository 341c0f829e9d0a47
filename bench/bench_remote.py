"""Latency of one chunk, locally vs through openpi's websocket protocol (`tmrl serve` on this machine,
loopback), batch 1, side by side in one run, for LineWorld's small flow policy and for the toy-width
pi0 VLA (transformers' PI0 at toy width: prefix of 32 tokens x 32, 10 Euler steps of the expert).

    scripts/run.sh python bench/bench_remote.py [--checkpoint CKPT] [--n 200]   -> docs/results/bench_remote.json

What it measures is the protocol's overhead (msgpack + websocket round trip) next to each model's own time.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import PI0ForConditionalGeneration

from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.csp.toy import save_lineworld_checkpoint
from tmrl_learning.sampler import draw_inputs
from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, save_csp_pi0, tiny_pi0_config

ROOT = Path(__file__).resolve().parents[1]


def timings(sampler, n: int) -> np.ndarray:
    inputs = draw_inputs(sampler, 1, torch.Generator().manual_seed(0))
    context = np.ones((1, sampler.context_dim), np.float32)
    proprio = np.zeros((1, sampler.proprio_dim), np.float32)
    out = []
    for k in range(n + 10):
        started = time.perf_counter()
        sampler.sample(context, proprio, inputs["action_noise"], np.array([k % (sampler.num_timesteps + 1)]),
                       inputs["context_noise"])
        out.append(time.perf_counter() - started)
    return np.array(out[10:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "bench_remote.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    models = {"flow policy": args.checkpoint or save_lineworld_checkpoint(folder / "checkpoint.pt", steps=50),
              "pi0 (toy width)": save_csp_pi0(folder / "pi0", CspPi0(PI0ForConditionalGeneration(
                  tiny_pi0_config(horizon=8)), CspPi0Config(7, 8, 16)))}
    rows = {}
    for model, checkpoint in models.items():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "tmrl_learning.cli", "serve", str(checkpoint), "--host",
                                   "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            local = load_sampler(checkpoint)
            remote = load_sampler(f"127.0.0.1:{port}", backend="openpi")
            for where, sampler in (("local (torch)", local), ("remote (openpi websocket, loopback)", remote)):
                ms = timings(sampler, args.n)
                name = f"{model}, {where}"
                rows[name] = {"median_ms": round(float(np.median(ms)), 3),
                              "p90_ms": round(float(np.percentile(ms, 90)), 3)}
                print(f"{name:60s} median {rows[name]['median_ms']:.2f} ms  p90 {rows[name]['p90_ms']:.2f} ms")
        finally:
            server.terminate()
            server.wait(10)
    result = {"command": "scripts/run.sh python bench/bench_remote.py" + (f" --checkpoint {args.checkpoint}"
                                                                          if args.checkpoint else ""),
              "models": {k: str(v) if k != "flow policy" or args.checkpoint else "lineworld (50 steps)"
                         for k, v in models.items()}, "n": args.n, "threads": 1, "batch": 1,
              "machine": "2 cores, beside two 1-thread experiment processes (nice 19)",
              "results": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
