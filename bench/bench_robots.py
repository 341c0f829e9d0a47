"""Control-loop timing of the robot drivers against their peers: the achieved control rate (periods between
executed actions) and the command latency (from the safety-checked action to the command handed to the
robot: IK + publish for the WidowX, the Cartesian motion call for the Franka), over chunks of 5 actions.
The Franka runs twice: the gripper held, and the gripper flipped every action (each hand move takes
~0.8 s: the arm's rate shows whether hand moves hold up the control loop).

    scripts/run.sh python bench/bench_robots.py [--chunks 20]    -> docs/results/bench_robots.json

Peers: franky-sim (libfranka's protocol over MuJoCo, 127.0.0.1) and widowx_sim (the Interbotix xs_sdk's
topics over DDS). Configured rates: Franka 15 Hz (DROID), WidowX 5 Hz (BridgeData).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def timed(obj, name: str, log: list[float]) -> None:
    """Wrap obj.name so each call's duration lands in `log` (s)."""
    inner = getattr(obj, name)

    def call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            log.append(time.perf_counter() - started)

    setattr(obj, name, call)


def run(driver, chunks: int, command: tuple, flip_gripper: bool = False) -> dict:
    driver.reset(seed=0)
    sends: list[float] = []
    target = getattr(driver, command[0]) if command[0] else driver
    timed(target, command[1], sends)
    periods = []
    rng = np.random.default_rng(0)
    for k in range(chunks):
        if driver.ended or k % 10 == 9:
            driver.reset(seed=k)
        chunk = np.zeros((5, 7))
        chunk[:, :3] = rng.uniform(-0.5, 0.5, 3)
        chunk[:, 6] = np.where(np.arange(5) % 2, 1.0, -1.0) if flip_gripper else 1.0
        out = driver.execute(chunk)
        periods += np.diff(out.stamps).tolist()
    delattr(target, command[1])  # the class's method again (the wrapper also held the robot in a cycle)
    periods, sends = np.array(periods) * 1000, np.array(sends) * 1000
    return {"configured_period_ms": round(1000 * driver.options.control_period_s, 2),
            "period_ms_mean": round(float(periods.mean()), 2),
            "period_ms_p90": round(float(np.percentile(periods, 90)), 2),
            "achieved_rate_hz": round(1000 / float(periods.mean()), 2),
            "command_latency_ms_median": round(float(np.median(sends)), 3),
            "command_latency_ms_p90": round(float(np.percentile(sends, 90)), 3), "actions": int(len(periods) + chunks)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "bench_robots.json")
    parser.add_argument("--machine", default="2 cores", help="what else ran on the machine (for the record)")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 200)))
    from tmrl_learning.robots.franka_sim import FrankaSim
    from tmrl_learning.system.driver import make_driver
    from tmrl_learning.tasks import embodiment
    from tmrl_ros.graph import NodeSpec
    from tmrl_ros.processes import GraphProcesses

    results = {}
    with FrankaSim() as address:
        driver = make_driver(embodiment("franka-reach"), 0, address=address, realtime=False, reset_dynamics_factor=0.3)
        driver.connect()
        results["franka (franky-sim)"] = run(driver, args.chunks, ("robot", "move"))
        results["franka, gripper flipped"] = run(driver, args.chunks, ("robot", "move"), flip_gripper=True)
        driver.close()
    with GraphProcesses([NodeSpec("widowx_sim", "xs_sdk", namespace="/wx250s")], Path(tempfile.mkdtemp())):
        driver = make_driver(embodiment("widowx-reach"), 0, address="/wx250s", reset_moving_time_s=0.5)
        driver.connect()
        results["widowx (widowx_sim)"] = run(driver, args.chunks, ("", "_publish"))
        driver.close()
    for name, r in results.items():
        print(f"{name:22s} {r['achieved_rate_hz']:.2f} Hz (configured {1000 / r['configured_period_ms']:.1f}), period "
              f"p90 {r['period_ms_p90']:.1f} ms, command latency median {r['command_latency_ms_median']:.2f} ms")
    args.out.write_text(json.dumps({"command": "scripts/run.sh python bench/bench_robots.py",
                                    "machine": args.machine,
                                    "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
