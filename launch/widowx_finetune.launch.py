"""Fine-tune a pre-trained CSP policy with TMRL on a WidowX 250 6-DOF (BridgeData's arm), as a ROS 2 graph.

    ros2 launch interbotix_xsarm_control xsarm_control.launch.py robot_model:=wx250s    # the arm (Interbotix)
    ros2 launch tmrl_ros widowx_finetune.launch.py checkpoint:=runs/widowx/checkpoint.pt
    ros2 topic echo /tmrl/timestep
    ros2 topic pub --once /tmrl/estop std_msgs/msg/Bool "{data: true}"     # halt now

A dry run against the simulated arm (the xs_sdk's topics and services over MuJoCo):

    ros2 run tmrl_ros widowx_sim --ros-args -r __ns:=/wx250s &
    ros2 launch tmrl_ros widowx_finetune.launch.py checkpoint:=...

The nodes, parameters and remappings come from tmrl_ros.graph.robot_finetune_graph (config/widowx.yaml),
the same description the tests start as processes against widowx_sim.
"""

from launch.actions import DeclareLaunchArgument

from tmrl_ros.launching import robot_launch_description


def generate_launch_description():
    return robot_launch_description(
        "widowx", DeclareLaunchArgument("robot_name", default_value="/wx250s", description="the xs_sdk's namespace"),
        task="widowx-reach")
