"""What tells the fine-tuning methods apart, in one place.

Every method is SAC over a steering action y; they differ in which heads y has (so which inputs of
the frozen policy's sampler the actor controls), which pre-trained policy they steer, and a few
settings:

| method | heads                               | steers            | differs in                          |
| ------ | ----------------------------------- | ----------------- | ----------------------------------- |
| tmrl   | noise w, timestep t, context noise  | a CSP policy      | t in [0, t_max], eps_c bounded      |
| dsrl   | noise w                             | a BC policy       | t = 0, no context noise             |
| postbc | noise w                             | a PostBC policy   | DSRL over a posterior-smoothed BC   |
| cfg    | noise w, guidance omega             | a CFG policy      | v_u + omega (v_c - v_u)             |
| rlpd   | action a                            | nothing           | 1-step actions, 50/50 offline data, |
|        |                                     |                   | min over 2 random target critics    |

The head arithmetic (squashing, the timestep mapping, bounds) is in `SteeringAgent.decode`; the
action critic of DSRL's noise-aliasing variant is `agent.action_critic` (tmrl/aliasing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tmrl_learning.embodiment import Embodiment
from tmrl_learning.sampler import Sampler
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent


@dataclass(frozen=True)
class Method:
    name: str
    heads: tuple[str, ...]
    pretrained: tuple[str, ...]  # the pre-training methods whose checkpoints it steers (() = none)
    defaults: dict[str, Any] = field(default_factory=dict)  # FinetuneConfig keys (dotted) it changes

    @property
    def steers_policy(self) -> bool:
        return "action" not in self.heads


METHODS = {m.name: m for m in (
    Method("tmrl", ("noise", "timestep", "context_noise"), ("csp",)),
    Method("dsrl", ("noise",), ("bc", "csp")),  # over a CSP checkpoint it steers t = 0 only (an ablation)
    Method("postbc", ("noise",), ("postbc",)),
    Method("cfg", ("noise", "guidance"), ("cfg",)),
    Method("rlpd", ("action",), (), {"execute": 1, "offline_fraction": 0.5, "agent.target_subset": 2}),
)}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {sorted(METHODS)}")
    return METHODS[name]


def head_dims(name: str, action_dim: int, context_dim: int) -> dict[str, int]:
    dims = {"noise": action_dim, "timestep": 1, "context_noise": context_dim, "guidance": 1, "action": action_dim}
    return {head: dims[head] for head in method(name).heads}


def build_agent(name: str, agent_cfg: AgentConfig, obs_dim: int, action_dim: int, context_dim: int,
                num_timesteps: int, t_max_fraction: float = 1.0, seed: int = 0) -> SteeringAgent:
    """The steering agent of a method: its heads, and the timestep cap t_max = t_max_fraction * T."""
    agent_cfg.heads = head_dims(name, action_dim, context_dim)
    agent_cfg.t_max = int(round(t_max_fraction * num_timesteps))
    return SteeringAgent(obs_dim, agent_cfg, seed=seed)


class ChunkMaker:
    """Steering actions -> executed chunks, through a frozen policy's Sampler (or directly, for rlpd)."""

    def __init__(self, agent: SteeringAgent, sampler: Sampler | None, embodiment: Embodiment, execute: int):
        self.agent, self.sampler, self.embodiment, self.execute = agent, sampler, embodiment, execute

    def __call__(self, y: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        """y (B, k), RL observations (B, obs_dim) -> (chunks (B, H, d), the decoded sampler inputs)."""
        inputs = self.agent.decode(y)
        if self.sampler is None:
            return inputs["action"].numpy()[:, None, :], inputs
        context, proprio = self.embodiment.split_observation(obs)
        b = len(context)
        zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731 - inputs a method does not steer
        numpy = lambda name, default: inputs[name].numpy() if name in inputs else default  # noqa: E731
        chunks = self.sampler.sample(context, proprio, numpy("noise", zeros(b, self.sampler.action_dim)),
                                     numpy("timestep", np.zeros(b, np.int64)),
                                     numpy("context_noise", zeros(b, self.sampler.context_noise_dim)),
                                     guidance=numpy("guidance", None))
        return chunks, inputs


def attach_action_critic(make_chunks: ChunkMaker, action_dim: int) -> int:
    """Give the agent its action critic (DSRL's noise-aliasing variant) over the executed actions of
    `make_chunks`' frozen policy; -> the width of the executed actions, flattened."""
    if make_chunks.sampler is None:
        raise ValueError("agent.action_critic needs a pre-trained policy to map steering actions to actions")
    execute, executed_dim = make_chunks.execute, make_chunks.execute * action_dim
    make_chunks.agent.attach_action_critic(executed_dim, lambda o, y: torch.from_numpy(
        make_chunks(y.numpy(), o.numpy())[0][:, :execute].reshape(len(o), -1)))
    return executed_dim
