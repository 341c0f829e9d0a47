"""Perception for a VLA: a camera image and the instruction -> the prefix a pi0 policy is steered over
(its context), computed once per decision point; the driver's state gives the proprio and the RL
observation as for any task (system.perception).

The image is resized to the VLM's input side (area-averaged down, bilinear up) and scaled to [0, 1], as `tmrl
vla-csp` feeds its demonstrations; the instruction is the embodiment's unless one is given. The prefix
is flattened: (prefix_tokens x width) values, Pi0Sampler's context.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tmrl_learning.embodiment import Embodiment
from tmrl_learning.system.perception import Perception
from tmrl_learning.vla.pi0 import load_csp_pi0
from tmrl_learning.vla.tokenizer import load_tokenizer


class PrefixPerception:
    def __init__(self, embodiment: Embodiment, policy_dir: str | Path, tokenizer_dir: str | Path,
                 instruction: str = ""):
        self.state = Perception(embodiment)
        self.policy = load_csp_pi0(policy_dir)
        text = instruction or embodiment.instruction
        if not text:
            raise ValueError(f"{embodiment.name} has no instruction: give the VLA one")
        if self.policy.cfg.proprio_dim not in (0, embodiment.proprio_dim):
            raise ValueError(f"{policy_dir} takes {self.policy.cfg.proprio_dim} proprio values, {embodiment.name} "
                             f"has {embodiment.proprio_dim}")
        self.ids = self.policy.prompt_ids(load_tokenizer(tokenizer_dir), text)
        self.side = self.policy.image_side
        self.context_dim = self.policy.prefix_tokens * self.policy.prefix_width
        self.instruction = text

    @torch.no_grad()
    def prefix(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (context_dim,) float32; ValueError for another layout."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"the VLA takes an (H, W, 3) uint8 colour image, got {image.dtype} {image.shape}")
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        if pixels.shape[-2:] != (self.side, self.side):  # area-average down, bilinear up
            shrink = min(pixels.shape[-2:]) > self.side
            pixels = torch.nn.functional.interpolate(pixels, size=(self.side, self.side),
                                                     mode="area" if shrink else "bilinear").clamp(0.0, 1.0)
        return self.policy.embed_prefix(pixels, self.ids)[0].reshape(-1).numpy()

    def __call__(self, observation, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (RL observation, prefix (context_dim,), proprio); ValueError for unusable input."""
        if len(images) != 1:
            raise ValueError(f"the VLA takes one camera image per decision, got {len(images)}")
        obs, _, proprio = self.state(observation)
        proprio = proprio if self.policy.cfg.proprio_dim else proprio[:0]
        return obs, self.prefix(images[0]), proprio
