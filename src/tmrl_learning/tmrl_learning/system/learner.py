"""The learner of the actor/learner split: a replay buffer fed by any number of steering nodes,
SAC updates at a set ratio to incoming data, actor weights to publish, and checkpoints that make a
crash cost nothing: each transition is keyed by (source, episode, step), so a resent one is
recognised, and the buffer, the keys, the agent and the counters are saved together, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tmrl_learning.system.steering import actor_bytes
from tmrl_learning.tmrl.agent import SteeringAgent
from tmrl_learning.tmrl.config import UpdateSchedule
from tmrl_learning.tmrl.replay import ReplayBuffer

Key = tuple[str, int, int]


@dataclass
class LearnerConfig:
    capacity: int = 200_000
    publish_every: int = 20             # updates between published actor weights (and after the first)
    checkpoint_every: int = 200         # new transitions between checkpoints
    offline_fraction: float = 0.0       # RLPD: 0.5 with an offline buffer
    use_intervened: bool = False        # keep transitions a human intervened in: their steering action did not
                                        # choose what ran, so by default they are dropped (counted)
    seed: int = 0


class Learner:
    """Updates as `schedule` says (tmrl/config.py: the rule the in-process runner follows too)."""

    def __init__(self, agent: SteeringAgent, cfg: LearnerConfig, out_dir: str | Path | None = None,
                 schedule: UpdateSchedule | None = None):
        self.agent, self.cfg = agent, cfg
        self.schedule = schedule or UpdateSchedule()
        self.schedule.validate()
        executed_dim = agent.action_critic.executed_dim if agent.action_critic is not None else 0
        self.buffer = ReplayBuffer(agent.obs_dim, agent.action_dim, cfg.capacity, executed_dim)
        self.keys: set[Key] = set()
        self.rng = np.random.default_rng(cfg.seed)
        self.received = self.duplicates = self.rejected = self.updates = self.version = 0
        self.dropped_intervened = 0
        self._since_checkpoint = 0
        self.path = Path(out_dir) / "learner.pt" if out_dir else None
        self.metrics: dict[str, float] = {}

    # ---- data --------------------------------------------------------------------------------------
    def add(self, key: Key, transition: dict[str, np.ndarray], intervened: int = 0) -> bool:
        """Add one transition; False for one already held or one a human intervened in (unless
        `use_intervened`). ValueError (nothing added) for a bad one."""
        if intervened and not self.cfg.use_intervened:
            self.dropped_intervened += 1
            return False
        if key in self.keys:
            self.duplicates += 1
            return False
        try:
            self.buffer.add(**{k: np.asarray(transition[k], np.float32)[None] for k in self.buffer.fields})
        except (KeyError, ValueError) as err:
            self.rejected += 1
            raise ValueError(f"transition {key}: {err}") from err
        self.keys.add(key)
        self.received += 1
        self._since_checkpoint += 1
        return True

    def set_offline(self, transitions: dict[str, np.ndarray]) -> None:
        self.buffer.set_offline(**transitions)

    # ---- learning ----------------------------------------------------------------------------------
    def due_updates(self) -> int:
        if len(self.buffer) < 2:
            return 0
        return max(self.schedule.due(self.received) - self.updates, 0)

    def allowance(self) -> float:
        """Transitions the actors may still send before this learner falls more than the schedule's
        max_lag updates behind (inf: no limit)."""
        return self.schedule.allowance(self.received, self.updates)

    def achieved_ratio(self) -> float:
        """Updates per transition since the warm-up (the configured ratio when the learner keeps up)."""
        after = self.received - self.schedule.warmup_transitions
        return self.updates / after if after > 0 else 0.0

    def update(self) -> dict[str, float]:
        batch = self.buffer.sample(self.agent.cfg.batch_size * self.agent.cfg.utd, self.rng, self.cfg.offline_fraction)
        self.metrics = self.agent.update(batch)
        self.updates += 1
        return self.metrics

    def should_publish(self) -> bool:
        """After the first update (it ends the actors' random warm-up), then every publish_every."""
        return self.updates == 1 or (self.updates > 0 and self.updates % self.cfg.publish_every == 0)

    def export_actor(self) -> tuple[int, bytes, str]:
        """-> (version, weights, sha256); the version counts exports."""
        self.version += 1
        return (self.version, *actor_bytes(self.agent))

    # ---- persistence -------------------------------------------------------------------------------
    def checkpoint_due(self) -> bool:
        return self.path is not None and self._since_checkpoint >= self.cfg.checkpoint_every

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"format": "tmrl-learner/1", "agent": self.agent.state_dict(), "buffer": self.buffer.state_dict(),
                 "keys": sorted(self.keys), "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                 "counters": {k: getattr(self, k) for k in ("received", "duplicates", "rejected", "dropped_intervened",
                                                            "updates", "version")}}
        tmp = self.path.with_name(self.path.name + ".partial")
        torch.save(state, tmp)
        tmp.replace(self.path)  # atomic: buffer, keys and agent always agree
        self._since_checkpoint = 0

    def resume(self) -> bool:
        """Load the checkpoint if there is one; True when it did."""
        if self.path is None or not self.path.is_file():
            return False
        state = torch.load(self.path, weights_only=False)
        if state.get("format") != "tmrl-learner/1":
            raise ValueError(f"{self.path}: not a tmrl learner checkpoint")
        self.agent.load_state_dict(state["agent"])
        self.buffer.load_state_dict(state["buffer"])
        self.keys = {tuple(k) for k in state["keys"]}
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        for k, v in state["counters"].items():
            setattr(self, k, v)
        return True
