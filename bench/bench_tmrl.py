"""Benchmark: one steering update at batch 256 with 5 critics, ours against a straightforward
reference in the same run, and env-steps/s of the whole fine-tuning loop.

Ours: the critic ensemble as batched matmuls, the cheaper Mish of `tmrl_learning.activations`,
fused Adam; and the same with `agent.compile` (the critic and actor losses compiled, each as one
graph) and with `agent.bf16` on top. Reference:
5 separate `nn.Sequential` critics (nn.LayerNorm, nn.Mish) in a Python loop, an `nn.Mish` actor
and per-tensor Adam (it shares the rest of the update code, so it also skips the
critic's weight gradients in the actor step).

    python bench/bench_tmrl.py [--loop-steps 100] [--out docs/results/bench_tmrl.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, time_interleaved, write_report  # noqa: E402

from tmrl_learning.activations import Mish  # noqa: E402
from tmrl_learning.csp.model import DiTConfig  # noqa: E402
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig  # noqa: E402
from tmrl_learning.csp.sampler import FlowSampler  # noqa: E402
from tmrl_learning.data.envs import VectorEnv  # noqa: E402
from tmrl_learning.tasks import embodiment  # noqa: E402
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent  # noqa: E402
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule  # noqa: E402
from tmrl_learning.tmrl.finetune import finetune  # noqa: E402
from tmrl_learning.tmrl.replay import ReplayBuffer  # noqa: E402


class LoopCritics(nn.Module):
    """The straightforward reference: 5 separate LayerNorm MLP critics called in a Python loop."""

    def __init__(self, members: int, inputs: int, hidden: int = 256, layers: int = 3):
        super().__init__()

        def mlp():
            mods, size = [], inputs
            for _ in range(layers):
                mods += [nn.Linear(size, hidden), nn.LayerNorm(hidden), nn.Mish()]
                size = hidden
            return nn.Sequential(*mods, nn.Linear(hidden, 1))

        self.members = nn.ModuleList(mlp() for _ in range(members))

    def forward(self, obs, action):
        x = torch.cat([obs, action], -1)
        return torch.stack([m(x).squeeze(-1) for m in self.members])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop-steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("docs/results/bench_tmrl.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    obs_dim, heads = 4, {"noise": 2, "timestep": 1, "context_noise": 4}
    buffer = ReplayBuffer(obs_dim, 7, 10_000)
    buffer.add(observation=rng.normal(size=(5000, 4)), steering_action=rng.uniform(-1, 1, (5000, 7)),
               reward=-np.ones(5000), next_observation=rng.normal(size=(5000, 4)), terminated=np.zeros(5000))

    batched = SteeringAgent(obs_dim, AgentConfig(heads=dict(heads)))
    loop = SteeringAgent(obs_dim, AgentConfig(heads=dict(heads)))
    loop.critic = LoopCritics(5, obs_dim + loop.critic_width)
    loop.target = LoopCritics(5, obs_dim + loop.critic_width).requires_grad_(False)
    for index, module in enumerate(loop.actor.trunk):
        if isinstance(module, Mish):
            loop.actor.trunk[index] = nn.Mish()
    loop.critic_opt = torch.optim.Adam(loop.critic.parameters(), lr=3e-4)
    loop.actor_opt = torch.optim.Adam([{"params": list(loop.actor.parameters())},
                                       {"params": list(loop.log_alpha.parameters())}], lr=3e-4)
    compiled = SteeringAgent(obs_dim, AgentConfig(heads=dict(heads), compile=True))  # agent.compile: true
    # agent.bf16: the hidden layers in bf16 autocast, outputs in fp32 (where the CPU has native bf16)
    compiled_bf16 = SteeringAgent(obs_dim, AgentConfig(heads=dict(heads), compile=True, bf16=True))
    update = time_interleaved({"ours": lambda: batched.update(buffer.sample(256, rng)),
                               "ours_compiled": lambda: compiled.update(buffer.sample(256, rng)),
                               "ours_compiled_bf16": lambda: compiled_bf16.update(buffer.sample(256, rng)),
                               "straightforward_reference": lambda: loop.update(buffer.sample(256, rng))}, 50)
    ref_ms = update["straightforward_reference"]["median_ms"]
    update["speedup"] = round(ref_ms / update["ours"]["median_ms"], 2)
    update["speedup_compiled"] = round(ref_ms / update["ours_compiled"]["median_ms"], 2)
    update["speedup_compiled_bf16"] = round(ref_ms / update["ours_compiled_bf16"]["median_ms"], 2)

    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=8, action_dim=2, context_dim=4))).eval()
    task = "pointmaze-large-to-giant"
    cfg = FinetuneConfig(method="tmrl", task=task, checkpoint="benchmark", steps=args.loop_steps,
                         schedule=UpdateSchedule(warmup_transitions=args.loop_steps // 2 * 4), eval_every=0,
                         checkpoint_every=0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = embodiment(task)
        finetune(cfg, Path(tmp), VectorEnv.of(env, cfg.num_envs), [env.make_env()], FlowSampler(policy),
                 progress=False)
    seconds = time.perf_counter() - start
    env_steps = args.loop_steps * cfg.num_envs * cfg.execute
    loop_report = {"vector_steps": args.loop_steps, "num_envs": cfg.num_envs, "execute": cfg.execute,
                   "seconds": round(seconds, 1), "env_steps_per_s": round(env_steps / seconds, 1),
                   "macro_steps_per_s": round(args.loop_steps * cfg.num_envs / seconds, 1),
                   "note": "half the steps are random warm-up (no updates)"}
    write_report(args.out, {"benchmark": "TMRL steering", "command": " ".join(["python bench/bench_tmrl.py",
                                                                                *sys.argv[1:]]),
                            "machine": machine(), "update_batch256_5critics": update, "finetune_loop": loop_report,
                            "targets": {"update_ms": 20}})


if __name__ == "__main__":
    main()
