"""A pi0-class VLA with a context-smoothed prefix: a PaliGemma VLM (transformers' classes) embeds the
images and the instruction into prefix tokens; the prefix is RMS-normalised per token, corrupted by the
DDPM forward process at context timestep t with context noise eps_c (T = 1000, as the authors do for
VLA prefix embeddings), and a flow-matching action expert attends to it, told t and the flow time s.

    prefix   = rms(VLM(images, tokens))                                  (B, L, D)   `embed_prefix`
    prefix_t = sqrt(abar_t) prefix + sqrt(1 - abar_t) eps_c                          `ContextSmoother`
    chunk    = Euler(v(x_s, s, prefix_t, t, proprio)) from the action noise          `sample`

Simplification against pi0: the action expert cross-attends to the VLM's last prefix states (pi0's expert
attends to every layer's keys and values). The prefix is the context of the Sampler protocol, flattened
(`Pi0Sampler`): perception computes it once per decision, the policy server samples from it.
Weights come from a path (`save_pi0` / `load_pi0`: config.json + model.safetensors), never from a hub.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tmrl_learning.csp.model import sinusoidal
from tmrl_learning.csp.smoothing import ContextSmoother
from tmrl_learning.vla.prefix_noise import RANKS, PrefixNoise


@dataclass
class Pi0Config:
    vlm: dict = field(default_factory=dict)  # transformers PaliGemmaConfig keyword arguments
    horizon: int = 8
    action_dim: int = 7
    proprio_dim: int = 0
    expert_hidden: int = 64
    expert_layers: int = 2
    expert_heads: int = 4
    num_context_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    flow_steps: int = 10
    flow_bins: int = 100
    max_text_tokens: int = 16    # the instruction is padded or cut to this: a fixed prefix length
    time_frequencies: int = 16


def tiny_vlm(image_size: int = 32, width: int = 32, vocab: int = 300) -> dict:
    """A PaliGemma of pi0's architecture at toy width (tests, benchmarks): SigLIP + Gemma, one layer each."""
    return dict(vision_config=dict(model_type="siglip_vision_model", hidden_size=width, intermediate_size=2 * width,
                                   num_hidden_layers=1, num_attention_heads=2, image_size=image_size, patch_size=8,
                                   projection_dim=width),
                text_config=dict(model_type="gemma", hidden_size=width, intermediate_size=2 * width,
                                 num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                 head_dim=width // 2, vocab_size=vocab),
                image_token_index=vocab - 1, projection_dim=width, hidden_size=width, vocab_size=vocab)


class ActionExpert(nn.Module):
    """Action tokens (+ learned positions) -> transformer decoder layers (self-attention over the chunk,
    cross-attention to the prefix), conditioned on (t, s) by a shift of every token."""

    def __init__(self, cfg: Pi0Config, prefix_width: int):
        super().__init__()
        h = cfg.expert_hidden
        self.cfg = cfg
        self.embed = nn.Linear(cfg.action_dim, h)
        self.position = nn.Parameter(torch.zeros(1, cfg.horizon, h))
        self.condition = nn.Sequential(nn.Linear(4 * cfg.time_frequencies + cfg.proprio_dim, h), nn.Mish(),
                                       nn.Linear(h, h))
        self.memory = nn.Linear(prefix_width, h)
        self.layers = nn.ModuleList(nn.TransformerDecoderLayer(h, cfg.expert_heads, 2 * h, dropout=0.0,
                                                               batch_first=True, norm_first=True)
                                    for _ in range(cfg.expert_layers))
        self.out = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, cfg.action_dim))

    def forward(self, x: torch.Tensor, s: torch.Tensor, prefix: torch.Tensor, t: torch.Tensor,
                proprio: torch.Tensor) -> torch.Tensor:
        f = self.cfg.time_frequencies
        cond = self.condition(torch.cat([sinusoidal(t.float(), f), sinusoidal(s * 1000.0, f), proprio], -1))
        tokens = self.embed(x) + self.position + cond.unsqueeze(1)
        memory = self.memory(prefix)
        for layer in self.layers:
            tokens = layer(tokens, memory)
        return self.out(tokens)


