"""Turn graph descriptions (tmrl_ros.graph.NodeSpec) into launch_ros actions.

Only imported by launch files: launch_ros exists on a full ROS 2 install, not on the PyPI wheels.
"""

from __future__ import annotations

from launch_ros.actions import Node

from tmrl_ros.graph import NodeSpec


def node_actions(specs: list[NodeSpec]) -> list[Node]:
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, namespace=spec.namespace or None,
             output="screen",
             parameters=[*map(str, spec.params_files), spec.parameters],
             remappings=list(spec.remappings.items()))
        for spec in specs
    ]
