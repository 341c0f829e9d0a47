"""The parameters steering and learner share: which method over which policy on which task, and the
agent's settings (`agent.*`, defaults from tmrl_learning's AgentConfig). Both nodes build the same
agent from them, so the learner's weights fit the steering actor."""

from __future__ import annotations

from rclpy.node import Node

from tmrl_learning.system.steering import make_agent
from tmrl_learning.system.tasks import SimTask, sim_task
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent
from tmrl_learning.tmrl.finetune import METHOD_HEADS, FinetuneConfig
from tmrl_ros.params import declare, declare_dataclass


def declare_agent(node: Node) -> tuple[FinetuneConfig, SimTask, SteeringAgent]:
    defaults = FinetuneConfig()
    cfg = FinetuneConfig(
        method=declare(node, "method", defaults.method, f"one of {sorted(METHOD_HEADS)}"),
        task=declare(node, "task", defaults.task, "task (tmrl_learning.system.tasks)"),
        seed=declare(node, "seed", defaults.seed, "seed of the agent's initialisation", low=0, high=2**31 - 1),
        checkpoint=declare(node, "checkpoint", "", "the frozen pre-trained policy (unused by rlpd)"),
        t_max_fraction=declare(node, "t_max_fraction", defaults.t_max_fraction,
                               "cap on the context timestep the actor may pick, as a fraction of T", low=0.0,
                               high=1.0),
        agent=declare_dataclass(node, "agent", AgentConfig(), skip=("heads", "t_max")),
    )
    task = sim_task(cfg.task)
    return cfg, task, make_agent(cfg, task.obs_dim, task.spec)
