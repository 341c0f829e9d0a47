"""The driver protocol: what a robot or a simulator offers the fine-tuning graph.

    reset(seed)                -> Observation       start an episode (of the embodiment's tasks)
    observation()              -> Observation       the latest, with its acquisition stamp
    check_chunk / check_decision_point              refuse malformed or stale chunks with a reason
    execute(chunk, steps, ...) -> ChunkOutcome      run part of a chunk at the control rate, each
                                                    action through the safety step
    label(episode_id, success)                      a human's verdict ends the running episode
    intervene(action | None)                        a human's action replaces the chunk's while held
    emergency_stop(engaged)                         halt now; refuse every chunk and reset until released
    stop()                                          halt the device now (a cancelled goal, a shutdown)

`EpisodeDriver` implements everything but the device: episode ids, decision points, labels, the
safety step (with its watchdog and the emergency stop), the control period and the timestamps. A
device implements `_start(seed)`, `_act(action)` and `_halt()`. `SimDriver` is the simulated device
(an embodiment's environment); a robot driver (tmrl_learning.robots) is another subclass, served by
the same ROS node (tmrl_ros.driver_node).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tmrl_learning.data.envs import GoalEnv, StepResult
from tmrl_learning.embodiment import Embodiment
from tmrl_learning.system.safety import SafetyFilter, SafetyLimits, UnsafeAction, Watchdog


@dataclass
class Observation:
    observation: np.ndarray  # (obs_dim,)
    episode_id: int
    step: int                # macro-steps executed in this episode
    task: str
    goal: np.ndarray
    stamp: float = 0.0       # acquisition time (time.time(), s)
    images: dict[str, np.ndarray] = field(default_factory=dict)  # the embodiment's cameras, taken with it


@dataclass
class ChunkOutcome:
    executed: int
    reward: float
    terminated: bool
    truncated: bool
    success: bool
    observation: Observation        # after the last executed action
    observations: np.ndarray        # (executed, obs_dim): before each executed action
    stamps: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (executed,): when each action was sent
    refused: str = ""               # why the safety step stopped the chunk ("" = it did not)
    actions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (executed, d): what ran
    intervened: int = 0             # executed actions a human's intervention replaced


class Driver(Protocol):
    embodiment: Embodiment
    episode_id: int
    ended: bool

    def reset(self, seed: int = -1) -> Observation: ...
    def observation(self) -> Observation: ...
    def check_chunk(self, data: np.ndarray, horizon: int, action_dim: int, steps: int) -> np.ndarray: ...
    def check_decision_point(self, episode_id: int, step: int) -> None: ...
    def execute(self, chunk: np.ndarray, steps: int = 0, should_stop=..., on_step=None) -> ChunkOutcome: ...
    def label(self, episode_id: int, success: bool) -> bool: ...
    def intervene(self, action: np.ndarray | None) -> None: ...
    def emergency_stop(self, engaged: bool) -> None: ...
    def stop(self) -> None: ...


class EpisodeDriver:
    """Human labels (`label`) end the labelled episode at its next action: success as a terminal
    success (that action's reward becomes the sparse success reward, 0 instead of -1), failure as a
    cut (truncated: the state is not terminal, the learner bootstraps). An action the safety step
    refuses stops the chunk and ends the episode (terminated, not a success): the device holds. An
    engaged emergency stop halts the device, cuts the running chunk (truncated) and refuses chunks and
    resets until it is released. With `safety.watchdog_s`, a chunk whose next action is later than the
    deadline (a stalled control loop) gets the device halted from the watchdog's thread. While a human
    holds an intervention (`intervene`, refreshed at least every `intervention_timeout_s`), their action
    replaces the chunk's, through the same safety step; the outcome counts the replaced actions."""

    intervention_timeout_s = 0.5  # an intervention not refreshed this long is over (its input went quiet)

    def __init__(self, embodiment: Embodiment, control_period_s: float = 0.0, safety: SafetyLimits | None = None):
        self.embodiment = embodiment
        self.obs_dim, self.action_dim = embodiment.obs_dim, embodiment.action_dim
        low, high = embodiment.action_bounds
        self.safety = SafetyFilter(safety or SafetyLimits(low, high))
        self.control_period_s = control_period_s
        watchdog_s = self.safety.limits.watchdog_s
        if watchdog_s and watchdog_s <= control_period_s:
            raise ValueError(f"watchdog deadline {watchdog_s} s must exceed the control period {control_period_s} s")
        self.watchdog = Watchdog(watchdog_s, self._watchdog_halt) if watchdog_s else None
        self.emergency = False
        self._human: tuple[np.ndarray, float] | None = None  # (action, when it was given)
        self.episode_id, self.step, self._obs, self._stamp, self.ended = -1, 0, None, 0.0, True
        self._label: tuple[int, bool] | None = None  # (episode_id, success) from a human

    # ---- the device ---------------------------------------------------------------------------------
    def _start(self, seed: int) -> np.ndarray: ...            # -> the first RL observation
    def _act(self, action: np.ndarray) -> StepResult: ...     # one action, then the observation after it
    def _halt(self) -> None: ...                              # stop moving now
    def _task_name(self) -> str: ...
    def _goal(self) -> np.ndarray: ...
    def _images(self) -> dict[str, np.ndarray]:                # the cameras the device renders itself
        return {}

    # ---- the protocol -------------------------------------------------------------------------------
    def label(self, episode_id: int, success: bool) -> bool:
        """A human's verdict on an episode; False (ignored) unless it is the one running."""
        if self.ended or episode_id != self.episode_id:
            return False
        self._label = (episode_id, bool(success))
        return True

    def intervene(self, action: np.ndarray | None) -> None:
        """A human's action, held until released (None) or not refreshed for `intervention_timeout_s`."""
        if action is None:
            self._human = None
            return
        action = np.asarray(action, np.float64)
        if action.shape != (self.action_dim,) or not np.isfinite(action).all():
            raise ValueError(f"an intervention must be {self.action_dim} finite values, got {action.tolist()}")
        self._human = (action, time.monotonic())

    def _human_action(self) -> np.ndarray | None:
        human = self._human
        if human is None or time.monotonic() - human[1] > self.intervention_timeout_s:
            return None
        return human[0]

    def emergency_stop(self, engaged: bool) -> None:
        """Engage (halt now, refuse everything) or release the emergency stop."""
        if engaged and not self.emergency:
            self.safety.counters.emergency_stops += 1
        self.emergency = bool(engaged)
        if engaged:
            self._halt()

    def _watchdog_halt(self) -> None:
        self.safety.counters.watchdog_stops += 1
        self._halt()

    def _take_label(self) -> bool | None:
        label, self._label = self._label, None
        return label[1] if label is not None and label[0] == self.episode_id else None

    def reset(self, seed: int = -1) -> Observation:
        if self.emergency:
            raise RuntimeError("emergency stop engaged: release it before a reset")
        self._obs = np.asarray(self._start(seed), np.float32)
        self._stamp = time.time()
        self.safety.reset()
        self.episode_id += 1
        self.step, self.ended = 0, False
        return self.observation()

    def observation(self) -> Observation:
        if self._obs is None:
            raise RuntimeError("no episode yet: call reset() first")
        return Observation(self._obs.copy(), self.episode_id, self.step, self._task_name(),
                           np.asarray(self._goal(), np.float32), self._stamp, self._images())

    def check_chunk(self, data: np.ndarray, horizon: int, action_dim: int, steps: int) -> np.ndarray:
        """Flat chunk data -> (H, d), or ValueError naming what is wrong."""
        if action_dim != self.action_dim:
            raise ValueError(f"chunk actions are {action_dim}-D, task {self.embodiment.name} needs "
                             f"{self.action_dim}-D")
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
        """Run the first `steps` actions (0: all) of chunk (H, d), one per control period; stop early
        at termination, at the time limit, at a refused action, or when `should_stop()` says so (a
        cancelled goal). `on_step(k, reward, success)` is called after each action."""
        if self.ended:
            raise RuntimeError("the episode has ended: reset before executing")
        steps = steps or len(chunk)
        before, stamps, ran, total, refused, intervened = [], [], [], 0.0, "", 0
        terminated = truncated = success = False
        next_time = time.monotonic()
        try:
            for k in range(steps):
                if self.emergency:
                    refused, truncated = "emergency stop engaged", True
                    break
                if k and should_stop():
                    break
                human = self._human_action()
                try:
                    action = self.safety(chunk[k] if human is None else human)
                except UnsafeAction as err:
                    self._halt()
                    refused, terminated = str(err), True
                    break
                if self.control_period_s:
                    time.sleep(max(next_time - time.monotonic(), 0.0))
                    next_time = max(next_time, time.monotonic()) + self.control_period_s
                if self.watchdog is not None:
                    self.watchdog.feed()
                stamp, obs_before = time.time(), self._obs.copy()
                try:
                    result = self._act(action)
                except UnsafeAction as err:  # the device's own check (a commanded position) refused it
                    self._halt()
                    refused, terminated = str(err), True
                    break
                before.append(obs_before)
                stamps.append(stamp)
                ran.append(action)
                intervened += human is not None
                terminated, truncated, success, total = self._record(result, total, k, on_step)
                if truncated and self.emergency:  # the device's motion failed because the stop halted it
                    refused = "emergency stop engaged"
                if terminated or truncated:
                    break
        finally:
            if self.watchdog is not None:
                self.watchdog.disarm()
        self.step += 1
        self.ended = terminated or truncated
        observations = np.stack(before) if before else np.zeros((0, self.obs_dim), np.float32)
        actions = np.asarray(ran, np.float32).reshape(len(ran), self.action_dim)
        return ChunkOutcome(len(before), total, terminated, truncated, success, self.observation(), observations,
                            np.asarray(stamps), refused, actions, intervened)

    def _record(self, result: StepResult, total: float, k: int, on_step) -> tuple[bool, bool, bool, float]:
        """One executed action's result, with a pending human label -> (terminated, truncated, success, total)."""
        self._obs, self._stamp = np.asarray(result.observation, np.float32), time.time()
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
        return terminated, truncated, success, total

    def close(self) -> None:
        """Halt the device and release what the driver holds (the watchdog's thread, a connection)."""
        if self.watchdog is not None:
            self.watchdog.close()
        self._halt()

    def stop(self) -> None:
        self._halt()


class SimDriver(EpisodeDriver):
    """An embodiment's simulated environment as the device."""

    def __init__(self, embodiment: Embodiment, seed: int = 0, control_period_s: float = 0.0,
                 safety: SafetyLimits | None = None, env: GoalEnv | None = None):
        super().__init__(embodiment, control_period_s, safety)
        self.env = env if env is not None else embodiment.make_env(seed)

    def _start(self, seed: int) -> np.ndarray:
        if seed >= 0:
            self.env.rng = np.random.default_rng(seed)
        return self.env.reset()

    def _act(self, action: np.ndarray) -> StepResult:
        return self.env.step(action)

    def _halt(self) -> None:
        pass  # a simulator does not move between steps

    def _task_name(self) -> str:
        return self.embodiment.name

    def _goal(self) -> np.ndarray:
        return self.env.goal()

    def _images(self) -> dict[str, np.ndarray]:
        return self.env.images()


def make_driver(embodiment: Embodiment, seed: int = 0, **kwargs) -> EpisodeDriver:
    """The driver of an embodiment: its own (a robot's `make_driver_fn`), else its simulator's."""
    factory = embodiment.make_driver_fn or SimDriver
    return factory(embodiment, seed, **kwargs)
