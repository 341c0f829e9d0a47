"""`tmrl pretrain`: train a CSP policy (or the BC / PostBC / CFG baselines) on a task's dataset.

One config (dataset, model, optimiser, smoothing) in YAML; progress bar; TensorBoard scalars;
periodic evaluation rollouts; checkpoints (weights, optimiser, full config, normalisation stats,
RNG states) written atomically, loaded back bit-exactly, and resumed from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from tmrl_learning.config import from_dict, to_dict
from tmrl_learning.csp.data import ChunkSampler, task_spec
from tmrl_learning.csp.model import DiTConfig
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.data.generate import DEFAULT_CACHE, get_dataset, recipe
from tmrl_learning.data.splits import split
from tmrl_learning.cpu_features import resolve_bf16
from tmrl_learning.runlog import tensorboard_writer

METHODS = ("csp", "bc", "postbc", "cfg")


@dataclass
class PostBCConfig:
    members: int = 10
    hidden: int = 512
    layers: int = 3
    steps: int = 2000
    alpha: float = 1.0       # targets + N(0, 1) * ensemble std * alpha


@dataclass
class PretrainConfig:
    task: str = "pointmaze-large-to-giant"
    method: str = "csp"
    seed: int = 0
    dataset_episodes: int | None = None   # None: the full OGBench size
    dataset_dir: str = str(DEFAULT_CACHE)
    dataset_bag: str = ""                  # train on a recorded rosbag2 (tmrl_msgs/Transition) instead
    goal_relabel: str = "final"            # final (the authors) | future | rest (where the object rests)
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 1e-6
    betas: tuple[float, float] = (0.95, 0.999)
    grad_clip: float = 1.0
    bf16: bool | str = "auto"              # bf16 autocast; auto: on where the CPU has native bf16 (cpu_features.py)
    compile: bool = False                  # torch.compile the network for training (~40 s once; pays off in
                                           # a few thousand steps: 45 vs 60 ms per bf16 step here)
    threads: int = 0                       # torch threads (0 = torch's default)
    eval_every: int = 5000
    eval_episodes: int = 8
    execute: int = 5                       # actions executed per chunk in evaluation rollouts
    checkpoint_every: int = 5000
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    postbc: PostBCConfig = field(default_factory=PostBCConfig)
    cfg_dropout: float = 0.1               # method "cfg" only

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {METHODS}")
        if self.dataset_bag:
            task_spec(self.task)  # raises KeyError naming the known tasks
        else:
            split(self.task)
        resolve_bf16(self.bf16)  # raises for anything but true, false, "auto"
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"need steps >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")


def policy_config_for(cfg: PretrainConfig) -> PolicyConfig:
    """The policy config with the task's dimensions and the method's switches filled in."""
    spec = task_spec(cfg.task)
    model = dataclasses.replace(cfg.policy.model, action_dim=spec.action_dim, context_dim=spec.context_dim,
                                proprio_dim=spec.proprio_dim)
    changes: dict[str, Any] = {"model": model}
    if cfg.method in ("bc", "postbc"):
        changes["train_t_max"] = 0
    if cfg.method == "cfg":
        changes.update(train_t_max=0, cfg_dropout=cfg.cfg_dropout)
    return dataclasses.replace(cfg.policy, **changes)


# ---- checkpoints -----------------------------------------------------------------------------------

def save_checkpoint(path: Path, policy: FlowPolicy, cfg: PretrainConfig, step: int,
                    optimizer: torch.optim.Optimizer | None = None, extra: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


# ---- training --------------------------------------------------------------------------------------

def make_sampler(cfg: PretrainConfig, progress: bool = True) -> ChunkSampler:
    if cfg.dataset_bag:
        from tmrl_learning.data.from_bags import dataset_from_transitions_bag

        dataset = dataset_from_transitions_bag(cfg.dataset_bag)
        return ChunkSampler(dataset, task_spec(cfg.task), cfg.policy.model.horizon, cfg.goal_relabel, seed=cfg.seed)
    task = split(cfg.task)
    rec = recipe(task.train_dataset)
    if cfg.dataset_episodes:
        rec = rec.with_(episodes=cfg.dataset_episodes)
    dataset, _ = get_dataset(rec, Path(cfg.dataset_dir), progress=progress)
    dataset = task.filter(dataset)
    return ChunkSampler(dataset, task_spec(cfg.task), cfg.policy.model.horizon, cfg.goal_relabel, seed=cfg.seed)


def pretrain(cfg: PretrainConfig, out: Path, resume: bool = True, progress: bool = True,
             evaluate_fn=None) -> tuple[FlowPolicy, list[dict]]:
    """Train and return the policy and its log. Resumes from `out/checkpoint.pt` when present."""
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    sampler = make_sampler(cfg, progress)
    policy = FlowPolicy(policy_config_for(cfg))
    context, proprio = sampler.all_contexts()
    policy.normalizer.fit(context, proprio, context_too=policy.cfg.context_normalization == "zscore")

    postbc = None
    if cfg.method == "postbc":
        from tmrl_learning.csp.postbc import PosteriorEnsemble

        postbc = PosteriorEnsemble.fit(sampler, cfg.postbc, seed=cfg.seed, progress=progress)

    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  betas=tuple(cfg.betas), fused=True)
    step, log = 0, []
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.is_file():
        state = read_checkpoint(ckpt)
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        sampler.rng.bit_generator.state = state["sampler_rng"]
        step, log = state["step"], state.get("log", [])
        if postbc is not None and "postbc" in state:
            postbc.load_state_dict(state["postbc"])
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))

    writer = tensorboard_writer(out)
    bar = tqdm(total=cfg.steps, initial=step, desc=f"pretrain {cfg.method}", disable=not progress, mininterval=1.0)
    start = time.perf_counter()

    def checkpoint() -> None:
        extra = {"sampler_rng": sampler.rng.bit_generator.state, "log": log}
        if postbc is not None:
            extra["postbc"] = postbc.state_dict()
        save_checkpoint(ckpt, policy, cfg, step, optimizer, extra)

    bf16 = resolve_bf16(cfg.bf16)
    if cfg.compile:
        policy.net.compile()  # in place: parameter names (and checkpoints) stay the same; sampling stays eager
    print(f"pretrain {cfg.method}: {'bf16 autocast' if bf16 else 'fp32'}{', compiled' if cfg.compile else ''}",
          flush=True)
    while step < cfg.steps:
        actions, context, proprio = sampler.batch(cfg.batch_size)
        if postbc is not None:
            actions = postbc.perturb(actions, context, proprio)
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = policy.loss(actions, context, proprio)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        bar.update(1)
        if step % 100 == 0 or step == cfg.steps:
            entry = {"step": step, "loss": float(loss.detach()), "grad_norm": float(grad_norm),
                     "seconds": round(time.perf_counter() - start, 1)}
            log.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.4f}")
            if writer:
                writer.add_scalar("pretrain/loss", entry["loss"], step)
                writer.add_scalar("pretrain/grad_norm", entry["grad_norm"], step)
        if evaluate_fn and cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
            policy.eval()
            result = evaluate_fn(policy, cfg)
            policy.train()
            log.append({"step": step, **{f"eval/{k}": v for k, v in result.items()}})
            if writer:
                for k, v in result.items():
                    writer.add_scalar(f"eval/{k}", v, step)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            checkpoint()
    checkpoint()
    bar.close()
    if writer:
        writer.close()
    (out / "log.json").write_text(json.dumps(log, indent=1))
    policy.eval()
    return policy, log
