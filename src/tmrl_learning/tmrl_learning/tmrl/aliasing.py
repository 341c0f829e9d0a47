"""DSRL's noise-aliasing variant: an action-space critic Q_A(o, a) learned by TD on the actions the
robot really executed, and the steering critic Q(o, y) distilled from it.

Many steering actions y map to the same executed actions a = f(o, y) (the frozen policy aliases
noise); Q_A learns in action space, where those y share what they learn. Per update:

    Q_A(o, a)  <-  r + gamma (1 - terminated) min_e Q_A^targ(o', f(o', y')),  y' ~ actor(o')
    Q(o, y_d)  <-  mean_e Q_A(o, f(o, y_d)),                                 y_d ~ U[-1, 1]^k

then the actor step as usual (against Q). `chunk_fn(o, y)` is the frozen policy's executed actions,
flattened (B, execute * d): two batched policy calls per update, which is what this variant costs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from tmrl_learning.tmrl.networks import CriticEnsemble

ChunkFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ActionCritic:
    def __init__(self, obs_dim: int, executed_dim: int, chunk_fn: ChunkFn, members: int, hidden: int,
                 layers: int, lr: float, gamma: float, tau: float):
        self.chunk_fn, self.gamma, self.tau, self.executed_dim = chunk_fn, gamma, tau, executed_dim
        self.critic = CriticEnsemble(members, obs_dim + executed_dim, hidden, layers)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.opt = torch.optim.Adam(self.critic.parameters(), lr=lr, fused=True)

    def update(self, agent, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One TD step of Q_A and one distillation step of the agent's steering critic."""
        obs, next_obs = batch["observation"], batch["next_observation"]
        with torch.no_grad():
            next_y, _ = agent.actor(next_obs)
            next_q = self.target(next_obs, self.chunk_fn(next_obs, next_y)).min(0).values
            target = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * next_q
        q_a = self.critic(obs, batch["executed_actions"])
        td_loss = ((q_a - target.unsqueeze(0)) ** 2).mean()
        self.opt.zero_grad(set_to_none=True)
        td_loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.target.parameters()), list(self.critic.parameters()), self.tau)
            y_d = torch.rand(len(obs), agent.action_dim) * 2.0 - 1.0
            distilled = self.critic(obs, self.chunk_fn(obs, y_d)).mean(0)
        q = agent.q(obs, y_d)
        distill_loss = ((q - distilled.unsqueeze(0)) ** 2).mean()
        agent.critic_opt.zero_grad(set_to_none=True)
        distill_loss.backward()
        agent.critic_opt.step()
        return {"action_critic_loss": td_loss.item(), "distill_loss": distill_loss.item(),
                "q_action_mean": q_a.mean().item(), "critic_loss": distill_loss.item(), "q_mean": q.mean().item()}

    def state_dict(self) -> dict:
        return {"critic": self.critic.state_dict(), "target": self.target.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
