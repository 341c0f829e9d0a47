"""The simulated robot behind the driver interface: reset into a task, execute (part of) an action
chunk, report the observation before every executed action and the one after the last."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmrl_learning.system.tasks import sim_task


@dataclass
class Observation:
    observation: np.ndarray  # (obs_dim,)
    episode_id: int
    step: int                # macro-steps executed in this episode
    task: str
    goal: np.ndarray


@dataclass
class ChunkOutcome:
    executed: int
    reward: float
    terminated: bool
    truncated: bool
    success: bool
    observation: Observation        # after the last executed action
    observations: np.ndarray        # (executed, obs_dim): before each executed action


class SimDriver:
    """Human labels (`label`) end the labelled episode at its next action: success as a terminal
    success (that action's reward becomes the sparse success reward, 0 instead of -1), failure as a
    cut (truncated: the state is not terminal, the learner bootstraps)."""

    def __init__(self, task: str, seed: int = 0):
        self.task = sim_task(task)
        self.env = self.task.make_env(seed)
        self.obs_dim, self.action_dim = self.task.obs_dim, self.task.spec.action_dim
        self.episode_id, self.step, self._obs, self.ended = -1, 0, None, True
        self._label: tuple[int, bool] | None = None  # (episode_id, success) from a human

    def label(self, episode_id: int, success: bool) -> bool:
        """A human's verdict on an episode; False (ignored) unless it is the one running."""
        if self.ended or episode_id != self.episode_id:
            return False
        self._label = (episode_id, bool(success))
        return True

    def _take_label(self) -> bool | None:
        label, self._label = self._label, None
        return label[1] if label is not None and label[0] == self.episode_id else None

    def reset(self, seed: int = -1) -> Observation:
        if seed >= 0:
            self.env.rng = np.random.default_rng(seed)
        self._obs = np.asarray(self.env.reset(), np.float32)
        self.episode_id += 1
        self.step, self.ended = 0, False
        return self.observation()

    def observation(self) -> Observation:
        if self._obs is None:
            raise RuntimeError("no episode yet: call reset() first")
        goal = getattr(self.env, "goal_xy", getattr(self.env, "goal", np.zeros(0)))
        return Observation(self._obs.copy(), self.episode_id, self.step, self.task.name,
                           np.asarray(goal, np.float32))

    def check_chunk(self, data: np.ndarray, horizon: int, action_dim: int, steps: int) -> np.ndarray:
        """Flat chunk data -> (H, d), or ValueError naming what is wrong."""
        if action_dim != self.action_dim:
            raise ValueError(f"chunk actions are {action_dim}-D, task {self.task.name} needs {self.action_dim}-D")
        data = np.asarray(data, np.float32)
        if horizon < 1 or data.size != horizon * action_dim:
            raise ValueError(f"chunk has {data.size} values, expected horizon {horizon} x {action_dim}")
        if not np.isfinite(data).all():
            raise ValueError("chunk contains NaN or inf")
        if not 0 <= steps <= horizon:
            raise ValueError(f"steps={steps} must be in [0, {horizon}] (0 = the whole chunk)")
        return data.reshape(horizon, action_dim)

    def check_decision_point(self, episode_id: int, step: int) -> None:
        """ValueError unless a chunk made at (episode_id, step) fits the current state."""
        if self.ended:
            raise ValueError("the episode has ended; waiting for a reset")
        if (episode_id, step) != (self.episode_id, self.step):
            raise ValueError(f"stale chunk: made for episode {episode_id} step {step}, the driver is at "
                             f"episode {self.episode_id} step {self.step}")

    def execute(self, chunk: np.ndarray, steps: int = 0, should_stop=lambda: False, on_step=None) -> ChunkOutcome:
        """Run the first `steps` actions (0: all) of chunk (H, d); stop early at termination, at the
        time limit, or when `should_stop()` says so (a cancelled goal). `on_step(k, reward, success)`
        is called after each action."""
        if self.ended:
            raise RuntimeError("the episode has ended: reset before executing")
        steps = steps or len(chunk)
        before, total, result = [], 0.0, None
        for k in range(steps):
            if k and should_stop():
                break
            before.append(self._obs.copy())
            result = self.env.step(chunk[k])
            self._obs = np.asarray(result.observation, np.float32)
            reward, terminated, truncated, success = (float(result.reward), bool(result.terminated),
                                                      bool(result.truncated), bool(result.success))
            labelled = self._take_label()
            if labelled is True and not success:
                reward, terminated, success = 0.0, True, True
            elif labelled is False and not terminated:
                truncated = True
            total += reward
            if on_step is not None:
                on_step(k, reward, success)
            if terminated or truncated:
                break
        self.step += 1
        self.ended = terminated or truncated
        return ChunkOutcome(len(before), total, terminated, truncated, success, self.observation(), np.stack(before))
