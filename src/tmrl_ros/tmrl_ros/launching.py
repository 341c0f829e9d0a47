"""Turn graph descriptions (tmrl_ros.graph.NodeSpec) into launch_ros actions.

Only imported by launch files: launch_ros exists on a full ROS 2 install, not on the PyPI wheels.
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from tmrl_ros.graph import NodeSpec, robot_finetune_graph


def node_actions(specs: list[NodeSpec], params_dir: Path | None = None) -> list[Node]:
    """The overrides go to the node as the same parameters file the tests hand it (NodeSpec.
    parameter_files), not as a dict: launch_ros writes a dict under `/**` for a node without a
    namespace, and a config file's `/**/<node>` entry would silently beat it."""
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, namespace=spec.namespace or None,
             output="screen",
             parameters=[str(path) for path in spec.parameter_files(params_dir)],
             remappings=list(spec.remappings.items()))
        for spec in specs
    ]


def robot_launch_description(robot: str, address: DeclareLaunchArgument, task: str) -> LaunchDescription:
    """A robot's fine-tuning launch file: its address argument (an IP, a namespace), then the arguments
    every robot shares, resolved into tmrl_ros.graph.robot_finetune_graph (config/<robot>.yaml)."""
    address_name = address.name

    def nodes(context):
        arg = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
        specs = robot_finetune_graph(robot, arg(address_name), arg("task"), arg("checkpoint"), arg("out_dir"),
                                     device_options=arg("device_options"), method=arg("method"),
                                     seed=int(arg("seed")),
                                     cameras=tuple(filter(None, arg("camera_serials").split(","))),
                                     intervention=arg("intervention").lower() == "true", record_dir=arg("record_dir"),
                                     learner=arg("learner").lower() == "true", tokenizer=arg("tokenizer"))
        return node_actions(specs)

    return LaunchDescription([
        address,
        DeclareLaunchArgument("checkpoint", description="pre-trained CSP policy (checkpoint.pt) for the task"),
        DeclareLaunchArgument("task", default_value=task, description=f"a {robot} task (tmrl_learning.tasks)"),
        DeclareLaunchArgument("method", default_value="tmrl", description="tmrl, dsrl, postbc, cfg or rlpd"),
        DeclareLaunchArgument("out_dir", default_value=f"runs/{robot}_finetune", description="learner checkpoints"),
        DeclareLaunchArgument("device_options", default_value="",
                              description=f"JSON: replaces config/{robot}.yaml's device options"),
        DeclareLaunchArgument("seed", default_value="0", description="seed"),
        DeclareLaunchArgument("camera_serials", default_value="", description="RealSense serials, comma-separated"),
        DeclareLaunchArgument("intervention", default_value="false",
                              description="true: a SpaceMouse/gamepad (sensor_msgs/Joy on /joy) may take over"),
        DeclareLaunchArgument("record_dir", default_value="", description="record the session's bag here"),
        DeclareLaunchArgument("tokenizer", default_value="",
                              description="a VLA's tokenizer folder: checkpoint is a pi0 folder, camera0 its image"),
        DeclareLaunchArgument("learner", default_value="true",
                              description="false: the learner runs on another machine (docker/compose.yaml: learner)"),
        OpaqueFunction(function=nodes),
    ])
