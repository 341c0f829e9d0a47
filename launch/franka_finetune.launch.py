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

from launch.actions import DeclareLaunchArgument

from tmrl_ros.launching import robot_launch_description


def generate_launch_description():
    return robot_launch_description(
        "franka", DeclareLaunchArgument("robot_ip", description="the Franka's FCI address"), task="franka-reach")
