"""`tmrl finetune`: the in-process runner. RL over a frozen pre-trained policy (TMRL, DSRL,
PostBC+DSRL, CFG-RL) or in action space (RLPD), on a vector of an embodiment's environments.

Each vector step: the actor picks steering actions for all envs, the frozen policy's Sampler turns
them into chunks in one batched call, the envs execute the first `execute` actions, transitions go
to the replay buffer, and the agent updates as the config's `UpdateSchedule` says (the same rule the
ROS learner follows). Periodic evaluation (deterministic actor), a CSV learning curve, TensorBoard,
and checkpoints (agent + buffer + counters) that a run resumes from. What distinguishes the methods
is in tmrl/methods.py.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tmrl_learning.config import to_dict
from tmrl_learning.data.envs import VectorEnv
from tmrl_learning.runlog import tensorboard_writer
from tmrl_learning.sampler import Sampler
from tmrl_learning.tmrl.config import FinetuneConfig
from tmrl_learning.tmrl.evaluate import evaluate
from tmrl_learning.tmrl.methods import ChunkMaker, attach_action_critic, build_agent
from tmrl_learning.tmrl.replay import ReplayBuffer


def finetune(cfg: FinetuneConfig, out: Path, venv: VectorEnv, eval_envs, sampler: Sampler | None,
             offline: dict | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) fine-tuning; returns the learning curve rows. `eval_envs`: the evaluation
    episodes' environments (`EvaluationEnvs`, or a list, one per episode); dimensions come from venv's embodiment."""
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    task = venv.embodiment
    num_timesteps = sampler.num_timesteps if sampler is not None else 0
    agent = build_agent(cfg.method, cfg.agent, task.obs_dim, task.action_dim, task.context_dim, num_timesteps,
                        cfg.t_max_fraction, cfg.seed)
    make_chunks = ChunkMaker(agent, sampler, task, cfg.execute)
    executed_dim = attach_action_critic(make_chunks, venv.action_dim) if cfg.agent.action_critic else 0
    buffer = ReplayBuffer(venv.obs_dim, agent.action_dim, capacity=max(cfg.steps * cfg.num_envs, 1000),
                          executed_dim=executed_dim)
    if offline is not None:
        buffer.set_offline(**offline)
    rng = np.random.default_rng(cfg.seed)
    step, curve, env_steps, received, updates = 0, [], 0, 0, 0
    finished = {"episodes": 0, "successes": 0}  # every training episode since the start, across resumes
    ckpt = out / "agent.pt"
    if ckpt.is_file():  # resume: agent, buffer, counters and RNG
        state = torch.load(ckpt, weights_only=False)
        agent.load_state_dict(state["agent"])
        buffer.load(out / "replay.npz")
        step, curve, env_steps = state["step"], state["curve"], state["env_steps"]
        received, updates = state.get("received", step * venv.num_envs), state.get("updates", agent.updates)
        finished.update(state.get("finished", {}))
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))

    def save() -> None:
        buffer.save(out / "replay.npz")
        state = {"agent": agent.state_dict(), "step": step, "curve": curve, "env_steps": env_steps,
                 "received": received, "updates": updates, "finished": finished,
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
        random = cfg.schedule.warming_up(received)
        y = agent.random_actions(venv.num_envs, rng) if random else agent.act(obs)
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
        ended = [bool(s) for s, d in zip(result["success"], result["terminated"] | result["truncated"], strict=True)
                 if d]
        episode_success += ended
        finished["episodes"] += len(ended)
        finished["successes"] += sum(ended)
        obs = result["observation"]
        step += 1
        received += venv.num_envs
        bar.update(1)
        while updates < cfg.schedule.due(received) and len(buffer) >= 2:
            batch = buffer.sample(cfg.agent.batch_size * cfg.agent.utd, rng, cfg.offline_fraction)
            metrics = agent.update(batch)
            updates += 1
        if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
            ev = evaluate(make_chunks, eval_envs, cfg.execute, seed=10_000)
            row = {"step": step, "env_steps": env_steps, "updates": updates, "eval_success": ev["success"],
                   "train_success": float(np.mean(episode_success[-20:])) if episode_success else 0.0,
                   "train_episodes": finished["episodes"], "train_successes": finished["successes"],
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