def rms_normalise(prefix: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return prefix * torch.rsqrt(prefix.pow(2).mean(-1, keepdim=True) + eps)


class Pi0Policy(nn.Module):
    def __init__(self, cfg: Pi0Config):
        super().__init__()
        from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

        self.cfg = cfg
        self.vlm = PaliGemmaForConditionalGeneration(PaliGemmaConfig(**cfg.vlm))
        self.prefix_width = self.vlm.config.text_config.hidden_size
        self.expert = ActionExpert(cfg, self.prefix_width)
        self.smoother = ContextSmoother(cfg.num_context_timesteps, cfg.beta_start, cfg.beta_end)

    def embed_prefix(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                     attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, 3, S, S) in [0, 1] and tokens (B, N) (image placeholders first) -> RMS-normalised prefix
        (B, L, D)."""
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        n = self.image_tokens() + self.cfg.max_text_tokens
        if input_ids.shape[1] > n:
            input_ids, mask = input_ids[:, :n], mask[:, :n]
        elif input_ids.shape[1] < n:  # pad: masked out of the VLM's attention
            pad = n - input_ids.shape[1]
            input_ids = torch.nn.functional.pad(input_ids, (0, pad), value=0)
            mask = torch.nn.functional.pad(mask, (0, pad), value=0)
        states = self.vlm.model(pixel_values=pixel_values, input_ids=input_ids, attention_mask=mask).last_hidden_state
        return rms_normalise(states)

    def prompt_ids(self, tokenizer, text: str, batch: int = 1) -> torch.Tensor:
        """(batch, N) ids of the prefix: the image placeholders, then the instruction's tokens."""
        words = tokenizer(text.lower(), add_special_tokens=False)["input_ids"]
        if max(words, default=0) >= self.vlm.config.text_config.vocab_size:
            raise ValueError(f"the tokenizer's ids reach {max(words)}, the VLM's vocabulary has "
                             f"{self.vlm.config.text_config.vocab_size}")
        ids = [self.vlm.config.image_token_index] * self.image_tokens() + words
        return torch.tensor([ids] * batch)

    @property
    def prefix_tokens(self) -> int:
        return self.image_tokens() + self.cfg.max_text_tokens

    def image_tokens(self) -> int:
        vision = self.vlm.config.vision_config
        return (vision.image_size // vision.patch_size) ** 2

    def _proprio(self, proprio: torch.Tensor | None, b: int) -> torch.Tensor:
        if proprio is None or self.cfg.proprio_dim == 0:
            return torch.zeros(b, self.cfg.proprio_dim)
        if proprio.shape != (b, self.cfg.proprio_dim):
            raise ValueError(f"proprio has shape {tuple(proprio.shape)}, expected ({b}, {self.cfg.proprio_dim})")
        return proprio

    def loss(self, actions: torch.Tensor, prefix: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """Context-smoothed flow matching: t ~ U{0..T} per sample, independent of the flow time s."""
        b = actions.shape[0]
        t = self.smoother.sample_timesteps(b)
        noisy = self.smoother.corrupt(prefix.reshape(b, -1), t).reshape(prefix.shape)
        s = torch.floor(torch.rand(b) * self.cfg.flow_bins) / self.cfg.flow_bins
        z = torch.randn_like(actions)
        x = (1 - s)[:, None, None] * actions + s[:, None, None] * z
        v = self.expert(x, s, noisy, t, self._proprio(proprio, b))
        return (v - (z - actions)).pow(2).mean()

    @torch.no_grad()
    def sample(self, prefix: torch.Tensor, proprio: torch.Tensor | None, action_noise: torch.Tensor,
               timestep: torch.Tensor, context_noise: torch.Tensor) -> torch.Tensor:
        """Deterministic given (action_noise (B, H, d), timestep (B,), context_noise shaped like prefix)."""
        b = prefix.shape[0]
        noisy = self.smoother.corrupt(prefix.reshape(b, -1), timestep.long(), context_noise.reshape(b, -1))
        noisy = noisy.reshape(prefix.shape)
        x, steps, p = action_noise, self.cfg.flow_steps, self._proprio(proprio, b)
        for k in range(steps):  # Euler from s = 1 (noise) to s = 0 (actions)
            s = torch.full((b,), 1.0 - k / steps)
            x = x - self.expert(x, s, noisy, timestep, p) / steps
        return x


class Pi0Sampler:
    """The Sampler protocol over a Pi0Policy: the context is the flattened prefix (L * D values, L the
    policy's `prefix_tokens`), as perception computes it with `embed_prefix`. The context noise is
    steered in `noise_ranks` = (token, width) directions (vla.prefix_noise); a full (L * D) noise is
    taken as it is."""

    def __init__(self, policy: Pi0Policy, noise_ranks: tuple[int, int] = RANKS, noise_seed: int = 0):
        self.policy = policy.eval()
        self.prefix_tokens = policy.prefix_tokens
        self.horizon, self.action_dim = policy.cfg.horizon, policy.cfg.action_dim
        self.context_dim = self.prefix_tokens * policy.prefix_width
        self.prefix_noise = PrefixNoise(self.prefix_tokens, policy.prefix_width, *noise_ranks, seed=noise_seed)
        self.context_noise_dim = self.prefix_noise.dim
        self.proprio_dim = policy.cfg.proprio_dim
        self.num_timesteps = policy.cfg.num_context_timesteps

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None) -> np.ndarray:
        if guidance is not None:
            raise ValueError("a pi0 sampler has no classifier-free guidance")
        context = torch.as_tensor(np.asarray(context, np.float32))
        b = context.shape[0]
        if context.shape[1] != self.context_dim:
            raise ValueError(f"context has {context.shape[1]} values, expected {self.prefix_tokens} prefix tokens x "
                             f"{self.policy.prefix_width} = {self.context_dim}")
        noise = torch.as_tensor(np.asarray(action_noise, np.float32))
        if noise.ndim == 2:  # one vector repeated over the chunk, as DSRL steers it
            noise = noise[:, None, :].expand(b, self.horizon, self.action_dim)
        prefix = context.reshape(b, self.prefix_tokens, self.policy.prefix_width)
        eps = torch.as_tensor(np.asarray(context_noise, np.float32))
        if eps.shape[1] != self.context_dim:
            eps = self.prefix_noise(eps)  # (B, E) steered directions -> (B, L, D), ValueError for another width
        chunk = self.policy.sample(prefix, torch.as_tensor(np.asarray(proprio, np.float32)), noise.contiguous(),
                                   torch.as_tensor(np.asarray(timestep)).long(), eps)
        return chunk.numpy()


def save_pi0(path: str | Path, policy: Pi0Policy) -> Path:
    from safetensors.torch import save_model

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"format": "tmrl-pi0/1", **asdict(policy.cfg)}, indent=1))
    save_model(policy, str(path / "model.safetensors"))  # handles the VLM's tied embeddings
    return path


