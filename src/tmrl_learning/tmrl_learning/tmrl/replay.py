"""Replay buffer of macro-step transitions, with an optional offline part (RLPD's 50/50 mix).

Saved and restored with the agent (npz, written atomically) so a run resumes without losing data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

FIELDS = ("observation", "steering_action", "reward", "next_observation", "terminated")


class ReplayBuffer:
    """`executed_dim` > 0 adds the field "executed_actions": the actions the robot executed, flattened
    (zero-padded when an episode ended mid-chunk), for an action-space critic."""

    def __init__(self, obs_dim: int, action_dim: int, capacity: int = 1_000_000, executed_dim: int = 0):
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.data = {
            "observation": np.zeros((capacity, obs_dim), np.float32),
            "steering_action": np.zeros((capacity, action_dim), np.float32),
            "reward": np.zeros(capacity, np.float32),
            "next_observation": np.zeros((capacity, obs_dim), np.float32),
            "terminated": np.zeros(capacity, np.float32),
        }
        if executed_dim:
            self.data["executed_actions"] = np.zeros((capacity, executed_dim), np.float32)
        self.fields = tuple(self.data)
        self.offline: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: np.ndarray) -> None:
        """Add B transitions: each field (B, ...)."""
        missing = set(self.fields) - set(batch)
        if missing:
            raise KeyError(f"transition batch lacks {sorted(missing)}")
        n = len(batch["reward"])
        for key in self.fields:
            value = np.asarray(batch[key], np.float32)
            if value.shape[1:] != self.data[key].shape[1:] or len(value) != n:
                raise ValueError(f"transition field {key!r} has shape {value.shape}, expected "
                                 f"({n}, {', '.join(map(str, self.data[key].shape[1:]))})")
            if not np.isfinite(value).all():
                raise ValueError(f"transition field {key!r} contains NaN or inf")
        idx = (self.pos + np.arange(n)) % self.capacity
        for key in self.fields:
            self.data[key][idx] = np.asarray(batch[key], np.float32)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def set_offline(self, **data: np.ndarray) -> None:
        missing = set(self.fields) - set(data)
        if missing:
            raise KeyError(f"offline data lacks {sorted(missing)}")
        self.offline = {k: np.asarray(data[k], np.float32) for k in self.fields}

    def sample(self, n: int, rng: np.random.Generator, offline_fraction: float = 0.0) -> dict[str, torch.Tensor]:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        n_off = int(round(n * offline_fraction)) if self.offline is not None else 0
        idx = rng.integers(0, self.size, n - n_off)
        out = {k: self.data[k][idx] for k in self.fields}
        if n_off:
            off = rng.integers(0, len(self.offline["reward"]), n_off)
            out = {k: np.concatenate([out[k], self.offline[k][off]]) for k in self.fields}
        return {k: torch.from_numpy(v) for k, v in out.items()}

    def state_dict(self) -> dict:
        return {"size": self.size, "pos": self.pos, "capacity": self.capacity,
                **{k: v[: self.size].copy() for k, v in self.data.items()}}

    def load_state_dict(self, state) -> None:
        """Restores exactly when the capacity is unchanged. A run resumed with more (or fewer) steps has
        another capacity: then the transitions are stored oldest first (the newest ones kept) so that the
        write position points past them, not into the middle of a wrapped ring."""
        size, pos = int(state["size"]), int(state["pos"])
        saved_capacity = int(state["capacity"]) if "capacity" in state else self.capacity
        for k in self.fields:
            if k not in state:
                raise ValueError(f"saved buffer lacks the field {k!r}")
            if state[k].shape[1:] != self.data[k].shape[1:]:
                raise ValueError(f"saved buffer field {k!r} has shape {state[k].shape}, expected {self.data[k].shape}")
        if saved_capacity == self.capacity:
            order = np.arange(size)
        else:
            order = (pos + np.arange(size)) % size if size else np.arange(0)  # oldest first
            order = order[max(size - self.capacity, 0):]
            pos = len(order) % self.capacity
        for k in self.fields:
            self.data[k][: len(order)] = np.asarray(state[k])[order]
        self.size, self.pos = len(order), pos

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, **self.state_dict())
        tmp.replace(path)

    def load(self, path: str | Path) -> None:
        with np.load(path) as f:
            self.load_state_dict(f)
