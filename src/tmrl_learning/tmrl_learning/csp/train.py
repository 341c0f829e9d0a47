"""`tmrl pretrain`: train a CSP policy (or the BC / PostBC / CFG baselines) on a task's dataset.

One config (dataset, model, optimiser, smoothing) in YAML; progress bar; TensorBoard scalars;
periodic evaluation rollouts; checkpoints (weights, optimiser, full config, normalisation stats,
RNG states) written atomically, loaded back bit-exactly, and resumed from.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

from tmrl_learning.config import to_dict
from tmrl_learning.cpu_features import resolve_bf16
from tmrl_learning.csp.checkpoint import read_checkpoint, save_checkpoint
from tmrl_learning.csp.config import PretrainConfig, policy_config_for, training_device
from tmrl_learning.csp.data import ChunkSampler
from tmrl_learning.csp.policy import FlowPolicy
from tmrl_learning.data.generate import get_dataset, recipe
from tmrl_learning.runlog import tensorboard_writer
from tmrl_learning.tasks import embodiment


def make_sampler(cfg: PretrainConfig, progress: bool = True) -> ChunkSampler:
    if cfg.dataset_bag:
        from tmrl_learning.data.from_bags import dataset_from_standard_bag, dataset_from_transitions_bag
        from tmrl_learning.system.images import ImageEncoder

        if cfg.bag_observation_topic:
            encoder = ImageEncoder(cfg.image_encoder, cfg.image_size) if cfg.bag_image_topics else None
            dataset = dataset_from_standard_bag(cfg.dataset_bag, cfg.bag_observation_topic, cfg.bag_action_topic,
                                                image_topics=tuple(cfg.bag_image_topics), encoder=encoder)
        else:
            dataset = dataset_from_transitions_bag(cfg.dataset_bag)
        return ChunkSampler(dataset, embodiment(cfg.task), cfg.policy.model.horizon, cfg.goal_relabel, seed=cfg.seed)
    task = embodiment(cfg.task)
    rec = recipe(task.train_dataset)
    if cfg.dataset_episodes:
        rec = rec.with_(episodes=cfg.dataset_episodes)
    dataset, _ = get_dataset(rec, Path(cfg.dataset_dir), progress=progress)
    dataset = task.filter(dataset)
    return ChunkSampler(dataset, task, cfg.policy.model.horizon, cfg.goal_relabel, seed=cfg.seed)


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
    device = training_device(cfg.device)
    policy.to(device)  # before the optimizer, so its state lives beside the parameters

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
        if state["optimizer"] is None:
            raise ValueError(f"{ckpt} is a frozen policy (no optimizer state, `tmrl freeze`): pre-training cannot "
                             "resume from it; give another --out")
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        sampler.rng.bit_generator.state = state["sampler_rng"]
        step, log = state["step"], state.get("log", [])
        if postbc is not None and "postbc" in state:
            postbc.load_state_dict(state["postbc"])
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))

    writer = tensorboard_writer(out)
    bar = tqdm(total=cfg.steps, initial=step, desc=f"pretrain {cfg.method}", disable=not progress, mininterval=1.0)
    start = time.perf_counter()

    def checkpoint() -> None:
        extra = {"sampler_rng": sampler.rng.bit_generator.state, "log": log,
                 "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}
        if postbc is not None:
            extra["postbc"] = postbc.state_dict()
        save_checkpoint(ckpt, policy, cfg, step, optimizer, extra)

    # On a GPU this small network is bound by kernel launches, where autocast's casts only add kernels: auto = fp32.
    bf16 = resolve_bf16(cfg.bf16) if device.type == "cpu" else cfg.bf16 is True
    if cfg.compile:
        policy.net.compile()  # in place: parameter names (and checkpoints) stay the same; sampling stays eager
    print(f"pretrain {cfg.method} on {device}: {'bf16 autocast' if bf16 else 'fp32'}"
          f"{', compiled' if cfg.compile else ''}", flush=True)
    with _stop_requests() as stop:
        while step < cfg.steps and not stop.is_set():
            actions, context, proprio = sampler.batch(cfg.batch_size)
            if postbc is not None:
                actions = postbc.perturb(actions, context, proprio)
            policy.check_batch(actions, context, proprio)  # in host memory: no device sync
            actions, context, proprio = (x.to(device, non_blocking=True) for x in (actions, context, proprio))
            with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                loss = policy.loss(actions, context, proprio, checked=True)
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
                policy.eval().cpu()  # rollouts sample on the CPU; the optimizer keeps the same parameter objects
                result = evaluate_fn(policy, cfg)
                policy.train().to(device)
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
    policy.eval().cpu()
    return policy, log


@contextlib.contextmanager
def _stop_requests():
    """A SIGTERM (`timeout`, a scheduler's time limit) ends training after the current step, with a checkpoint."""
    stop = threading.Event()
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread: signals stay as they are
        yield stop
        return
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)