def read_pi0_config(path: str | Path) -> Pi0Config:
    """The config of a tmrl pi0 folder (config.json), without its weights."""
    config = Path(path) / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"no config.json in {path} (a tmrl pi0 folder holds config.json and "
                                f"model.safetensors)")
    raw = json.loads(config.read_text())
    if raw.pop("format", None) != "tmrl-pi0/1":
        raise ValueError(f"{config} is not a tmrl pi0 config (openpi and LeRobot pi0 layouts are not mapped yet)")
    return Pi0Config(**raw)


def load_pi0(path: str | Path) -> Pi0Policy:
    """A Pi0Policy from a folder with config.json and model.safetensors; FileNotFoundError or ValueError
    naming what is missing (including checkpoints of other layouts, which this loader does not map)."""
    from safetensors.torch import load_model

    path = Path(path)
    cfg, weights = read_pi0_config(path), path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"no model.safetensors in {path} (a tmrl pi0 folder holds config.json and "
                                f"model.safetensors)")
    policy = Pi0Policy(cfg)
    missing, unexpected = load_model(policy, str(weights), strict=False)
    if missing or unexpected:
        raise ValueError(f"{weights}: missing {sorted(missing)[:5]}{'...' if len(missing) > 5 else ''}, "
                         f"unexpected {sorted(unexpected)[:5]}")
    return policy.eval()
