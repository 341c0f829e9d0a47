"""Turn graph descriptions (tmrl_ros.graph.NodeSpec) into launch_ros actions.

Only imported by launch files: launch_ros exists on a full ROS 2 install, not on the PyPI wheels.
"""

from __future__ import annotations

from pathlib import Path

from launch_ros.actions import Node

from tmrl_ros.graph import NodeSpec


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
