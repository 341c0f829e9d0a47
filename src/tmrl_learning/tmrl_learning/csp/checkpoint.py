"""Policy checkpoints: written atomically, read with a clear error, loaded as a frozen policy."""

from __future__ import annotations

from pathlib import Path

import torch

from tmrl_learning.config import from_dict, to_dict
from tmrl_learning.csp.config import PostBCConfig, PretrainConfig
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig


def save_checkpoint(path: Path, policy: FlowPolicy, cfg: PretrainConfig, step: int,
                    optimizer: torch.optim.Optimizer | None = None, extra: dict | None = None) -> Path:
    state = {
        "format": "tmrl-csp-policy/1",
        "step": step,
        "config": to_dict(cfg),
        "policy_config": to_dict(policy.cfg),
        "policy": policy.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "torch_rng": torch.get_rng_state(),
        **(extra or {}),
    }
    return _atomic_save(state, Path(path))


def _atomic_save(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash leaves the previous checkpoint intact
    return path


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no policy checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(state, dict) or state.get("format") != "tmrl-csp-policy/1":
        raise ValueError(f"{path}: not a tmrl CSP policy checkpoint")
    return state


def freeze_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Write a checkpoint's policy without its optimizer state (a third of the size): what a frozen policy
    needs to be sampled and steered, not to resume pre-training. The step, configs and log stay."""
    state = read_checkpoint(src)
    state["optimizer"] = None
    return _atomic_save(state, Path(dst))


def load_policy(path: str | Path) -> tuple[FlowPolicy, PretrainConfig]:
    """A frozen policy (eval mode, no grad) and the config that trained it."""
    state = read_checkpoint(path)
    pcfg = from_dict(PolicyConfig, {**state["policy_config"], "model": DiTConfig(**state["policy_config"]["model"])})
    policy = FlowPolicy(pcfg)
    policy.load_state_dict(state["policy"])
    policy.eval().requires_grad_(False)
    cfg = from_dict(PretrainConfig, {k: v for k, v in state["config"].items() if k not in ("policy", "postbc")})
    cfg.policy, cfg.postbc = pcfg, PostBCConfig(**state["config"]["postbc"])
    return policy, cfg
