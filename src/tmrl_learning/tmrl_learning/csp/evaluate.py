"""Rollouts of a pre-trained policy on a split's tasks: success rate and success@K (coverage).

success@K: for each of S start states (env reset seeds shared across methods), run K rollouts at
a fixed context timestep; the start counts as covered if any rollout succeeds.
"""

from __future__ import annotations

import numpy as np
import torch

from tmrl_learning.evaluation_envs import EvaluationEnvs
from tmrl_learning.sampler import Sampler, draw_inputs
from tmrl_learning.tasks import embodiment


def rollout_batch(sampler: Sampler, task: str, seeds: list[int], timestep: int, execute: int = 5,
                  task_names: list[str] | None = None, max_steps: int | None = None,
                  noise_seed: int = 0, envs: list | None = None, zero_noise: bool = False,
                  guidance: float | None = None) -> np.ndarray:
    """One episode per seed, all stepped together (one batched policy call per macro-step).
    `zero_noise`: the policy's deterministic mode (action and context noise 0) instead of random draws.
    `guidance`: a CFG policy's weight omega at every decision (None: the conditional policy alone).
    `envs` (one per seed) are reused when given: each is reseeded, so the episode is the same as in a
    new env; otherwise one env per seed is made and closed after (evaluations of an embodiment that limits
    its environments go through `evaluation_rollouts`). Returns success (len(seeds),) as bool."""
    spec = embodiment(task)
    own = envs is None
    if own:
        envs = [spec.make_env(seed=s, tasks=task_names) for s in seeds]
    try:
        return _rollouts(sampler, spec, envs, seeds, timestep, execute, max_steps, noise_seed, zero_noise, guidance)
    finally:
        if own:
            for env in envs:
                env.close()


def _rollouts(sampler, spec, envs, seeds, timestep, execute, max_steps, noise_seed, zero_noise=False,
              guidance=None) -> np.ndarray:
    for env, s in zip(envs, seeds, strict=True):
        env.rng = np.random.default_rng(s)
    obs = np.stack([env.reset() for env in envs])
    done = np.zeros(len(envs), bool)
    success = np.zeros(len(envs), bool)
    limit = max_steps or spec.max_steps
    steps = 0
    generator = torch.Generator().manual_seed(noise_seed)
    while not done.all() and steps < limit:
        active = np.flatnonzero(~done)
        context, proprio = spec.split_observation(obs[active])
        noise = draw_inputs(sampler, len(active), generator)
        if zero_noise:
            noise = {key: np.zeros_like(value) for key, value in noise.items()}
        weights = None if guidance is None else np.full(len(active), guidance, np.float32)
        chunks = sampler.sample(context, proprio, noise["action_noise"], np.full(len(active), timestep),
                                noise["context_noise"], weights)
        for k, i in enumerate(active):
            result = envs[i].step_chunk(chunks[k], execute)
            obs[i] = result.observation
            if result.terminated or result.truncated:
                done[i] = True
                success[i] = result.success
        steps += execute
    return success


def evaluation_rollouts(sampler: Sampler, envs: EvaluationEnvs, timestep: int, execute: int = 5, seed: int = 10_000,
                        zero_noise: bool = False, noise_seed: int | None = None,
                        max_steps: int | None = None, guidance: float | None = None) -> np.ndarray:
    """`rollout_batch` over an evaluation's episodes, a group of environments at a time: episode i is reseeded
    with seed + i; a group's policy noise comes from noise_seed (default: seed) + its first episode."""
    noise_seed = seed if noise_seed is None else noise_seed
    return np.concatenate([
        rollout_batch(sampler, envs.embodiment.name, [seed + first + j for j in range(len(group))], timestep,
                      execute, max_steps=max_steps, noise_seed=noise_seed + first, envs=group, zero_noise=zero_noise,
                      guidance=guidance)
        for first, group in envs.groups()])


def success_rate(sampler: Sampler, task: str, episodes: int = 8, timestep: int = 0, execute: int = 5,
                 seed: int = 10_000) -> float:
    """Success over episodes whose environments draw their tasks from seeds seed, seed + 1, ..."""
    envs = EvaluationEnvs(embodiment(task), episodes, env_seed=seed, spread_tasks=False)
    try:
        return float(evaluation_rollouts(sampler, envs, timestep, execute, seed=seed).mean())
    finally:
        envs.close()


def success_at_k(sampler: Sampler, task: str, starts: int, k: int, timestep: int, execute: int = 5,
                 base_seed: int = 42, on_rollouts=None, guidance: float | None = None) -> np.ndarray:
    """(starts, k) success matrix: start i uses env seed base_seed + i for its task draw and layout;
    the K rollouts differ in the policy's noise (the same draws at every guidance weight).
    success@j = matrix[:, :j].any(1).mean().
    `on_rollouts()` is called after each of the K batches of rollouts (progress)."""
    results = np.zeros((starts, k), bool)
    # built once (a cube env takes ~0.1-2 s to make), unless the embodiment limits how many may exist at once
    envs = EvaluationEnvs(embodiment(task), starts, env_seed=base_seed, spread_tasks=False)
    try:
        for j in range(k):
            # Same env seed per start across j (same start state), different policy noise per j.
            results[:, j] = evaluation_rollouts(sampler, envs, timestep, execute, seed=base_seed,
                                                noise_seed=1000 * j + timestep, guidance=guidance)
            if on_rollouts is not None:
                on_rollouts()
    finally:
        envs.close()
    return results


def coverage_curve(matrix: np.ndarray) -> np.ndarray:
    """success@K for K = 1..k from a (starts, k) success matrix."""
    return np.array([matrix[:, :j].any(1).mean() for j in range(1, matrix.shape[1] + 1)])


def coverage_interval(matrix: np.ndarray, level: float = 0.95, resamples: int = 2000,
                      seed: int = 0) -> np.ndarray:
    """(k, 2) bootstrap interval of success@K for K = 1..k, resampling the starts."""
    rng = np.random.default_rng(seed)
    covered = np.logical_or.accumulate(matrix, axis=1)  # (starts, k): covered within the first K
    draws = rng.integers(0, len(matrix), (resamples, len(matrix)))
    rates = covered[draws].mean(1)  # (resamples, k)
    tail = (1 - level) / 2 * 100
    return np.percentile(rates, [tail, 100 - tail], axis=0).T
