"""The tasks a simulated driver can run, with the adapter that turns their observations into the
policy's context and proprio. Robot tasks will join this registry with their drivers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tmrl_learning.data.envs import GoalEnv


@dataclass(frozen=True)
class SimTask:
    name: str
    make_env: Callable[[int], GoalEnv]  # seed -> env
    spec: Any                            # TaskSpec-like: context_dim, proprio_dim, action_dim, from_env_observation
    obs_dim: int


def _ogbench(name: str, obs_dim: int) -> SimTask:
    from tmrl_learning.csp.data import task_spec
    from tmrl_learning.data.envs import make_goal_env

    return SimTask(name, lambda seed: make_goal_env(name, seed=seed), task_spec(name), obs_dim)


def _lineworld() -> SimTask:
    from tmrl_learning.data.toy import LineWorld, LineWorldSpec

    return SimTask("lineworld", LineWorld, LineWorldSpec(), LineWorld.obs_dim)


SIM_TASKS: dict[str, Callable[[], SimTask]] = {
    "pointmaze-large-to-giant": lambda: _ogbench("pointmaze-large-to-giant", 4),
    "cube-single-heldout": lambda: _ogbench("cube-single-heldout", 31),
    "lineworld": _lineworld,
}


def sim_task(name: str) -> SimTask:
    if name not in SIM_TASKS:
        raise KeyError(f"unknown task {name!r}; known: {sorted(SIM_TASKS)}")
    return SIM_TASKS[name]()
