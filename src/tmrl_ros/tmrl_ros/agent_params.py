"""The parameters steering and learner share: which method over which policy on which task, and the
agent's settings (`agent.*`, defaults from tmrl_learning's AgentConfig). Both nodes build the same
agent from them, so the learner's weights fit the steering actor."""

from __future__ import annotations

from rclpy.node import Node

from tmrl_learning.embodiment import Embodiment
from tmrl_learning.system.steering import make_agent
from tmrl_learning.tasks import embodiment
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.methods import METHODS
from tmrl_ros.params import declare, declare_dataclass


def declare_agent(node: Node) -> tuple[FinetuneConfig, Embodiment, SteeringAgent]:
    """Also the update schedule (`schedule.*`): the learner updates by it, steering paces by it."""
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
    return cfg, task, make_agent(cfg, task)
