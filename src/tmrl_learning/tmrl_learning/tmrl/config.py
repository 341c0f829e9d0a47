"""Fine-tuning configuration, shared by the in-process runner (`tmrl finetune`) and the ROS graph
(steering and learner nodes declare the same keys).

`UpdateSchedule` is the one definition of when updates happen, for both:
- the first `warmup_transitions` transitions are collected with uniformly random steering actions
  (the runner draws them itself; in the graph the steering nodes act randomly until the learner's
  first weights, which it publishes right after its first update);
- after that, the learner has done `floor((received - warmup_transitions) * updates_per_transition)`
  updates whenever it has received `received` transitions (the runner checks after every vector step,
  the learner after every message). The authors: 500 random vector steps of 4 envs (2000 transitions),
  then one update per vector step (0.25 per transition).
- in the graph, actors wait when the learner is more than `max_lag` updates behind that count, so a
  slow learner (several robots on a small machine) holds the ratio instead of falling behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tmrl_learning.tmrl.agent import AgentConfig
from tmrl_learning.tmrl.methods import method


@dataclass
class UpdateSchedule:
    warmup_transitions: int = 2000        # random steering before the first update (authors: 500 x 4 envs)
    updates_per_transition: float = 0.25  # the update-to-data ratio (authors: 1 per vector step of 4 envs)
    max_lag: int = 16                     # graph: updates the learner may owe before the actors wait (0: never)

    def validate(self) -> None:
        if self.warmup_transitions < 0 or self.updates_per_transition < 0 or self.max_lag < 0:
            raise ValueError(f"update schedule values must be >= 0, got {self}")

    def due(self, received: int) -> int:
        """Updates that should have happened once `received` transitions are in."""
        if received < max(self.warmup_transitions, 1):
            return 0
        return int((received - self.warmup_transitions) * self.updates_per_transition)

    def warming_up(self, received: int) -> bool:
        return received < self.warmup_transitions

    def allowance(self, received: int, updates: int) -> float:
        """Transitions the actors may still send before the learner owes more than `max_lag` updates
        (inf: never wait)."""
        if not self.max_lag or not self.updates_per_transition:
            return math.inf
        allowed = self.warmup_transitions + (updates + self.max_lag) / self.updates_per_transition
        return allowed - received


@dataclass
class FinetuneConfig:
    method: str = "tmrl"
    task: str = "pointmaze-large-to-giant"
    seed: int = 0
    checkpoint: str = ""             # the frozen pre-trained policy (unused by rlpd)
    num_envs: int = 4
    execute: int = 5                 # actions executed per chunk (rlpd: 1)
    steps: int = 20_000              # vector steps
    schedule: UpdateSchedule = field(default_factory=UpdateSchedule)
    eval_every: int = 2_000
    eval_episodes: int = 25          # the authors: 25, spread evenly over the evaluation tasks
    checkpoint_every: int = 2_000
    offline_fraction: float = 0.0    # rlpd: 0.5 (needs offline transitions)
    offline_episodes: int = 200      # episodes of the task's pre-training data that make them
    t_max_fraction: float = 1.0      # cap on the timestep the actor may pick, as a fraction of T
    threads: int = 0
    agent: AgentConfig = field(default_factory=AgentConfig)

    def validate(self) -> None:
        m = method(self.method)  # raises for an unknown one
        if m.steers_policy and not self.checkpoint:
            raise ValueError(f"method {self.method} steers a pre-trained policy: give --checkpoint")
        if not 0.0 <= self.t_max_fraction <= 1.0:
            raise ValueError(f"t_max_fraction must be in [0, 1], got {self.t_max_fraction}")
        self.schedule.validate()
