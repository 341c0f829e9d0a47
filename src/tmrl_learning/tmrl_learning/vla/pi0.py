"""pi0 itself with a context-smoothed prefix: transformers' PI0ForConditionalGeneration (PaliGemma and the
Gemma action expert attending to the VLM's per-layer keys and values, as openpi and LeRobot ship pi0),
with the prefix corrupted at context timestep t and the expert told t.

    prefix   = pi0's prefix embeddings (image tokens, then the instruction's)   (B, L, W)  `embed_prefix`
               (L = image tokens + max_text_tokens; unused text slots are zero vectors and masked)
    prefix_t = r (sqrt(abar_t) prefix / r + sqrt(1 - abar_t) eps_c),  r = each token's RMS   `corrupt`
    chunk    = pi0's flow: 10 Euler steps from the action noise, the expert attending to the VLM's cache
               of prefix_t, its action tokens shifted by an MLP of t                      `sample`

The prefix is RMS-normalised before the noise (SPEC.md §2) and scaled back by its own RMS after it, and
the t-MLP's last layer starts at zero: at t = 0 a loaded pi0 is pi0, until CSP fine-tuning changes it.
Both are our choices (the paper does not say how t enters pi0). Actions and proprio are padded to pi0's
32 dimensions (action noise with zeros) and cut back. A folder holds pi0 in transformers' format
(`save_pretrained`) and tmrl's part: `csp.json` and `csp.safetensors` (`import_pi0` makes one from an
openpi or LeRobot checkpoint).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from tmrl_learning.csp.model import sinusoidal
from tmrl_learning.csp.smoothing import ContextSmoother

FORMAT = "tmrl-csp-pi0/1"


@dataclass
class CspPi0Config:
    action_dim: int                   # the robot's (pi0 pads to its max_action_dim)
    proprio_dim: int = 0              # the robot's (padded to max_state_dim)
    max_text_tokens: int = 48         # pi0's tokenizer_max_length
    num_context_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    time_frequencies: int = 16

    horizon: int = 0                  # pi0's chunk_size (set from the model)


def tiny_pi0_config(image_size: int = 32, width: int = 32, vocab: int = 300, horizon: int = 8, layers: int = 1):
    """A PI0Config of pi0's architecture at toy width (tests, CPU training from scratch)."""
    from transformers import PI0Config

    text = dict(model_type="gemma", hidden_size=width, num_hidden_layers=layers, intermediate_size=2 * width,
                num_attention_heads=2, num_key_value_heads=1, head_dim=16, vocab_size=vocab)
    vision = dict(model_type="siglip_vision_model", hidden_size=width, intermediate_size=2 * width, patch_size=8,
                  image_size=image_size, num_hidden_layers=1, num_attention_heads=2, vision_use_head=False)
    expert = dict(model_type="gemma", hidden_size=width // 2, num_hidden_layers=layers, intermediate_size=width,
                  num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    return PI0Config(vlm_config=dict(model_type="paligemma", text_config=text, vision_config=vision,
                                     projection_dim=width, image_token_id=vocab - 1),
                     dit_config=expert, chunk_size=horizon, max_state_dim=32, max_action_dim=32)


class CspPi0(nn.Module):
    def __init__(self, pi0, cfg: CspPi0Config):
        super().__init__()
        self.pi0 = pi0
        self.cfg = cfg
        pc = pi0.config
        cfg.horizon = pc.chunk_size
        if cfg.action_dim > pc.max_action_dim or cfg.proprio_dim > pc.max_state_dim:
            raise ValueError(f"pi0 takes at most {pc.max_action_dim} action and {pc.max_state_dim} state values, "
                             f"not {cfg.action_dim} / {cfg.proprio_dim}")
        width = pc.dit_config.hidden_size
        self.context_time = nn.Sequential(nn.Linear(2 * cfg.time_frequencies, width), nn.SiLU(),
                                          nn.Linear(width, width))
        nn.init.zeros_(self.context_time[-1].weight)
        nn.init.zeros_(self.context_time[-1].bias)
        self.smoother = ContextSmoother(cfg.num_context_timesteps, cfg.beta_start, cfg.beta_end)
        vision = pc.vlm_config.vision_config
        self.image_side = vision.image_size
        self.prefix_width = pc.vlm_config.text_config.hidden_size
        self.prefix_tokens = (vision.image_size // vision.patch_size) ** 2 + cfg.max_text_tokens

    # ---- the prefix --------------------------------------------------------------------------------
    def image_tokens(self) -> int:
        return self.prefix_tokens - self.cfg.max_text_tokens

    def prompt_ids(self, tokenizer, text: str, batch: int = 1) -> torch.Tensor:
        """(batch, N) ids: the image placeholders, then the instruction with a newline (pi0's prompt;
        a Gemma tokenizer adds BOS), cut to max_text_tokens."""
        words = tokenizer(text.strip().lower() + "\n")["input_ids"][: self.cfg.max_text_tokens]
        vocab = self.pi0.config.vlm_config.text_config.vocab_size
        if max(words, default=0) >= vocab:
            raise ValueError(f"the tokenizer's ids reach {max(words)}, the VLM's vocabulary has {vocab}")
        ids = [self.pi0.config.vlm_config.image_token_id] * self.image_tokens() + words
        return torch.tensor([ids] * batch)

    def embed_prefix(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        """Images (B, 3, S, S) in [0, 1] and ids (B, N) -> pi0's prefix embeddings (B, L, W), unused text
        slots zero."""
        pixels = (pixel_values * 2.0 - 1.0)[:, None]  # one camera; pi0 takes [-1, 1]
        cameras = torch.ones(pixels.shape[:2], dtype=torch.bool, device=pixels.device)
        prefix = self.pi0.model.embed_prefix(input_ids, pixels, cameras)
        if attention_mask is not None:
            prefix = prefix * attention_mask[..., None]
        return nn.functional.pad(prefix, (0, 0, 0, self.prefix_tokens - prefix.shape[1]))

    def corrupt(self, prefix: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """DDPM forward process on the RMS-normalised tokens, scaled back; zero (unused) slots stay zero."""
        b = prefix.shape[0]
        rms = prefix.pow(2).mean(-1, keepdim=True).sqrt()
        unit = prefix / rms.clamp_min(1e-6)
        noisy = self.smoother.corrupt(unit.reshape(b, -1), t, None if noise is None else noise.reshape(b, -1))
        return noisy.reshape(prefix.shape) * rms

    # ---- the flow ----------------------------------------------------------------------------------
    def _padded(self, x: torch.Tensor, width: int) -> torch.Tensor:
        return nn.functional.pad(x.float(), (0, width - x.shape[-1]))

    def _cache(self, prefix_t: torch.Tensor, mask: torch.Tensor):
        return self.pi0.model.vlm(inputs_embeds=prefix_t, attention_mask=mask, position_ids=mask.cumsum(-1) - 1,
                                  token_type_ids=torch.zeros_like(mask), use_cache=True).cache

    def _velocity(self, cache, mask, state, x, s, t) -> torch.Tensor:
        tokens = self.pi0.embed_action_time(state, x, s)
        tokens = tokens + self.context_time(sinusoidal(t.float(), self.cfg.time_frequencies))[:, None, :]
        out = self.pi0.model(action_embeds=tokens, attention_mask=mask, cache=cache).last_hidden_state
        return self.pi0.action_out_proj(out[:, -self.cfg.horizon:])

    def _state(self, proprio: torch.Tensor | None, b: int) -> torch.Tensor:
        p = self.cfg.proprio_dim
        if proprio is None or p == 0:
            return torch.zeros(b, self.pi0.config.max_state_dim, device=self.pi0.device)
        if proprio.shape != (b, p):
            raise ValueError(f"proprio has shape {tuple(proprio.shape)}, expected ({b}, {p})")
        return self._padded(proprio, self.pi0.config.max_state_dim)

    @staticmethod
    def _mask(prefix: torch.Tensor) -> torch.Tensor:
        return (prefix.abs().sum(-1) > 0).long()

    def loss(self, actions: torch.Tensor, prefix: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """Context-smoothed flow matching: t ~ U{0..T} per sample, the flow time as pi0 draws it."""
        b, pc = actions.shape[0], self.pi0.config
        t = self.smoother.sample_timesteps(b, device=prefix.device)
        mask = self._mask(prefix)
        cache = self._cache(self.corrupt(prefix, t), mask)
        s = torch.distributions.Beta(pc.time_sampling_beta_alpha, pc.time_sampling_beta_beta).sample((b,))
        s = (s * pc.time_sampling_scale + pc.time_sampling_offset).to(prefix.device)
        a = self._padded(actions, pc.max_action_dim)
        z = torch.randn_like(a)
        x = s[:, None, None] * z + (1 - s[:, None, None]) * a
        v = self._velocity(cache, mask, self._state(proprio, b), x, s, t)
        return (v - (z - a))[..., : self.cfg.action_dim].pow(2).mean()

    @torch.no_grad()
    def sample(self, prefix: torch.Tensor, proprio: torch.Tensor | None, action_noise: torch.Tensor,
               timestep: torch.Tensor, context_noise: torch.Tensor) -> torch.Tensor:
        """Deterministic given (action_noise (B, H, d), timestep (B,), context_noise shaped like prefix)."""
        b, pc = prefix.shape[0], self.pi0.config
        mask = self._mask(prefix)
        cache = self._cache(self.corrupt(prefix, timestep.long(), context_noise), mask)
        length, state = cache.get_seq_length(), self._state(proprio, b)
        x, steps = self._padded(action_noise, pc.max_action_dim), pc.num_inference_steps
        for k in range(steps):  # Euler from s = 1 (noise) to s = 0 (actions), as pi0 samples
            s = torch.full((b,), 1.0 - k / steps, device=prefix.device)
            x = x - self._velocity(cache, mask, state, x, s, timestep.long()) / steps
            cache.crop(length - cache.get_seq_length())  # drop the expert's own keys: the prefix cache stays
        return x[..., : self.cfg.action_dim]


# ---- folders ---------------------------------------------------------------------------------------
def save_csp_pi0(path: str | Path, model: CspPi0) -> Path:
    from safetensors.torch import save_model

    path = Path(path)
    model.pi0.save_pretrained(str(path))
    (path / "csp.json").write_text(json.dumps({"format": FORMAT, **asdict(model.cfg)}, indent=1))
    save_model(model.context_time, str(path / "csp.safetensors"))
    return path


def read_csp_config(path: str | Path) -> CspPi0Config:
    config = Path(path) / "csp.json"
    raw = json.loads(config.read_text())
    if raw.pop("format", None) != FORMAT:
        raise ValueError(f"{config} is not a tmrl CSP pi0 config")
    return CspPi0Config(**raw)


def load_csp_pi0(path: str | Path) -> CspPi0:
    """A CspPi0 from a folder save_csp_pi0 or import_pi0 wrote; errors name what is missing."""
    from safetensors.torch import load_model
    from transformers import PI0ForConditionalGeneration

    path = Path(path)
    for needed in ("config.json", "model.safetensors", "csp.json", "csp.safetensors"):
        if not (path / needed).is_file():
            hint = " (an openpi or LeRobot pi0 checkpoint: `tmrl vla-import` it first)" if needed.startswith("csp") \
                else ""
            raise FileNotFoundError(f"no {needed} in {path}{hint}")
    pi0 = PI0ForConditionalGeneration.from_pretrained(str(path), local_files_only=True)
    model = CspPi0(pi0, read_csp_config(path))
    load_model(model.context_time, str(path / "csp.safetensors"))
    return model.eval()


# Parameter names of pi0 checkpoints -> transformers' PI0ForConditionalGeneration. openpi's PyTorch
# conversion and LeRobot >= 0.4 name them paligemma_with_expert.paligemma.model.* (LeRobot adds "model.");
# LeRobot 0.3 (the Hub's lerobot/pi0) paligemma_with_expert.paligemma.language_model.model.*, and both keep
# SigLIP's "vision_model." level, which transformers 5 drops.
_RENAMES = [
    (r"^model\.(?=paligemma_with_expert|state_proj|action_)", ""),
    (r"paligemma\.language_model\.lm_head", "paligemma.lm_head"),
    (r"paligemma\.language_model\.model\.", "paligemma.model.language_model."),
    (r"paligemma\.(vision_tower|multi_modal_projector)", r"paligemma.model.\1"),
    (r"vision_tower\.vision_model\.", "vision_tower."),
    (r"^paligemma_with_expert\.paligemma\.lm_head", "model.vlm.language_model.embed_tokens"),
    (r"^paligemma_with_expert\.gemma_expert\.lm_head", "model.dit.embed_tokens"),
    (r"^paligemma_with_expert\.paligemma\.model\.", "model.vlm."),
    (r"^paligemma_with_expert\.gemma_expert\.model\.", "model.dit."),
    (r"^(state_proj|action_in_proj|action_time_mlp_in|action_time_mlp_out)", r"embed_action_time.\1"),
]


def native_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, value in state.items():
        for pattern, replacement in _RENAMES:
            name = re.sub(pattern, replacement, name)
        out[name] = value
    return out


def import_pi0(source: str | Path, out: str | Path, action_dim: int, proprio_dim: int = 0,
               max_text_tokens: int = 48, pi0_config=None) -> Path:
    """An openpi (PyTorch conversion) or LeRobot pi0 checkpoint folder (model.safetensors, its config.json)
    -> a tmrl CSP pi0 folder at `out`, pi0's weights unchanged. The model is pi0's published size (PaliGemma
    3B + the 300M expert) unless `pi0_config` says otherwise; ValueError naming the parameters the
    checkpoint lacks or has in excess, or has in another shape."""
    from safetensors.torch import load_file
    from transformers import PI0Config, PI0ForConditionalGeneration

    source = Path(source)
    weights = source / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"no model.safetensors in {source} (an openpi or LeRobot pi0 checkpoint)")
    if pi0_config is None:
        meta = json.loads((source / "config.json").read_text()) if (source / "config.json").is_file() else {}
        horizon = meta.get("action_horizon") or meta.get("n_action_steps") or meta.get("chunk_size") or 50
        pi0_config = PI0Config(chunk_size=int(horizon))
    pi0 = PI0ForConditionalGeneration(pi0_config)
    wanted = pi0.state_dict()
    state = native_names(load_file(str(weights)))
    state.setdefault("model.dit.embed_tokens.weight", wanted["model.dit.embed_tokens.weight"])  # pi0 never uses it
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(set(state) - set(wanted))
    if missing or unexpected:
        raise ValueError(f"{weights} is not a pi0 of this size: missing {missing[:4]} ({len(missing)} in all), "
                         f"unexpected {unexpected[:4]} ({len(unexpected)} in all)")
    wrong = [(k, tuple(state[k].shape)) for k in wanted if state[k].shape != wanted[k].shape]
    if wrong:
        raise ValueError(f"{weights}: parameters of another shape than pi0's: {wrong[:3]}")
    pi0.load_state_dict({k: v.to(wanted[k].dtype) for k, v in state.items()})
    return save_csp_pi0(out, CspPi0(pi0, CspPi0Config(action_dim, proprio_dim, max_text_tokens)))
