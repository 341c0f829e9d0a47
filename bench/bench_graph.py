"""Benchmark of the ROS 2 graph, each against the in-process reference in the same run:

1. policy-server round trip: a SampleChunk goal over DDS (send goal, accept, result) vs a direct
   PolicyService.sample call on the same requests;
2. macro-steps/s of the sim graph (driver, perception, steering, policy server, learner, reward_reset
   as processes) vs the in-process runner (`tmrl_learning.tmrl.finetune`, one env, the same agent),
   acting only (the messaging cost) and learning (UTD 1);
3. transitions/s the learner ingests (published as fast as possible, no updates).

    python bench/bench_graph.py [--seconds 60] [--requests 200] [--out docs/results/bench_graph.json]

Default task: LineWorld (tiny networks: the ROS overhead at its most visible).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_report  # noqa: E402

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 200)))

import rclpy  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402

from tmrl_learning.csp.sampler import load_sampler  # noqa: E402
from tmrl_learning.csp.toy import save_lineworld_checkpoint  # noqa: E402
from tmrl_learning.data.envs import VectorEnv  # noqa: E402
from tmrl_learning.system.policy_service import ChunkRequest, PolicyService  # noqa: E402
from tmrl_learning.tasks import embodiment  # noqa: E402
from tmrl_learning.tmrl.agent import AgentConfig  # noqa: E402
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule  # noqa: E402
from tmrl_learning.tmrl.finetune import finetune  # noqa: E402
from tmrl_msgs.action import SampleChunk  # noqa: E402
from tmrl_msgs.msg import Context, SteeringCommand, Transition  # noqa: E402
from tmrl_ros import qos  # noqa: E402
from tmrl_ros.graph import NodeSpec, sim_finetune_graph  # noqa: E402
from tmrl_ros.monitor import GraphMonitor  # noqa: E402
from tmrl_ros.processes import GraphProcesses  # noqa: E402

AGENT = dict(hidden=64, actor_layers=2, critic_layers=2, critics=2, batch_size=128, gamma=0.95)


def spin_for(node, seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        rclpy.spin_once(node, timeout_sec=0.05)


def round_trip(node, checkpoint: Path, requests: int, tmp: Path) -> dict:
    rng = np.random.default_rng(0)
    reqs = [ChunkRequest(np.array([1.0]), np.zeros(0), rng.normal(size=1), int(rng.integers(0, 21)),
                         rng.normal(size=1)) for _ in range(requests)]
    direct = {}
    for backend in ("torch", "onnx"):  # the server runs "onnx"; the ratio is against the same sampler
        service = PolicyService.from_checkpoint(str(checkpoint), threads=1, backend=backend,
                                                onnx_path=str(tmp / "direct.onnx"))
        times = []
        for req in reqs:
            start = time.perf_counter()
            service.sample(req)
            times.append((time.perf_counter() - start) * 1e3)
        direct[backend] = statistics.median(times)
    client = ActionClient(node, SampleChunk, "/tmrl/sample_chunk")
    with GraphProcesses([NodeSpec("policy_server", "policy_server", parameters={"checkpoint": str(checkpoint)})],
                        tmp / "rt") as graph:
        assert client.wait_for_server(timeout_sec=60), graph.logs()
        over_ros = []
        for req in reqs:
            goal = SampleChunk.Goal(context=Context(context=req.context.tolist()), steering=SteeringCommand(
                action_noise=req.action_noise.tolist(), context_timestep=req.context_timestep,
                context_noise=req.context_noise.tolist(), guidance_weight=float("nan")))
            start = time.perf_counter()
            sent = client.send_goal_async(goal)
            spin_for(node, 10, sent.done)
            result = sent.result().get_result_async()
            spin_for(node, 10, result.done)
            assert result.result().result.accepted
            over_ros.append((time.perf_counter() - start) * 1e3)
    r = statistics.median(over_ros)
    return {"direct_torch_median_ms": round(direct["torch"], 3), "direct_onnx_median_ms": round(direct["onnx"], 3),
            "ros_median_ms (server backend onnx)": round(r, 3),
            "ratio_ros_vs_direct_onnx": round(r / direct["onnx"], 2), "requests": requests}


def graph_rate(node, task: str, checkpoint: Path, seconds: float, tmp: Path, learning: bool,
               composed: bool = False, backend: str = "onnx") -> dict:
    """Macro-steps/s of the graph vs the in-process runner on the same task and agent. `learning`
    False: acting only (uniformly random steering, no learner, no updates) on both sides, which
    isolates what the graph's messaging costs; True: the learner updates at UTD 1 on both sides.
    `composed`: steering samples in its own process (`sample_in_process`, with `backend`) instead of
    calling the policy server. The graph runs with config/sim_finetune.yaml, as launched, plus these
    overrides; the in-process runner samples with PyTorch."""
    execute = 2 if task == "lineworld" else 5
    agent = AGENT if task == "lineworld" else {}
    schedule = UpdateSchedule(warmup_transitions=300 if learning else 10**9, updates_per_transition=1.0)
    agent_params = {"t_max_fraction": 1.0, "schedule.warmup_transitions": schedule.warmup_transitions,
                    "schedule.updates_per_transition": 1.0, **{f"agent.{k}": v for k, v in agent.items()}}
    overrides = {"steering": {**agent_params, "execute": execute, "sample_in_process": composed,
                              "sampler_backend": backend},
                 "learner": {**agent_params, "execute": execute}}
    label = f"{task}-{learning}-{composed}-{backend}"
    specs = sim_finetune_graph(task, str(checkpoint), tmp / f"graph-{label}", overrides=overrides)
    if composed:
        specs = [s for s in specs if s.name != "policy_server"]
    if not learning:
        specs = [s for s in specs if s.name != "learner"]
    monitor = GraphMonitor(node, transitions_only=True)  # the observer should cost the graph little
    with GraphProcesses(specs, tmp / f"logs-{label}") as graph:
        count = lambda: sum(key[0] == "sim0" for key in monitor.transition_keys)  # noqa: E731 - this graph's only
        spin_for(node, 120, lambda: count() >= 20)  # started and flowing
        n0, t0 = count(), time.monotonic()
        spin_for(node, seconds)
        rate = (count() - n0) / (time.monotonic() - t0)
        status = dict(monitor.status)
        assert not graph.dead(), graph.logs()
    steps = max(int(rate * seconds), 50)
    cfg = FinetuneConfig(method="tmrl", task=task, checkpoint=str(checkpoint), num_envs=1, execute=execute,
                         steps=steps, schedule=schedule, eval_every=0, checkpoint_every=0, threads=1,
                         agent=AgentConfig(**agent))
    envs = VectorEnv.of(embodiment(task), 1)
    start = time.perf_counter()
    finetune(cfg, tmp / f"inproc-{label}", envs, [], load_sampler(checkpoint), progress=False)
    inproc = steps / (time.perf_counter() - start)
    return {"task": task, "learning": learning,
            "sampling": f"in steering (composed, {backend})" if composed else "policy_server action (onnx)",
            "graph_macro_steps_per_s": round(rate, 1),
            "in_process_macro_steps_per_s": round(inproc, 1), "graph_slowdown": round(inproc / rate, 2),
            "learner_updates_during_window": status.get("updates") if learning else 0, "seconds": seconds}


def learner_ratio(node, checkpoint: Path, robots: int, seconds: float, tmp: Path, max_lag: int) -> dict:
    """Several simulated robots (LineWorld: fast envs, the learner's worst case) feeding one learner
    with the default agent (256 wide, 5 critics, batch 256) and the default schedule (0.25 updates per
    transition): the update-to-data ratio the learner achieves, with the actors paced by it (max_lag
    as configured) and without (max_lag 0: the robots run free)."""
    schedule = UpdateSchedule(warmup_transitions=300, max_lag=max_lag)
    params = {"schedule.warmup_transitions": schedule.warmup_transitions, "schedule.max_lag": max_lag}
    overrides = {"steering": {**params, "execute": 2}, "learner": {**params, "execute": 2}}
    label = f"ratio-{robots}-{max_lag}"
    specs = sim_finetune_graph("lineworld", str(checkpoint), tmp / label, overrides=overrides,
                               sources=tuple(f"sim{i}" for i in range(robots)))
    monitor = GraphMonitor(node, transitions_only=True)
    with GraphProcesses(specs, tmp / f"logs-{label}") as graph:
        spin_for(node, 180, lambda: monitor.status.get("updates", 0) >= 5)  # past the warm-up and compiling
        first, t0 = dict(monitor.status), time.monotonic()
        spin_for(node, seconds)
        last, elapsed = dict(monitor.status), time.monotonic() - t0
        assert not graph.dead(), graph.logs()
    transitions = last.get("transitions", 0) - first.get("transitions", 0)
    updates = last.get("updates", 0) - first.get("updates", 0)
    return {"robots": robots, "max_lag": max_lag, "configured_updates_per_transition": schedule.updates_per_transition,
            "transitions_per_s": round(transitions / elapsed, 1), "updates_per_s": round(updates / elapsed, 1),
            "achieved_updates_per_transition": round(updates / max(transitions, 1), 3),
            "achieved_since_warmup": last.get("updates_per_transition"), "seconds": round(elapsed, 1)}


def ingest_rate(node, checkpoint: Path, count: int, tmp: Path) -> dict:
    spec = NodeSpec("learner", "learner", parameters={
        "task": "lineworld", "checkpoint": str(checkpoint), "out_dir": str(tmp / "ingest"),
        "schedule.warmup_transitions": 10**9, "learner.checkpoint_every": 10**9,
        **{f"agent.{k}": v for k, v in AGENT.items()}})
    monitor = GraphMonitor(node)
    pub = node.create_publisher(Transition, "/tmrl/transitions", qos.transitions(count))
    with GraphProcesses([spec], tmp / "ingest_logs") as graph:
        spin_for(node, 60, lambda: pub.get_subscription_count() > 0 and monitor.status)
        start = time.monotonic()
        for i in range(count):
            pub.publish(Transition(source="bench", step=i, observation=[0.0, 1.0], steering_action=[0.0] * 3,
                                   next_observation=[0.0, 1.0], reward=-1.0))
        published = time.monotonic() - start
        spin_for(node, 120, lambda: monitor.status.get("transitions", 0) >= count)
        elapsed = time.monotonic() - start
        got = monitor.status.get("transitions", 0)
        assert not graph.dead(), graph.logs()
    node.destroy_publisher(pub)  # its transient-local history must not reach later measurements
    return {"transitions": count, "received": got, "seconds": round(elapsed, 2),
            "transitions_per_s": round(got / elapsed, 1), "publish_seconds": round(published, 2),
            "note": "elapsed includes up to 1 s of status-report delay"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--transitions", type=int, default=5000)
    parser.add_argument("--only-ratio", action="store_true", help="only the learner's update-to-data ratio "
                        "with 1, 2 and 4 robots")
    parser.add_argument("--pointmaze-checkpoint", type=Path, help="also measure pointmaze-giant with this CSP "
                        "checkpoint (acting only: the real policy's sampling cost)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_graph.json"))
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node("bench_graph")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkpoint = save_lineworld_checkpoint(tmp / "csp.pt")
        if args.only_ratio:
            ratio = [learner_ratio(node, checkpoint, robots, args.seconds, tmp, max_lag)
                     for robots in (1, 2, 4) for max_lag in (UpdateSchedule().max_lag, 0)]
            write_report(args.out, {"machine": machine(), "command": "python bench/bench_graph.py "
                                    + " ".join(sys.argv[1:]), "learner_ratio": ratio})
            return
        report = {"machine": machine(), "command": "python bench/bench_graph.py " + " ".join(sys.argv[1:]),
                  "policy_server_round_trip": round_trip(node, checkpoint, args.requests, tmp),
                  "sim_graph_vs_in_process": [
                      graph_rate(node, "lineworld", checkpoint, args.seconds, tmp, False),
                      graph_rate(node, "lineworld", checkpoint, args.seconds, tmp, False, composed=True),
                      graph_rate(node, "lineworld", checkpoint, args.seconds, tmp, True),
                      graph_rate(node, "lineworld", checkpoint, args.seconds, tmp, True, composed=True)],
                  "learner_ingest": ingest_rate(node, checkpoint, args.transitions, tmp),
                  "learner_ratio": [learner_ratio(node, checkpoint, robots, args.seconds, tmp, max_lag)
                                    for robots in (1, 2, 4) for max_lag in (UpdateSchedule().max_lag, 0)]}
        if args.pointmaze_checkpoint:
            for composed, backend in ((False, "onnx"), (True, "onnx"), (True, "torch")):
                report["sim_graph_vs_in_process"].append(graph_rate(
                    node, "pointmaze-large-to-giant", args.pointmaze_checkpoint, args.seconds, tmp, False, composed,
                    backend))
    write_report(args.out, report)


if __name__ == "__main__":
    main()
