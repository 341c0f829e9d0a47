"""The pre-training configuration (`tmrl pretrain`'s YAML) and the policy config it implies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from tmrl_learning.cpu_features import resolve_bf16
from tmrl_learning.csp.policy import PolicyConfig
from tmrl_learning.data.generate import DEFAULT_CACHE
from tmrl_learning.tasks import embodiment

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
    dataset_bag: str = ""                  # train on a recorded rosbag2 instead: tmrl_msgs/Transition, or with
    bag_observation_topic: str = ""        # these set, standard messages: JointState/Float32MultiArray observations,
    bag_action_topic: str = ""             # Float32MultiArray actions,
    bag_image_topics: tuple[str, ...] = ()  # sensor_msgs/Image, encoded by image_encoder at image_size
    image_encoder: str = "pooled"          # pooled, or a .pt2/TorchScript file (system/images.py)
    image_size: int = 16
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
    device: str = "auto"                   # where training runs: auto (cuda when torch sees a GPU), cpu, cuda[:N];
                                           # the checkpoint is the same either way (sampling runs on the CPU)
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
        task = embodiment(self.task)  # raises KeyError naming the known tasks
        if not self.dataset_bag and not task.train_dataset:
            raise ValueError(f"task {self.task} has no generated pre-training data: give a bag (dataset_bag)")
        resolve_bf16(self.bf16)  # raises for anything but true, false, "auto"
        training_device(self.device)  # raises for an unknown device or a GPU that is not there
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"need steps >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")


def training_device(setting: str) -> torch.device:
    """A config's device setting -> the torch device pre-training runs on."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(setting)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {setting!r}") from err
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {setting!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {setting!r} asked for, but torch sees no CUDA GPU on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {setting!r} asked for, but torch sees {torch.cuda.device_count()} GPU(s)")
    return device


def policy_config_for(cfg: PretrainConfig) -> PolicyConfig:
    """The policy config with the task's dimensions and the method's switches filled in."""
    task = embodiment(cfg.task)
    model = dataclasses.replace(cfg.policy.model, action_dim=task.action_dim, context_dim=task.context_dim,
                                proprio_dim=task.proprio_dim)
    changes: dict[str, Any] = {"model": model}
    if cfg.method in ("bc", "postbc"):
        changes["train_t_max"] = 0
    if cfg.method == "cfg":
        changes.update(train_t_max=0, cfg_dropout=cfg.cfg_dropout)
    return dataclasses.replace(cfg.policy, **changes)
