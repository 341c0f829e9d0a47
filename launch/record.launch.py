"""Record every /tmrl/* topic to a rosbag2 (mcap) bag.

    ros2 launch tmrl_ros record.launch.py output_dir:=~/tmrl_bags
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from tmrl_ros.graph import recorder_graph
from tmrl_ros.launching import node_actions


def _nodes(context):
    output_dir = LaunchConfiguration("output_dir").perform(context)
    storage = LaunchConfiguration("storage").perform(context)
    return node_actions(recorder_graph(output_dir, storage=storage))


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("output_dir", default_value="bags", description="folder for the new bag"),
        DeclareLaunchArgument("storage", default_value="mcap", description="mcap or sqlite3"),
        OpaqueFunction(function=_nodes),
    ])
