"""Evaluation of a steering agent: deterministic episodes spread over a task's evaluation tasks, and
the context timesteps a TMRL actor picks along them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tmrl_learning.config import from_dict
from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.evaluation_envs import EvaluationEnvs
from tmrl_learning.tasks import embodiment
from tmrl_learning.tmrl.config import FinetuneConfig
from tmrl_learning.tmrl.methods import ChunkMaker, attach_action_critic, build_agent, method


def evaluate(make_chunks: ChunkMaker, envs: list | EvaluationEnvs, execute: int, seed: int,
             record_timesteps: bool = False, random_steering: np.random.Generator | None = None) -> dict:
    """Deterministic actor, one episode per environment, a group of environments stepped together (one
    batched actor and policy call per macro-step). Episode i runs task i mod (number of tasks), so every task
    gets its share, and is reseeded with seed + i, so evaluations are comparable. `envs`: a list (one episode
    each), or `EvaluationEnvs` (made in groups where the embodiment limits how many exist at once). Returns the
    success rate (and, per episode, success and the context timesteps chosen). `random_steering`: uniformly random
    steering actions drawn from it instead of the actor (the warm-up's exploration: what the pre-trained policy
    achieves under it before any learning)."""
    groups = envs.groups() if isinstance(envs, EvaluationEnvs) else [(0, envs)]
    success: list[bool] = []
    traces: list[list[int]] = []
    for first, group in groups:
        ok, chosen = _episodes(make_chunks, group, first, execute, seed, random_steering)
        success += ok
        traces += chosen
    out = {"success": float(np.mean(success))}
    if record_timesteps:
        out["timesteps"], out["successes"] = traces, success
    return out


def _episodes(make_chunks: ChunkMaker, envs: list, first: int, execute: int, seed: int,
              random_steering: np.random.Generator | None = None) -> tuple[list, list]:
    for j, env in enumerate(envs):
        env.rng = np.random.default_rng(seed + first + j)
    obs = np.stack([env.reset(env.tasks[(first + j) % len(env.tasks)].name) for j, env in enumerate(envs)])
    done = np.zeros(len(envs), bool)
    success = np.zeros(len(envs), bool)
    traces: list[list[int]] = [[] for _ in envs]
    while not done.all():
        active = np.flatnonzero(~done)
        y = make_chunks.agent.act(obs[active], deterministic=True) if random_steering is None else \
            make_chunks.agent.random_actions(len(active), random_steering)
        chunks, inputs = make_chunks(y, obs[active])
        for k, i in enumerate(active):
            if "timestep" in inputs:
                traces[i].append(int(inputs["timestep"][k]))
            result = envs[i].step_chunk(chunks[k], execute)
            obs[i] = result.observation
            if result.terminated or result.truncated:
                done[i], success[i] = True, result.success
    return success.tolist(), traces


def load_run(run: Path) -> tuple[dict, ChunkMaker]:
    """A fine-tuning run's last saved actor over its frozen policy -> (run config, chunk maker)."""
    state = torch.load(Path(run) / "agent.pt", weights_only=False)
    cfg = from_dict(FinetuneConfig, state["config"])
    sampler = load_sampler(cfg.checkpoint)
    task = embodiment(cfg.task)
    agent = build_agent(cfg.method, cfg.agent, task.obs_dim, task.action_dim, task.context_dim,
                        sampler.num_timesteps, cfg.t_max_fraction, cfg.seed)
    maker = ChunkMaker(agent, sampler, task, cfg.execute)
    if cfg.agent.action_critic:
        attach_action_critic(maker, task.action_dim)
    agent.load_state_dict(state["agent"])
    return state["config"], maker


def timestep_traces(run: Path, episodes: int = 4, seed: int = 7) -> tuple[dict, list[list[int]], list[bool]]:
    """The context timesteps a TMRL run's last saved actor picks along `episodes` evaluation
    trajectories (the paper's Figure 13) -> (run config, traces, each episode's success)."""
    config, maker = load_run(run)
    if "timestep" not in method(config["method"]).heads:
        raise ValueError(f"run {run} is {config['method']}: its actor picks no context timestep")
    envs = EvaluationEnvs(maker.embodiment, episodes, env_seed=seed)
    result = evaluate(maker, envs, config["execute"], seed=seed, record_timesteps=True)
    return config, result["timesteps"], result["successes"]
