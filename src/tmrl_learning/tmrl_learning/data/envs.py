"""Goal-conditioned OGBench environments for fine-tuning: sparse reward, termination at success,
macro-steps over action chunks, and a vector of environments stepped together.

Each environment exposes
    observation (obs_dim,)   the RL observation (state ++ goal)
    context     (context_dim,) the part of the observation that CSP noises
and returns reward 0 on success, -1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmrl_learning.data.generate import make_env
from tmrl_learning.data.splits import (
    CUBE_SINGLE_HELDOUT,
    CUBE_SINGLE_INDIST,
    POINTMAZE_LARGE,
    POINTMAZE_LARGE_TO_GIANT,
    Split,
    Task,
    split,
)


@dataclass
class StepResult:
    observation: np.ndarray
    reward: float
    terminated: bool  # success reached: no bootstrap
    truncated: bool   # time limit reached
    success: bool
    executed: int = 1  # environment steps taken (macro-steps execute several)


class GoalEnv:
    """Base: one OGBench env, one split; a task is drawn per reset (or given)."""

    obs_dim: int
    context_dim: int
    action_dim: int

    def __init__(self, task_split: Split, seed: int = 0, tasks: list[str] | None = None):
        self.split = task_split
        self.tasks = [task_split.task(n) for n in tasks] if tasks else list(task_split.tasks)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.task: Task | None = None
        self.steps = 0
        self._obs: np.ndarray | None = None

    # -- to implement ---------------------------------------------------------------------------
    def _reset_task(self, task: Task, seed: int) -> np.ndarray: ...
    def _step_raw(self, action: np.ndarray) -> np.ndarray: ...
    def _success(self) -> bool: ...
    def context_of(self, observation: np.ndarray) -> np.ndarray: ...

    # -- common ---------------------------------------------------------------------------------
    def reset(self, task: str | None = None) -> np.ndarray:
        self.task = self.split.task(task) if task else self.tasks[self.rng.integers(len(self.tasks))]
        self.steps = 0
        self._obs = self._reset_task(self.task, int(self.rng.integers(2**31)))
        return self._obs.copy()

    def step(self, action: np.ndarray) -> StepResult:
        if self.task is None:
            raise RuntimeError("step() before reset()")
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise ValueError(f"action has shape {action.shape}, expected ({self.action_dim},)")
        if not np.isfinite(action).all():
            raise ValueError(f"action contains NaN or inf: {action}")
        self._obs = self._step_raw(np.clip(action, -1.0, 1.0))
        self.steps += 1
        success = self._success()
        return StepResult(self._obs.copy(), 0.0 if success else -1.0, success,
                          (not success) and self.steps >= self.split.max_steps, success)

    def step_chunk(self, chunk: np.ndarray, execute: int) -> StepResult:
        """Macro-step: run the first `execute` actions of a chunk (H, d), summing rewards; stop
        early at termination or the time limit."""
        chunk = np.asarray(chunk)
        if chunk.ndim != 2 or chunk.shape[1] != self.action_dim:
            raise ValueError(f"chunk has shape {chunk.shape}, expected (H, {self.action_dim})")
        if not 1 <= execute <= len(chunk):
            raise ValueError(f"execute={execute} must be in [1, {len(chunk)}]")
        total = 0.0
        for k in range(execute):
            result = self.step(chunk[k])
            total += result.reward
            if result.terminated or result.truncated:
                break
        return StepResult(result.observation, total, result.terminated, result.truncated, result.success, k + 1)


class PointMazeGoalEnv(GoalEnv):
    """Observation = context = (agent x, agent y, goal x, goal y); the whole vector is noised."""

    obs_dim, context_dim, action_dim = 4, 4, 2

    def __init__(self, task_split: Split = POINTMAZE_LARGE_TO_GIANT, seed: int = 0, tasks: list[str] | None = None):
        super().__init__(task_split, seed, tasks)
        self.env = make_env(task_split.env_id, terminate_at_goal=False).unwrapped
        self.goal_xy = np.zeros(2)

    def _reset_task(self, task: Task, seed: int) -> np.ndarray:
        self.env.reset(seed=seed, options=dict(task_info=dict(init_ij=task.start, goal_ij=task.goal)))
        # No start/goal jitter (the authors' setup): place the agent and the goal on the cell centres.
        self.goal_xy = np.asarray(self.env.ij_to_xy(task.goal), dtype=np.float64)
        self.env.set_goal(goal_xy=self.goal_xy)
        self.env.set_xy(np.asarray(self.env.ij_to_xy(task.start), dtype=np.float64))
        return self._observe()

    def _observe(self) -> np.ndarray:
        return np.concatenate([self.env.get_xy(), self.goal_xy]).astype(np.float32)

    def _step_raw(self, action: np.ndarray) -> np.ndarray:
        self.env.step(action)
        return self._observe()

    def _success(self) -> bool:
        return bool(np.linalg.norm(self.env.get_xy() - self.goal_xy) <= self.split.success_radius)

    def context_of(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation)[..., :4]


class CubeGoalEnv(GoalEnv):
    """Observation = 28-D cube-single state ++ 3-D goal; the context (noised) is the goal."""

    obs_dim, context_dim, action_dim = 31, 3, 5

    def __init__(self, task_split: Split = CUBE_SINGLE_HELDOUT, seed: int = 0, tasks: list[str] | None = None,
                 extra_tasks: tuple[Task, ...] = ()):
        super().__init__(task_split, seed, tasks)
        self.tasks += list(extra_tasks)
        self.env = make_env(task_split.env_id, terminate_at_goal=False, mode="task").unwrapped
        self.goal = np.zeros(3)

    def _reset_task(self, task: Task, seed: int) -> np.ndarray:
        self.goal = np.asarray(task.goal, dtype=np.float64)
        ob, _ = self.env.reset(seed=seed, options=dict(task_info=dict(
            task_name=task.name, init_xyzs=np.array([task.start]), goal_xyzs=np.array([task.goal]))))
        return self._observe(ob)

    def _observe(self, ob: np.ndarray) -> np.ndarray:
        return np.concatenate([ob, self.goal]).astype(np.float32)

    def cube_position(self) -> np.ndarray:
        return self.env._data.joint("object_joint_0").qpos[:3].copy()

    def _step_raw(self, action: np.ndarray) -> np.ndarray:
        ob, *_ = self.env.step(action)
        return self._observe(ob)

    def _success(self) -> bool:
        return bool(np.linalg.norm(self.cube_position() - self.goal) <= self.split.success_radius)

    def context_of(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation)[..., 28:31]


ENV_CLASSES = {POINTMAZE_LARGE_TO_GIANT.name: PointMazeGoalEnv, POINTMAZE_LARGE.name: PointMazeGoalEnv,
               CUBE_SINGLE_HELDOUT.name: CubeGoalEnv, CUBE_SINGLE_INDIST.name: CubeGoalEnv}


def make_goal_env(split_name: str, seed: int = 0, tasks: list[str] | None = None) -> GoalEnv:
    if split_name == "lineworld":  # the toy task of the tests (data/toy.py)
        from tmrl_learning.data.toy import LineWorld

        return LineWorld(seed)
    task_split = split(split_name)
    return ENV_CLASSES[task_split.name](task_split, seed=seed, tasks=tasks)


class VectorEnv:
    """Several goal envs stepped together with one batched policy call per macro-step.

    Finished envs are reset automatically: `step_chunks` returns the observation that ended the
    macro-step (for the transition) and, separately, the observation the next macro-step starts from.
    """

    def __init__(self, envs: list[GoalEnv]):
        if not envs:
            raise ValueError("a vector env needs at least one env")
        self.envs = list(envs)
        self.num_envs = len(envs)
        first = self.envs[0]
        self.obs_dim, self.context_dim, self.action_dim = first.obs_dim, first.context_dim, first.action_dim

    def reset(self) -> np.ndarray:
        """(N, obs_dim)"""
        return np.stack([env.reset() for env in self.envs])

    def contexts(self, observations: np.ndarray) -> np.ndarray:
        return self.envs[0].context_of(observations)

    def step_chunks(self, chunks: np.ndarray, execute: int) -> dict[str, np.ndarray]:
        """chunks (N, H, d) -> dict of next_observation (N, obs_dim), reward, terminated, truncated,
        success, executed (N,), and observation (N, obs_dim): where each env continues from."""
        chunks = np.asarray(chunks)
        if chunks.shape[0] != self.num_envs:
            raise ValueError(f"got {chunks.shape[0]} chunks for {self.num_envs} envs")
        results = [env.step_chunk(chunk, execute) for env, chunk in zip(self.envs, chunks, strict=True)]
        out = {
            "next_observation": np.stack([r.observation for r in results]),
            "reward": np.array([r.reward for r in results], np.float32),
            "terminated": np.array([r.terminated for r in results]),
            "truncated": np.array([r.truncated for r in results]),
            "success": np.array([r.success for r in results]),
            "executed": np.array([r.executed for r in results]),
        }
        out["observation"] = np.stack([
            env.reset() if (r.terminated or r.truncated) else r.observation for env, r in zip(self.envs, results,
                                                                                              strict=True)])
        return out


def VectorGoalEnv(split_name: str, num_envs: int, seed: int = 0, tasks: list[str] | None = None) -> VectorEnv:  # noqa: N802
    """`num_envs` goal envs of a split, seeded apart."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    return VectorEnv([make_goal_env(split_name, seed=seed + 1000 * i, tasks=tasks) for i in range(num_envs)])
