"""A small CSP (or BC) policy trained on LineWorld's demonstrations, for tests and the toy experiment."""

from __future__ import annotations

import torch

from tmrl_learning.csp.checkpoint import save_checkpoint
from tmrl_learning.csp.config import PretrainConfig
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.data.toy import lineworld_demonstrations

LINEWORLD_DIT = dict(hidden=64, embed=64, layers=2, heads=2, time_frequencies=8)


def pretrain_lineworld(t_max: int | None = None, seed: int = 0, steps: int = 400):
    """A small flow policy on LineWorld's demonstrations: CSP (t_max None) or BC (t_max 0)."""
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
    policy = pretrain_lineworld(t_max, seed, steps)
    cfg = PretrainConfig(task="lineworld", method="csp" if t_max is None else "bc", seed=seed, steps=steps,
                         policy=policy.cfg)
    return save_checkpoint(path, policy, cfg, steps)
