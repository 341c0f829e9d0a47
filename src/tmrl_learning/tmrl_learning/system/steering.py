"""The steering actor of the actor/learner split: picks the frozen policy's inputs for each
observation and hot-swaps its weights when the learner sends new ones."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import torch

from tmrl_learning.csp.sampler import steered_dims
from tmrl_learning.embodiment import Embodiment
from tmrl_learning.tmrl.agent import SteeringAgent
from tmrl_learning.tmrl.config import FinetuneConfig
from tmrl_learning.tmrl.methods import build_agent, method


def steered_policy(cfg: FinetuneConfig, task: Embodiment) -> tuple[int, int]:
    """(T of the steered policy's context schedule, its context noise width) from its checkpoint (a
    flow policy or a pi0 folder); (0, the task's context width) for action-space methods."""
    if not method(cfg.method).steers_policy:
        return 0, task.context_dim
    return steered_dims(cfg.checkpoint, task.context_dim)


def context_timesteps(cfg: FinetuneConfig, task: Embodiment) -> int:
    return steered_policy(cfg, task)[0]


def make_agent(cfg: FinetuneConfig, task: Embodiment, image_features: int = 0) -> SteeringAgent:
    """The agent for a method over the policy in `cfg.checkpoint` (dimensions from the embodiment and
    the checkpoint; `image_features` more observation values where the actor sees a camera's embedding):
    steering nodes and the learner build the same one."""
    cfg.validate()
    timesteps, context_noise = steered_policy(cfg, task)
    return build_agent(cfg.method, cfg.agent, task.obs_dim + image_features, task.action_dim, context_noise,
                       timesteps, cfg.t_max_fraction, cfg.seed)


def actor_bytes(agent: SteeringAgent) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    torch.save(agent.actor.state_dict(), buffer)
    payload = buffer.getvalue()
    return payload, hashlib.sha256(payload).hexdigest()


class Steerer:
    """Acts for one robot: uniformly random until the learner's first weights arrive (the learner
    sends them after its first update, once the schedule's warm-up transitions are in: the runner's
    warm-up), then with the actor. `num_context_timesteps` is the policy schedule's T + 1 (the size
    of the index range 0..T that SteeringCommand reports), whatever cap the actor has."""

    def __init__(self, agent: SteeringAgent, num_timesteps: int = 0, seed: int = 0, deterministic: bool = False):
        self.agent, self.deterministic = agent, deterministic
        self.num_context_timesteps = num_timesteps + 1 if num_timesteps else 0
        self.rng = np.random.default_rng(seed)
        self.version, self.steps = 0, 0

    def act(self, observation: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """observation (obs_dim,) -> (raw steering action y (k,), the sampler inputs it decodes to)."""
        obs = np.asarray(observation, np.float32)[None]
        if self.version == 0 and not self.deterministic:
            if not np.isfinite(obs).all():
                raise ValueError("observation contains NaN or inf")
            y = self.agent.random_actions(1, self.rng)
        else:
            y = self.agent.act(obs, deterministic=self.deterministic)
        self.steps += 1
        inputs = {k: v[0].numpy() for k, v in self.agent.decode(y).items()}
        return y[0], inputs

    def load_weights(self, version: int, payload: bytes, sha256: str) -> bool:
        """Install actor weights; False when `version` is not newer. ValueError for a payload that
        does not match its digest or does not fit the actor."""
        if version <= self.version:
            return False
        digest = hashlib.sha256(payload).hexdigest()
        if digest != sha256:
            raise ValueError(f"policy update {version}: sha256 {digest[:12]} does not match {sha256[:12]}")
        try:
            state = torch.load(io.BytesIO(payload), weights_only=True)
            self.agent.actor.load_state_dict(state)
        except Exception as err:  # wrong architecture, truncated bytes
            raise ValueError(f"policy update {version}: weights do not fit this actor ({err})") from err
        self.version = version
        return True
