"""`tmrl finetune`: RL over a frozen pre-trained policy (TMRL, DSRL, PostBC+DSRL, CFG-RL) or in
action space (RLPD), on a split's vector of goal envs.

Each vector step: the actor picks steering actions for all envs, the frozen policy turns them into
chunks in one batched call, the envs execute the first `execute` actions, transitions go to the
replay buffer, and the agent updates. Periodic evaluation (deterministic actor), a CSV learning
curve, TensorBoard, and checkpoints (agent + buffer + counters) that a run resumes from.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tmrl_learning.config import to_dict
from tmrl_learning.csp.data import task_spec
from tmrl_learning.csp.policy import FlowPolicy
from tmrl_learning.runlog import tensorboard_writer
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent
from tmrl_learning.tmrl.replay import ReplayBuffer

METHOD_HEADS = {
    "tmrl": ("noise", "timestep", "context_noise"),
    "dsrl": ("noise",),
    "postbc": ("noise",),
    "cfg": ("noise", "guidance"),
    "rlpd": ("action",),
}


@dataclass
class FinetuneConfig:
    method: str = "tmrl"
    task: str = "pointmaze-large-to-giant"
    seed: int = 0
    checkpoint: str = ""             # the frozen pre-trained policy (unused by rlpd)
    num_envs: int = 4
    execute: int = 5                 # actions executed per chunk (rlpd: 1)
    steps: int = 20_000              # vector steps
    warmup: int = 500                # vector steps of uniformly random steering actions
    eval_every: int = 2_000
    eval_episodes: int = 8
    checkpoint_every: int = 2_000
    offline_fraction: float = 0.0    # rlpd: 0.5 (needs offline transitions)
    offline_episodes: int = 200      # episodes of the task's pre-training data that make them
    t_max_fraction: float = 1.0      # cap on the timestep the actor may pick, as a fraction of T
    threads: int = 0
    agent: AgentConfig = field(default_factory=AgentConfig)

    def validate(self) -> None:
        if self.method not in METHOD_HEADS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {sorted(METHOD_HEADS)}")
        if self.method != "rlpd" and not self.checkpoint:
            raise ValueError(f"method {self.method} steers a pre-trained policy: give --checkpoint")
        if not 0.0 <= self.t_max_fraction <= 1.0:
            raise ValueError(f"t_max_fraction must be in [0, 1], got {self.t_max_fraction}")


class ChunkMaker:
    """Steering actions -> executed chunks, through the frozen policy (or directly, for rlpd)."""

    def __init__(self, agent: SteeringAgent, policy: FlowPolicy | None, spec, execute: int):
        self.agent, self.policy, self.spec, self.execute = agent, policy, spec, execute

    def __call__(self, y: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        inputs = self.agent.decode(y)
        if self.policy is None:
            return inputs["action"].numpy()[:, None, :], inputs
        context, proprio = self.spec.from_env_observation(obs)
        context = torch.from_numpy(np.ascontiguousarray(context, np.float32))
        proprio = torch.from_numpy(np.ascontiguousarray(proprio, np.float32))
        chunks = self.policy.sample(context, proprio, action_noise=inputs.get("noise"),
                                    timestep=inputs.get("timestep"), context_noise=inputs.get("context_noise"),
                                    guidance=inputs.get("guidance"))
        return chunks.numpy(), inputs


def attach_action_critic(make_chunks: ChunkMaker, action_dim: int) -> int:
    """Give the agent its action critic (DSRL's noise-aliasing variant) over the executed actions of
    `make_chunks`' frozen policy; -> the width of the executed actions, flattened."""
    if make_chunks.policy is None:
        raise ValueError("agent.action_critic needs a pre-trained policy to map steering actions to actions")
    execute, executed_dim = make_chunks.execute, make_chunks.execute * action_dim
    make_chunks.agent.attach_action_critic(executed_dim, lambda o, y: torch.from_numpy(
        make_chunks(y.numpy(), o.numpy())[0][:, :execute].reshape(len(o), -1)))
    return executed_dim


def build_agent(cfg: FinetuneConfig, obs_dim: int, action_dim: int, context_dim: int,
                num_timesteps: int) -> SteeringAgent:
    dims = {"noise": action_dim, "timestep": 1, "context_noise": context_dim, "guidance": 1, "action": action_dim}
    agent_cfg = cfg.agent
    agent_cfg.heads = {h: dims[h] for h in METHOD_HEADS[cfg.method]}
    agent_cfg.t_max = int(round(cfg.t_max_fraction * num_timesteps))
    return SteeringAgent(obs_dim, agent_cfg, seed=cfg.seed)


def evaluate(make_chunks: ChunkMaker, envs, execute: int, seed: int, record_timesteps: bool = False) -> dict:
    """Deterministic actor, one episode per env in `envs`, all stepped together (one batched actor
    and policy call per macro-step). Env i is reseeded with seed + i, so evaluations are comparable.
    Returns the success rate (and, per episode, the context timesteps chosen)."""
    for i, env in enumerate(envs):
        env.rng = np.random.default_rng(seed + i)
    obs = np.stack([env.reset() for env in envs])
    done = np.zeros(len(envs), bool)
    success = np.zeros(len(envs), bool)
    traces: list[list[int]] = [[] for _ in envs]
    while not done.all():
        active = np.flatnonzero(~done)
        y = make_chunks.agent.act(obs[active], deterministic=True)
        chunks, inputs = make_chunks(y, obs[active])
        for k, i in enumerate(active):
            if "timestep" in inputs:
                traces[i].append(int(inputs["timestep"][k]))
            result = envs[i].step_chunk(chunks[k], execute)
            obs[i] = result.observation
            if result.terminated or result.truncated:
                done[i], success[i] = True, result.success
    out = {"success": float(success.mean())}
    if record_timesteps:
        out["timesteps"], out["successes"] = traces, success.tolist()
    return out


def timestep_traces(run: Path, episodes: int = 4, seed: int = 7) -> tuple[dict, list[list[int]], list[bool]]:
    """The context timesteps a TMRL run's last saved actor picks along `episodes` evaluation
    trajectories (the paper's Figure 13) -> (run config, traces, each episode's success)."""
    from tmrl_learning.config import from_dict
    from tmrl_learning.csp.train import load_policy
    from tmrl_learning.data.envs import make_goal_env

    state = torch.load(Path(run) / "agent.pt", weights_only=False)
    cfg = from_dict(FinetuneConfig, state["config"])
    if "timestep" not in METHOD_HEADS[cfg.method]:
        raise ValueError(f"run {run} is {cfg.method}: its actor picks no context timestep")
    policy, _ = load_policy(cfg.checkpoint)
    spec = task_spec(cfg.task)
    envs = [make_goal_env(cfg.task, seed=seed + i) for i in range(episodes)]
    agent = build_agent(cfg, envs[0].obs_dim, spec.action_dim, spec.context_dim, policy.smoother.num_timesteps)
    maker = ChunkMaker(agent, policy, spec, cfg.execute)
    if cfg.agent.action_critic:
        attach_action_critic(maker, spec.action_dim)
    agent.load_state_dict(state["agent"])
    result = evaluate(maker, envs, cfg.execute, seed=seed, record_timesteps=True)
    return state["config"], result["timesteps"], result["successes"]


def finetune(cfg: FinetuneConfig, out: Path, venv, eval_envs, policy: FlowPolicy | None, spec=None,
             offline: dict | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) fine-tuning; returns the learning curve rows. `eval_envs` holds one env per
    evaluation episode."""
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    spec = spec or task_spec(cfg.task)
    num_timesteps = policy.smoother.num_timesteps if policy is not None else 0
    agent = build_agent(cfg, venv.obs_dim, venv.action_dim, venv.context_dim, num_timesteps)
    make_chunks = ChunkMaker(agent, policy, spec, cfg.execute)
    executed_dim = attach_action_critic(make_chunks, venv.action_dim) if cfg.agent.action_critic else 0
    buffer = ReplayBuffer(venv.obs_dim, agent.action_dim, capacity=max(cfg.steps * cfg.num_envs, 1000),
                          executed_dim=executed_dim)
    if offline is not None:
        buffer.set_offline(**offline)
    rng = np.random.default_rng(cfg.seed)
    step, curve, env_steps = 0, [], 0
    ckpt = out / "agent.pt"
    if ckpt.is_file():  # resume: agent, buffer, counters and RNG
        state = torch.load(ckpt, weights_only=False)
        agent.load_state_dict(state["agent"])
        buffer.load(out / "replay.npz")
        step, curve, env_steps = state["step"], state["curve"], state["env_steps"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))

    def save() -> None:
        buffer.save(out / "replay.npz")
        state = {"agent": agent.state_dict(), "step": step, "curve": curve, "env_steps": env_steps,
                 "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "config": to_dict(cfg)}
        torch.save(state, ckpt.with_name("agent.pt.partial"))
        ckpt.with_name("agent.pt.partial").replace(ckpt)  # the buffer is saved first: never ahead of it

    writer = tensorboard_writer(out)
    obs = venv.reset()
    episode_success: list[bool] = []
    bar = tqdm(total=cfg.steps, initial=step, desc=f"finetune {cfg.method}", disable=not progress, mininterval=1.0)
    start = time.perf_counter()
    metrics: dict[str, float] = {}
    while step < cfg.steps:
        y = agent.random_actions(venv.num_envs, rng) if step < cfg.warmup else agent.act(obs)
        chunks, _ = make_chunks(y, obs)
        result = venv.step_chunks(chunks, cfg.execute)
        extra = {}
        if executed_dim:  # what ran: the chunk's first `execute` actions, zeros after an episode's end
            ran = np.arange(cfg.execute)[None, :, None] < np.asarray(result["executed"])[:, None, None]
            extra["executed_actions"] = (chunks[:, :cfg.execute] * ran).reshape(len(chunks), -1)
        buffer.add(observation=obs, steering_action=y, reward=result["reward"],
                   next_observation=result["next_observation"], terminated=result["terminated"].astype(np.float32),
                   **extra)
        env_steps += int(result["executed"].sum())
        episode_success += [bool(s) for s, d in zip(result["success"], result["terminated"] | result["truncated"],
                                                      strict=True) if d]
        obs = result["observation"]
        step += 1
        bar.update(1)
        if step >= cfg.warmup and len(buffer) >= cfg.agent.batch_size:
            batch = buffer.sample(cfg.agent.batch_size * cfg.agent.utd, rng, cfg.offline_fraction)
            metrics = agent.update(batch)
        if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
            ev = evaluate(make_chunks, eval_envs, cfg.execute, seed=10_000)
            row = {"step": step, "env_steps": env_steps, "eval_success": ev["success"],
                   "train_success": float(np.mean(episode_success[-20:])) if episode_success else 0.0,
                   "seconds": round(time.perf_counter() - start, 1), **metrics}
            curve.append(row)
            write_curve(curve, out / "curve.csv")  # after every evaluation: a long run can be watched
            bar.set_postfix(success=f"{ev['success']:.2f}")
            if writer:
                for k, v in row.items():
                    writer.add_scalar(f"finetune/{k}", v, env_steps)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save()
    save()
    bar.close()
    if writer:
        writer.close()
    write_curve(curve, out / "curve.csv")
    return curve


def write_curve(curve: list[dict], path: Path) -> None:
    first = ["step", "env_steps", "eval_success", "train_success"]
    keys = first + sorted({k for row in curve for k in row} - set(first))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(curve)


