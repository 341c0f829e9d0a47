"""Goal-conditioned simulated environments for fine-tuning: sparse reward, termination at success,
macro-steps over action chunks, and a vector of environments stepped together.

Each environment belongs to an `Embodiment` (its dimensions, tasks, limit and success radius), returns
the RL observation (state ++ goal), and rewards 0 on success, -1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmrl_learning.data.generate import make_env
from tmrl_learning.embodiment import Embodiment, Task


@dataclass
class StepResult:
    observation: np.ndarray
    reward: float
    terminated: bool  # success reached: no bootstrap
    truncated: bool   # time limit reached
    success: bool
    executed: int = 1  # environment steps taken (macro-steps execute several)


class GoalEnv:
    """Base: one simulated environment of an embodiment; a task is drawn per reset (or given)."""

    def __init__(self, embodiment: Embodiment, seed: int = 0, tasks: tuple[Task, ...] = ()):
        self.embodiment = embodiment
        self.obs_dim, self.action_dim = embodiment.obs_dim, embodiment.action_dim
        self.context_dim = embodiment.context_dim
        self.tasks = list(tasks or embodiment.tasks)
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.task: Task | None = None
        self.steps = 0
        self._obs: np.ndarray | None = None

    # -- to implement ---------------------------------------------------------------------------
    def _reset_task(self, task: Task, seed: int) -> np.ndarray: ...
    def _step_raw(self, action: np.ndarray) -> np.ndarray: ...
    def _success(self) -> bool: ...

    def close(self) -> None:
        """Release what the environment holds (a simulator process); the base holds nothing."""

    def images(self) -> dict[str, np.ndarray]:
        """The last observation's camera images, {camera: (S, S, 3) uint8}, for the embodiment's
        `cameras` (none by default)."""
        return {}

    def goal(self) -> np.ndarray:
        """The running episode's goal, as the observation's last goal_dim values show it."""
        return np.asarray(self._obs)[self.obs_dim - self.embodiment.goal_dim:] if self._obs is not None else \
            np.zeros(0, np.float32)

    # -- common ---------------------------------------------------------------------------------
    def reset(self, task: str | None = None) -> np.ndarray:
        self.task = self.embodiment.task(task) if task else self.tasks[self.rng.integers(len(self.tasks))]
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
                          (not success) and self.steps >= self.embodiment.max_steps, success)

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
    """Observation = (agent x, agent y, goal x, goal y)."""

    def __init__(self, embodiment: Embodiment, seed: int = 0, tasks: tuple[Task, ...] = ()):
        super().__init__(embodiment, seed, tasks)
        self.env = make_env(embodiment.env_id, terminate_at_goal=False).unwrapped
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
        return bool(np.linalg.norm(self.env.get_xy() - self.goal_xy) <= self.embodiment.success_radius)


class CubeGoalEnv(GoalEnv):
    """Observation = 28-D cube-single state ++ 3-D goal (cube position, m)."""

    def __init__(self, embodiment: Embodiment, seed: int = 0, tasks: tuple[Task, ...] = ()):
        super().__init__(embodiment, seed, tasks)
        self.env = make_env(embodiment.env_id, terminate_at_goal=False, mode="task").unwrapped
        self.goal_xyz = np.zeros(3)

    def _reset_task(self, task: Task, seed: int) -> np.ndarray:
        self.goal_xyz = np.asarray(task.goal, dtype=np.float64)
        ob, _ = self.env.reset(seed=seed, options=dict(task_info=dict(
            task_name=task.name, init_xyzs=np.array([task.start]), goal_xyzs=np.array([task.goal]))))
        return self._observe(ob)

    def _observe(self, ob: np.ndarray) -> np.ndarray:
        return np.concatenate([ob, self.goal_xyz]).astype(np.float32)

    def cube_position(self) -> np.ndarray:
        return self.env._data.joint("object_joint_0").qpos[:3].copy()

    def _step_raw(self, action: np.ndarray) -> np.ndarray:
        ob, *_ = self.env.step(action)
        return self._observe(ob)

    def _success(self) -> bool:
        return bool(np.linalg.norm(self.cube_position() - self.goal_xyz) <= self.embodiment.success_radius)


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
        self.embodiment = first.embodiment
        self.obs_dim, self.context_dim, self.action_dim = first.obs_dim, first.context_dim, first.action_dim

    def reset(self) -> np.ndarray:
        """(N, obs_dim)"""
        return np.stack([env.reset() for env in self.envs])

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

    @classmethod
    def of(cls, embodiment: Embodiment, num_envs: int, seed: int = 0, tasks: list[str] | None = None) -> VectorEnv:
        """`num_envs` environments of an embodiment, seeded apart."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        return cls([embodiment.make_env(seed=seed + 1000 * i, tasks=tasks) for i in range(num_envs)])
