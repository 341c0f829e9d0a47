"""Episode bookkeeping for reward_reset: when episodes start and end, their returns and outcomes,
a time limit of its own, and the recent success rate."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

STARTED, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, LABELED = range(6)  # tmrl_msgs/EpisodeEvent constants


@dataclass
class Event:
    kind: int
    source: str
    episode_id: int
    steps: int
    episode_return: float
    success: bool
    reason: str = ""

    @property
    def ends_episode(self) -> bool:
        return self.kind in (SUCCEEDED, FAILED, TIMED_OUT, ABORTED)


@dataclass
class _Episode:
    episode_id: int
    steps: int = 0
    episode_return: float = 0.0
    done: bool = False


class EpisodeBook:
    def __init__(self, max_steps: int = 0, window: int = 20):
        self.max_steps = max_steps  # macro-steps; 0 = the driver's own limit only
        self.episodes: dict[str, _Episode] = {}
        self.outcomes: deque[bool] = deque(maxlen=window)
        self.completed = 0

    def on_transition(self, source: str, episode_id: int, step: int, reward: float, terminated: bool,
                      truncated: bool, success: bool) -> list[Event]:
        events = []
        ep = self.episodes.get(source)
        if ep is None or ep.episode_id != episode_id:
            ep = self.episodes[source] = _Episode(episode_id)
            events.append(Event(STARTED, source, episode_id, 0, 0.0, False))
        if ep.done:  # a late transition of an episode already closed (e.g. by our time limit)
            return events
        ep.steps, ep.episode_return = max(ep.steps, step + 1), ep.episode_return + reward
        if success:
            events.append(self._close(source, ep, SUCCEEDED, True, "task achieved"))
        elif terminated:
            events.append(self._close(source, ep, FAILED, False, "terminal state without success"))
        elif truncated:
            events.append(self._close(source, ep, TIMED_OUT, False, "driver time limit"))
        elif self.max_steps and ep.steps >= self.max_steps:
            events.append(self._close(source, ep, TIMED_OUT, False, f"reward_reset limit of {self.max_steps} steps"))
        return events

    def abort(self, source: str, episode_id: int, reason: str) -> Event:
        """End an episode that stalled (no transition came); not counted in the success rate: the
        policy did not fail it."""
        ep = self.episodes.get(source)
        if ep is None or ep.episode_id != episode_id:
            ep = self.episodes[source] = _Episode(episode_id)
        ep.done = True
        return Event(ABORTED, source, episode_id, ep.steps, ep.episode_return, False, reason)

    def _close(self, source: str, ep: _Episode, kind: int, success: bool, reason: str) -> Event:
        ep.done = True
        self.outcomes.append(success)
        self.completed += 1
        return Event(kind, source, ep.episode_id, ep.steps, ep.episode_return, success, reason)

    def success_rate(self) -> float:
        return sum(self.outcomes) / len(self.outcomes) if self.outcomes else 0.0
