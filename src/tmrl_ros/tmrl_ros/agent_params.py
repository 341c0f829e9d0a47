"""The parameters steering and learner share: which method over which policy on which task, and the
agent's settings (`agent.*`, defaults from tmrl_learning's AgentConfig). Both nodes build the same
agent from them, so the learner's weights fit the steering actor."""

from __future__ import annotations

from rclpy.node import Node

from tmrl_learning.embodiment import Embodiment
from tmrl_learning.system.images import ImageEncoder
from tmrl_learning.system.steering import make_agent
from tmrl_learning.tasks import embodiment
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.methods import METHODS
from tmrl_ros.node_main import StartupError
from tmrl_ros.params import declare, declare_dataclass


def declare_agent(node: Node) -> tuple[FinetuneConfig, Embodiment, SteeringAgent, ImageEncoder | None]:
    """Also the update schedule (`schedule.*`): the learner updates by it, steering paces by it, and the
    actor's camera embedding (`image_encoder`: the RL observation gains its features)."""
    defaults = FinetuneConfig()
    cfg = FinetuneConfig(
        method=declare(node, "method", defaults.method, f"one of {sorted(METHODS)}"),
        task=declare(node, "task", defaults.task, "task or robot (tmrl_learning.tasks)"),
        seed=declare(node, "seed", defaults.seed, "seed of the agent's initialisation", low=0, high=2**31 - 1),
        checkpoint=declare(node, "checkpoint", "", "the frozen pre-trained policy (unused by rlpd)"),
        t_max_fraction=declare(node, "t_max_fraction", defaults.t_max_fraction,
                               "cap on the context timestep the actor may pick, as a fraction of T", low=0.0,
                               high=1.0),
        agent=declare_dataclass(node, "agent", AgentConfig(), skip=("heads", "t_max")),
        schedule=declare_dataclass(node, "schedule", UpdateSchedule()),
    )
    task = embodiment(cfg.task)  # an unknown task: the node's run() says so and exits
    encoder = declare_image_encoder(node)
    return cfg, task, make_agent(cfg, task, encoder.features if encoder else 0), encoder


def declare_image_encoder(node: Node) -> ImageEncoder | None:
    """The frozen image embedding the actor observes besides the state, or None (parameter '')."""
    source = declare(node, "image_encoder", "", "the actor's camera embedding: '' (none), 'pooled' (the image "
                     "area-resized to image_size squared) or the path of a TorchScript / torch.export encoder "
                     "(e.g. DINOv2); its features follow the state in the RL observation")
    size = declare(node, "image_size", 16, "side the image is resized to before encoding", low=1, high=4096)
    if not source:
        return None
    try:
        return ImageEncoder(source, size, 3)
    except (OSError, ValueError) as err:
        raise StartupError(str(err)) from err
