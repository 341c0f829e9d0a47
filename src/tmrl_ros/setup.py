"""tmrl_ros: the ROS 2 nodes. The repository's top-level launch/ and config/ install into this
package's share directory (through the symlinks launch/ and config/ here), so
`ros2 launch tmrl_ros <file>` finds them."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "tmrl_ros"


def repo_files(folder: str, pattern: str) -> list[str]:
    """Files of a top-level repository folder. `launch` and `config` here are symlinks to them;
    colcon wants data files as paths relative to this package."""
    return sorted(str(p) for p in Path(folder).glob(pattern) if p.is_file())


NODES = {
    "recorder": "tmrl_ros.recorder_node:main",
    "driver": "tmrl_ros.driver_node:main",
    "perception": "tmrl_ros.perception_node:main",
    "policy_server": "tmrl_ros.policy_server_node:main",
    "steering": "tmrl_ros.steering_node:main",
    "reward_reset": "tmrl_ros.reward_reset_node:main",
    "learner": "tmrl_ros.learner_node:main",
    "keyboard_labels": "tmrl_ros.keyboard_labels_node:main",
    "widowx_sim": "tmrl_ros.widowx_sim_node:main",
    "intervention": "tmrl_ros.intervention_node:main",
    "realsense": "tmrl_ros.realsense_node:main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", repo_files("launch", "*.launch.py")),
        (f"share/{PACKAGE}/config", repo_files("config", "*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="tmrl ROS 2 nodes",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in NODES.items()]
                  + ["tmrl_sim_demo = tmrl_ros.sim_demo:main"],
                  # robot tasks whose drivers speak ROS: found by tmrl_learning.tasks when this package is sourced
                  "tmrl.embodiments": ["robots = tmrl_ros.robot_tasks:register_tasks"]},
)
