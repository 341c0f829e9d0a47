"""Fine-tune a pre-trained CSP policy with TMRL in simulation, as a ROS 2 graph.

    ros2 launch tmrl_ros sim_finetune.launch.py checkpoint:=runs/pretrain/csp/checkpoint.pt \\
        task:=pointmaze-large-to-giant method:=tmrl out_dir:=runs/sim_finetune robots:=1
    ros2 topic echo /tmrl/timestep

A pi0-class VLA on LIBERO (a folder from `tmrl vla-new` / `tmrl vla-csp`, its tokenizer folder):

    ros2 launch tmrl_ros sim_finetune.launch.py task:=libero-90-51-vla checkpoint:=runs/vla/csp \
        tokenizer:=runs/vla/tokenizer

The nodes, parameters and remappings come from tmrl_ros.graph.sim_finetune_graph, the same
description the tests start as processes.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from tmrl_ros.graph import sim_finetune_graph
from tmrl_ros.launching import node_actions


def _nodes(context):
    arg = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    sources = tuple(f"sim{i}" for i in range(int(arg("robots"))))
    specs = sim_finetune_graph(arg("task"), arg("checkpoint"), arg("out_dir"), method=arg("method"),
                               sources=sources, seed=int(arg("seed")), tokenizer=arg("tokenizer"))
    return node_actions(specs)


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("checkpoint", description="pre-trained CSP policy (checkpoint.pt)"),
        DeclareLaunchArgument("task", default_value="pointmaze-large-to-giant", description="simulated task"),
        DeclareLaunchArgument("method", default_value="tmrl", description="tmrl, dsrl, postbc, cfg or rlpd"),
        DeclareLaunchArgument("out_dir", default_value="runs/sim_finetune", description="learner checkpoints"),
        DeclareLaunchArgument("robots", default_value="1", description="simulated robots feeding one learner"),
        DeclareLaunchArgument("seed", default_value="0", description="seed"),
        DeclareLaunchArgument("tokenizer", default_value="",
                              description="a VLA's tokenizer folder: checkpoint is then a pi0-class folder"),
        OpaqueFunction(function=_nodes),
    ])
