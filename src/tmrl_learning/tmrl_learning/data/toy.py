"""LineWorld: a one-dimensional task small enough for tests, where the needed behaviour exists in
the demonstrations only under another context.

Demonstrations: context c = -1 -> action -0.8 (move left); c = +1 -> action +0.8 (move right).
Fine-tuning task: the agent is shown c = +1, but succeeds only by reaching x <= -0.6 (the left).
A policy conditioned on the clean context always moves right; one queried at a large context
timestep with a chosen context noise can be steered to the left mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tmrl_learning.data.envs import GoalEnv, StepResult


@dataclass(frozen=True)
class LineWorldSpec:
    """TaskSpec-like adapter: the RL observation is (x, c); the policy context is c; no proprio."""

    name: str = "lineworld"
    context_dim: int = 1
    proprio_dim: int = 0
    action_dim: int = 1

    def from_env_observation(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return obs[..., 1:2], obs[..., :0]

    def goal_of(self, dataset, rows: np.ndarray) -> np.ndarray:
        return dataset.observations[rows, 1:2]  # the context shown is the goal

    def split_observation(self, obs: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return goal, obs[..., :0]


class LineWorld(GoalEnv):
    obs_dim, context_dim, action_dim = 2, 1, 1
    step_size, goal_x, max_steps, shown_context = 0.4, -0.6, 16, 1.0

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.steps, self.x, self.task = 0, 0.0, "left"

    def reset(self, task: str | None = None) -> np.ndarray:
        self.steps, self.x = 0, float(self.rng.uniform(-0.1, 0.1))
        return self._obs()

    def _obs(self) -> np.ndarray:
        return np.array([self.x, self.shown_context], np.float32)

    def context_of(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation)[..., 1:2]

    def step(self, action: np.ndarray) -> StepResult:
        a = float(np.clip(np.asarray(action).reshape(-1)[0], -1, 1))
        self.x = float(np.clip(self.x + self.step_size * a, -2.0, 2.0))
        self.steps += 1
        success = self.x <= self.goal_x
        return StepResult(self._obs(), 0.0 if success else -1.0, success,
                          (not success) and self.steps >= self.max_steps, success)


def lineworld_demonstrations(n: int, generator: torch.Generator | None = None, horizon: int = 2):
    """(actions (n, H, 1), contexts (n, 1)) of the two demonstrated behaviours."""
    sign = torch.randint(0, 2, (n, 1), generator=generator).float() * 2 - 1
    actions = 0.8 * sign + 0.03 * torch.randn(n, 1, generator=generator)
    return actions.unsqueeze(1).expand(n, horizon, 1).contiguous(), sign


LINEWORLD_DIT = dict(hidden=64, embed=64, layers=2, heads=2, time_frequencies=8)


def pretrain_lineworld(t_max: int | None = None, seed: int = 0, steps: int = 400):
    """A small flow policy on LineWorld's demonstrations: CSP (t_max None) or BC (t_max 0)."""
    from tmrl_learning.csp.model import DiTConfig
    from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig

    torch.manual_seed(seed)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=2, action_dim=1, context_dim=1, **LINEWORLD_DIT),
                                     num_context_timesteps=20, beta_end=0.3, train_t_max=t_max))
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-3, fused=True)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = policy.loss(*lineworld_demonstrations(128, generator))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy.eval()


def save_lineworld_checkpoint(path, t_max: int | None = None, seed: int = 0, steps: int = 400):
    """`pretrain_lineworld` saved as a policy checkpoint that `load_policy` (and the policy server) read."""
    from tmrl_learning.csp.train import PretrainConfig, save_checkpoint

    policy = pretrain_lineworld(t_max, seed, steps)
    cfg = PretrainConfig(task="lineworld", method="csp" if t_max is None else "bc", seed=seed, steps=steps,
                         policy=policy.cfg)
    return save_checkpoint(path, policy, cfg, steps)
