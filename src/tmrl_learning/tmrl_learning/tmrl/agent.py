"""The steering agent: SAC over the inputs of a frozen policy's sampler.

Heads (each a tanh-squashed Gaussian with its own auto-tuned temperature and target entropy -dim):
    noise          w in [-noise_bound, noise_bound]^d, one vector repeated over the chunk (DSRL, TMRL)
    timestep       y in [-1, 1] -> context timestep min(floor((y + 1) / 2 * (t_max + 1)), t_max)  (TMRL)
    context_noise  eps_c in [-context_noise_bound, context_noise_bound]^C                          (TMRL)
    guidance       y in [-1, 1] -> CFG weight omega in [guidance_min, guidance_max]                (CFG-RL)
    action         the environment action itself in [-1, 1]^d                                      (RLPD)

Critics Q(o, y) see the squashed actor output y, except that the timestep entry is replaced by a
sinusoidal embedding of the (continuous) timestep it selects, as in the authors' critics. Target:
r + gamma (1 - terminated) min over a subset of target critics of Q(o', y'), optionally minus the
entropy term. Update-to-data ratio: one batch of utd * batch_size sliced into utd minibatches.
The temperatures share the actor's optimizer and backward pass (Adam is per-parameter, and each loss's
gradient reaches only its own parameters, so this is the same update as separate steps, done once).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch

from tmrl_learning.cpu_features import resolve_bf16
from tmrl_learning.csp.model import sinusoidal
from tmrl_learning.tmrl.aliasing import ActionCritic, ChunkFn
from tmrl_learning.tmrl.networks import CriticEnsemble, SquashedGaussianActor


@dataclass
class AgentConfig:
    heads: dict[str, int] = field(default_factory=lambda: {"noise": 2, "timestep": 1, "context_noise": 4})
    hidden: int = 256
    actor_layers: int = 4
    critic_layers: int = 3
    critics: int = 5
    target_subset: int | None = None   # RLPD: min over a random subset of 2; None: min over all
    gamma: float = 0.995               # per macro-step
    tau: float = 0.005
    lr: float = 3e-4
    batch_size: int = 256
    utd: int = 1
    init_alpha: float = 1.0
    backup_entropy: bool = False       # the authors' target has no entropy term
    noise_bound: float = 1.0
    context_noise_bound: float = 1.0
    t_max: int = 100                   # cap on the context timestep the actor may pick (safety knob)
    guidance_min: float = 0.0
    guidance_max: float = 4.0
    action_critic: bool = False        # DSRL's noise-aliasing variant (tmrl/aliasing.py); the runner attaches it
    timestep_embedding: int = 64       # critics see the timestep as this many sinusoidal features (0: raw y_t)
    compile: bool = False              # torch.compile the critic and actor losses, each one graph (~30 s once)
    bf16: bool | str = False           # bf16 autocast in the hidden layers (outputs stay fp32); auto: where the
                                       # CPU has native bf16 (cpu_features.py)


class SteeringAgent:
    def __init__(self, obs_dim: int, cfg: AgentConfig, seed: int = 0):
        torch.manual_seed(seed)
        self.cfg, self.obs_dim = cfg, obs_dim
        bf16 = resolve_bf16(cfg.bf16)
        self.actor = SquashedGaussianActor(obs_dim, cfg.heads, cfg.hidden, cfg.actor_layers, bf16)
        names = list(cfg.heads)
        self.timestep_column = sum(cfg.heads[n] for n in names[:names.index("timestep")]) \
            if "timestep" in cfg.heads and cfg.timestep_embedding else None
        if cfg.timestep_embedding % 2:
            raise ValueError(f"timestep_embedding must be even (sin and cos pairs), got {cfg.timestep_embedding}")
        self.critic_width = self.actor.action_dim + (cfg.timestep_embedding - 1 if self.timestep_column is not None
                                                     else 0)
        self.critic = CriticEnsemble(cfg.critics, obs_dim + self.critic_width, cfg.hidden, cfg.critic_layers, bf16)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.nn.ParameterDict(
            {name: torch.nn.Parameter(torch.tensor(float(np.log(cfg.init_alpha)))) for name in cfg.heads})
        self.target_entropy = {name: -float(dim) for name, dim in cfg.heads.items()}
        # fused Adam: one kernel over all parameters instead of a dozen small ops per tensor
        self.actor_opt = torch.optim.Adam([{"params": list(self.actor.parameters())},
                                           {"params": list(self.log_alpha.parameters())}], lr=cfg.lr, fused=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, fused=True)
        self.updates = 0
        self.action_critic: ActionCritic | None = None
        # Compiled as whole losses, not module by module: two graphs per update instead of five calls,
        # with the fusions across them. The modules stay eager, so parameter names (checkpoints) do not change.
        self._critic_loss = torch.compile(self.critic_loss) if cfg.compile else self.critic_loss
        self._actor_loss = torch.compile(self.actor_loss) if cfg.compile else self.actor_loss

    def attach_action_critic(self, executed_dim: int, chunk_fn: ChunkFn) -> None:
        """Learn Q(o, y) by distillation from an action critic (cfg.action_critic); `chunk_fn(o, y)`
        gives the executed actions (B, executed_dim); batches must hold "executed_actions"."""
        c = self.cfg
        self.action_critic = ActionCritic(self.obs_dim, executed_dim, chunk_fn, c.critics, c.hidden, c.critic_layers,
                                          c.lr, c.gamma, c.tau)

    @property
    def action_dim(self) -> int:
        return self.actor.action_dim

    # ---- acting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """(B, obs_dim) -> raw steering actions y (B, action_dim) in [-1, 1]."""
        obs_t = torch.as_tensor(np.asarray(obs, np.float32))
        if obs_t.ndim != 2 or obs_t.shape[1] != self.obs_dim:
            raise ValueError(f"observation has shape {tuple(obs_t.shape)}, expected (B, {self.obs_dim})")
        if not torch.isfinite(obs_t).all():
            raise ValueError("observation contains NaN or inf")
        return self.actor(obs_t, deterministic)[0].numpy()

    def random_actions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, (n, self.action_dim)).astype(np.float32)

    def decode(self, y: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw actions (B, k) -> the sampler's inputs: noise (B, d), timestep (B,) long,
        context_noise (B, C), guidance (B,), action (B, d) -- whichever heads exist."""
        y = torch.as_tensor(np.asarray(y, np.float32))
        out, start = {}, 0
        for name, dim in self.cfg.heads.items():
            part = y[:, start:start + dim]
            start += dim
            if name == "noise":
                out[name] = self.cfg.noise_bound * part
            elif name == "timestep":
                index = torch.floor((part[:, 0] + 1.0) / 2.0 * (self.cfg.t_max + 1)).long()
                out[name] = index.clamp(0, self.cfg.t_max)
            elif name == "context_noise":
                out[name] = self.cfg.context_noise_bound * part
            elif name == "guidance":
                lo, hi = self.cfg.guidance_min, self.cfg.guidance_max
                out[name] = lo + (part[:, 0] + 1.0) / 2.0 * (hi - lo)
            elif name == "action":
                out[name] = part
            else:
                raise KeyError(f"unknown steering head {name!r}")
        return out

    # ---- learning --------------------------------------------------------------------------------
    def critic_input(self, y: torch.Tensor) -> torch.Tensor:
        """Raw steering actions (B, k) -> what the critics see: the timestep entry as sinusoidal
        features of the continuous timestep (differentiable, so the actor's gradient reaches it)."""
        i = self.timestep_column
        if i is None:
            return y
        t = (y[:, i] + 1.0) / 2.0 * (self.cfg.t_max + 1)
        return torch.cat([y[:, :i], sinusoidal(t, self.cfg.timestep_embedding // 2), y[:, i + 1:]], dim=-1)

    def q(self, obs: torch.Tensor, y: torch.Tensor, target: bool = False) -> torch.Tensor:
        """(E, B) values of the critic ensemble (or its target) for steering actions y."""
        return (self.target if target else self.critic)(obs, self.critic_input(y))

    def alphas(self) -> dict[str, torch.Tensor]:
        return {name: log_alpha.exp() for name, log_alpha in self.log_alpha.items()}

    def critic_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            next_y, next_logp = self.actor(batch["next_observation"])
            q = self.q(batch["next_observation"], next_y, target=True)  # (E, B)
            if self.cfg.target_subset:
                q = q[torch.randperm(q.shape[0])[: self.cfg.target_subset]]
            next_q = q.min(0).values
            if self.cfg.backup_entropy:
                alphas = self.alphas()
                next_q = next_q - sum(alphas[k] * next_logp[k] for k in next_logp)
            return batch["reward"] + self.cfg.gamma * (1.0 - batch["terminated"]) * next_q

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean squared TD error over the ensemble, and the mean Q (detached)."""
        target = self.critic_target(batch)
        q = self.q(batch["observation"], batch["steering_action"])
        return ((q - target.unsqueeze(0)) ** 2).mean(), q.detach().mean()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """-> actor loss (temperatures held fixed), temperature loss (log-probabilities held fixed), and
        the detached log-probabilities per head."""
        y, logp = self.actor(obs)
        alphas = self.alphas()
        q = self.q(obs, y).mean(0)
        actor = (sum(alphas[k].detach() * logp[k] for k in logp) - q).mean()
        logp = {k: v.detach() for k, v in logp.items()}
        return actor, self.temperature_loss(logp), logp

    def temperature_loss(self, logp: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(-(self.log_alpha[k] * (logp[k] + self.target_entropy[k])).mean() for k in logp)

    def update_critic(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        loss, q_mean = self._critic_loss(batch)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.target.parameters()), list(self.critic.parameters()), self.cfg.tau)
        return {"critic_loss": loss.item(), "q_mean": q_mean.item()}

    def update_actor(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """The actor and the temperatures in one backward pass and one optimizer step."""
        # the critic is a fixed function here: no gradients for its weights, only through its input
        self.critic.requires_grad_(False)
        try:
            actor, temperature, logp = self._actor_loss(batch["observation"])
            self.actor_opt.zero_grad(set_to_none=True)
            (actor + temperature).backward()
        finally:
            self.critic.requires_grad_(True)
        self.actor_opt.step()
        return {"actor_loss": actor.item()} | self._temperature_metrics(logp)

    def update_temperature(self, logp: dict[str, torch.Tensor]) -> dict[str, float]:
        """A temperature step alone, for given log-probabilities (the actor's parameters get no gradient)."""
        self.actor_opt.zero_grad(set_to_none=True)
        self.temperature_loss(logp).backward()
        self.actor_opt.step()
        return self._temperature_metrics(logp)

    def _temperature_metrics(self, logp: dict[str, torch.Tensor]) -> dict[str, float]:
        return {f"alpha/{k}": float(v.detach()) for k, v in self.alphas().items()} | \
            {f"entropy/{k}": float(-logp[k].mean()) for k in logp}

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One batch of utd * batch_size rows: utd critic updates, then one actor update."""
        n = self.cfg.batch_size
        metrics: dict[str, float] = {}
        if self.cfg.action_critic and self.action_critic is None:
            raise RuntimeError("cfg.action_critic is set but no action critic is attached (attach_action_critic)")
        for i in range(self.cfg.utd):
            minibatch = {k: v[i * n:(i + 1) * n] for k, v in batch.items()}
            if self.action_critic is not None:
                metrics = self.action_critic.update(self, minibatch)
            else:
                metrics = self.update_critic(minibatch)
        metrics.update(self.update_actor({k: v[-n:] for k, v in batch.items()}))
        self.updates += 1
        return metrics

    # ---- persistence -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "target": self.target.state_dict(), "log_alpha": self.log_alpha.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "updates": self.updates,
                **({"action_critic": self.action_critic.state_dict()} if self.action_critic is not None else {})}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.target.load_state_dict(state["target"])
        self.log_alpha.load_state_dict(state["log_alpha"])
        self.actor_opt.load_state_dict(merge_temperature_optimizer(state["actor_opt"], state["alpha_opt"])
                                       if "alpha_opt" in state else state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.updates = state["updates"]
        if self.action_critic is not None:
            if "action_critic" not in state:
                raise ValueError("the saved agent has no action critic; this one uses one (agent.action_critic)")
            self.action_critic.load_state_dict(state["action_critic"])


def merge_temperature_optimizer(actor_opt: dict, alpha_opt: dict) -> dict:
    """Checkpoints written before the temperatures joined the actor's optimizer have two Adam states;
    this makes them one, the temperatures as the second parameter group (their moments carried over)."""
    if len(actor_opt["param_groups"]) != 1 or len(alpha_opt["param_groups"]) != 1:
        raise ValueError("unexpected optimizer state in the checkpoint: expected one parameter group each")
    offset = len(actor_opt["param_groups"][0]["params"])
    renumber = {i: offset + n for n, i in enumerate(alpha_opt["param_groups"][0]["params"])}
    alpha_params = alpha_opt["param_groups"][0]["params"]
    alpha_group = {**alpha_opt["param_groups"][0], "params": [renumber[i] for i in alpha_params]}
    return {"state": {**actor_opt["state"], **{renumber[i]: v for i, v in alpha_opt["state"].items()}},
            "param_groups": [actor_opt["param_groups"][0], alpha_group]}
