"""Human labels for real-robot episodes: which key means what, and which episode a key press is
about. The keyboard_labels node is the ROS shell around this; the driver applies the verdict."""

from __future__ import annotations

from tmrl_learning.system.episodes import ABORTED, FAILED, STARTED, SUCCEEDED, TIMED_OUT

SUCCESS_KEYS, FAILURE_KEYS = "s", "f"


def verdict(key: str, success_keys: str = SUCCESS_KEYS, failure_keys: str = FAILURE_KEYS) -> bool | None:
    """A key press (or the first character of a typed line) -> True (success), False (failure) or
    None (not a label key)."""
    key = key.strip().lower()[:1]
    if not key:
        return None
    if key in success_keys.lower():
        return True
    if key in failure_keys.lower():
        return False
    return None


class RunningEpisode:
    """Follows one robot's episode events; a label is about the episode running now, if any."""

    def __init__(self, source: str):
        self.source = source
        self.episode_id: int | None = None

    def on_event(self, source: str, kind: int, episode_id: int) -> None:
        if source != self.source:
            return
        if kind == STARTED:
            self.episode_id = episode_id
        elif self.episode_id == episode_id and kind in (SUCCEEDED, FAILED, TIMED_OUT, ABORTED):
            self.episode_id = None

