"""Fine-tune a pre-trained CSP policy with TMRL on a Franka, as a ROS 2 graph.

    ros2 launch tmrl_ros franka_finetune.launch.py robot_ip:=172.16.0.2 checkpoint:=runs/franka/checkpoint.pt
    ros2 topic echo /tmrl/timestep
    ros2 topic pub --once /tmrl/estop std_msgs/msg/Bool "{data: true}"     # halt now

A dry run against the simulated arm (franky-sim serves libfranka's protocol on 127.0.0.1):

    franky-sim -s mujoco &
    ros2 launch tmrl_ros franka_finetune.launch.py robot_ip:=127.0.0.1 device_options:='{"realtime": false}' ...

The nodes, parameters and remappings come from tmrl_ros.graph.robot_finetune_graph (config/franka.yaml),
the same description the tests start as processes against franky-sim.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from tmrl_ros.graph import robot_finetune_graph
from tmrl_ros.launching import node_actions


def _nodes(context):
    arg = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    specs = robot_finetune_graph("franka", arg("robot_ip"), arg("task"), arg("checkpoint"), arg("out_dir"),
                                 device_options=arg("device_options"), method=arg("method"), seed=int(arg("seed")),
                                 cameras=tuple(filter(None, arg("camera_serials").split(","))),
                                 intervention=arg("intervention").lower() == "true", record_dir=arg("record_dir"),
                                 learner=arg("learner").lower() == "true")
    return node_actions(specs)


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot_ip", description="the Franka's FCI address"),
        DeclareLaunchArgument("checkpoint", description="pre-trained CSP policy (checkpoint.pt) for the task"),
        DeclareLaunchArgument("task", default_value="franka-reach", description="a Franka task (tmrl_learning.tasks)"),
        DeclareLaunchArgument("method", default_value="tmrl", description="tmrl, dsrl, postbc, cfg or rlpd"),
        DeclareLaunchArgument("out_dir", default_value="runs/franka_finetune", description="learner checkpoints"),
        DeclareLaunchArgument("device_options", default_value="",
                              description="JSON: replaces config/franka.yaml's device options"),
        DeclareLaunchArgument("seed", default_value="0", description="seed"),
        DeclareLaunchArgument("camera_serials", default_value="", description="RealSense serials, comma-separated"),
        DeclareLaunchArgument("intervention", default_value="false",
                              description="true: a SpaceMouse/gamepad (sensor_msgs/Joy on /joy) may take over"),
        DeclareLaunchArgument("record_dir", default_value="", description="record the session's bag here"),
        DeclareLaunchArgument("learner", default_value="true",
                              description="false: the learner runs on another machine (docker/compose.yaml: learner)"),
        OpaqueFunction(function=_nodes),
    ])
