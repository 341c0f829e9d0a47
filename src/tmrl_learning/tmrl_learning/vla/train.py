"""CSP training of a pi0 policy (vla.pi0) on demonstrations with images and an instruction (the layout of
`tmrl libero-demos`: `observations` = proprioception, `actions`, `terminals`, `images_<camera>`, and the
sidecar JSON's `language`).

Each batch draws rows; a row's action chunk is the next `horizon` actions of its episode (the last one
repeated past the episode's end), its prefix comes from the row's camera image and the tokenised
instruction through the VLM, and the loss is CspPi0.loss (context-smoothed flow matching: t drawn
per sample, the VLM trained with the expert). The run resumes from `out/train_state.pt`; the policy is
saved with save_csp_pi0 (`out/`); `train_state.pt` holds the weights it resumes from with the optimizer and the
step, written atomically, so a crash between the two files cannot resume weights of another step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tmrl_learning.vla.pi0 import load_csp_pi0, save_csp_pi0
from tmrl_learning.vla.tokenizer import load_tokenizer


@dataclass
class Demonstrations:
    images: np.ndarray       # (N, S, S, 3) uint8
    proprio: np.ndarray      # (N, P)
    actions: np.ndarray      # (N, d)
    episode_end: np.ndarray  # (N,) index of the last row of each row's episode
    language: str

    @classmethod
    def load(cls, path: str | Path, camera: str = "agentview", proprio_dim: int = 9) -> Demonstrations:
        """`proprio_dim`: the leading columns of `observations` that are the robot's own (the rest is
        privileged state a VLA must not see)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no demonstrations at {path}")
        with np.load(path) as data:
            key = f"images_{camera}"
            if key not in data:
                raise KeyError(f"{path} has no {key} (has {sorted(data.files)}); record it with --cameras {camera}")
            images, proprio = data[key], data["observations"][:, :proprio_dim].astype(np.float32)
            actions, terminals = data["actions"].astype(np.float32), data["terminals"].astype(bool)
        ends = np.flatnonzero(terminals)
        episode_end = ends[np.searchsorted(ends, np.arange(len(terminals)))]
        language = json.loads(path.with_suffix(".json").read_text())["language"]
        return cls(images, proprio, actions, episode_end, language)

    def batch(self, rows: np.ndarray, horizon: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> pixels (B, 3, S, S) in [0, 1], proprio (B, P), action chunks (B, H, d)."""
        steps = np.minimum(rows[:, None] + np.arange(horizon), self.episode_end[rows, None])
        pixels = torch.from_numpy(self.images[rows]).permute(0, 3, 1, 2).float() / 255.0
        return pixels, torch.from_numpy(self.proprio[rows]), torch.from_numpy(self.actions[steps])


def train_csp(policy_dir: str | Path, demos: str | Path, tokenizer_dir: str | Path, out: str | Path, steps: int,
              batch_size: int = 16, lr: float = 1e-4, seed: int = 0, camera: str = "agentview",
              checkpoint_every: int = 100, progress: bool = True, device: str = "cpu") -> list[float]:
    """CSP-train the pi0 folder `policy_dir` on `demos` (on `device`: "cuda" on a GPU machine); write the
    result to `out` (resumable). -> losses."""
    out = Path(out)
    state_path = out / "train_state.pt"
    state = torch.load(state_path, map_location=device, weights_only=False) if state_path.is_file() else None
    policy = load_csp_pi0(policy_dir)
    if state is not None:
        policy.load_state_dict(state["policy"])
    data, tokenizer = Demonstrations.load(demos, camera, policy.cfg.proprio_dim), load_tokenizer(tokenizer_dir)
    vision = policy.image_side
    if data.images.shape[1:3] != (vision, vision):
        raise ValueError(f"demonstration images are {data.images.shape[1:3]}, the VLM takes {vision} x {vision}")
    if data.proprio.shape[1] != policy.cfg.proprio_dim or data.actions.shape[1] != policy.cfg.action_dim:
        raise ValueError(f"demonstrations have proprio {data.proprio.shape[1]} / actions {data.actions.shape[1]}, the "
                         f"policy takes {policy.cfg.proprio_dim} / {policy.cfg.action_dim}")
    policy.to(device)
    ids = policy.prompt_ids(tokenizer, data.language, batch_size).to(device)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=1e-6, betas=(0.95, 0.999))
    torch.manual_seed(seed)
    rng, step, losses = np.random.default_rng(seed), 0, []
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"].cpu())
        rng.bit_generator.state, step, losses = state["rng"], state["step"], state["losses"]
    policy.train()

    def save() -> None:
        save_csp_pi0(out, policy)
        tmp = state_path.with_suffix(".tmp")
        torch.save({"policy": policy.state_dict(), "optimizer": optimizer.state_dict(),
                    "torch_rng": torch.get_rng_state(), "rng": rng.bit_generator.state, "step": step,
                    "losses": losses}, tmp)
        tmp.replace(state_path)

    bar = tqdm(total=steps, initial=step, desc="csp pi0", disable=not progress)
    while step < steps:
        batch = data.batch(rng.integers(len(data.actions), size=batch_size), policy.cfg.horizon)
        pixels, proprio, actions = (x.to(device) for x in batch)
        loss = policy.loss(actions, policy.embed_prefix(pixels, ids), proprio)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        step += 1
        losses.append(float(loss))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        if step % checkpoint_every == 0 or step == steps:
            save()
    bar.close()
    return losses
