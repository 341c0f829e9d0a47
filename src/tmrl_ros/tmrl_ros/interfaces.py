"""Look up ROS interface classes by their type name (`pkg/msg/Name`), as `ros2 topic` does.

rosidl_runtime_py is not available everywhere tmrl runs (PyPI wheels), so this is the small part of
it that the nodes need.
"""

from __future__ import annotations

import importlib


def message_class(type_name: str) -> type:
    """`'tmrl_msgs/msg/Transition'` -> the generated Python class. Raises ValueError on a bad name."""
    parts = type_name.split("/")
    if len(parts) != 3 or parts[1] not in ("msg", "srv", "action") or not all(parts):
        raise ValueError(f"bad interface type name {type_name!r}; expected 'package/msg/Name'")
    package, kind, name = parts
    try:
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"interface {type_name!r} is not installed ({err})") from err
