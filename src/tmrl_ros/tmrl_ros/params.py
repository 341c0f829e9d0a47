"""Typed, described parameter declaration for tmrl nodes: one call per parameter."""

from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter


def declare(node: Node, name: str, default: Any, description: str,
            low: float | None = None, high: float | None = None, empty_type=Parameter.Type.STRING_ARRAY) -> Any:
    """Declare `name` with its type taken from `default`, a description and an optional range;
    return its value (from a params file or the command line when given there). An empty list
    default declares an array of `empty_type` (string by default)."""
    descriptor = ParameterDescriptor(description=description)
    if low is not None and high is not None:
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise TypeError(f"parameter {name}: a range needs a number default, got {default!r}")
        if isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=0)]
        else:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    if isinstance(default, list) and not default:  # an empty list has no type of its own: say it
        value = node.declare_parameter(name, empty_type, descriptor).value
        return list(value) if value is not None else []
    return node.declare_parameter(name, default, descriptor).value


def declare_dataclass(node: Node, prefix: str, instance: Any, skip: tuple[str, ...] = ()) -> Any:
    """Declare one parameter `<prefix>.<field>` per scalar field of a config dataclass, with the
    dataclass' value as default (the one place defaults live), and return a copy with the values the
    node was given. Fields that are dicts, None or nested dataclasses are not parameters."""
    import dataclasses

    values = {}
    for f in dataclasses.fields(instance):
        default = getattr(instance, f.name)
        if f.name in skip or default is None or isinstance(default, dict) or dataclasses.is_dataclass(default):
            continue
        empty = Parameter.Type.STRING_ARRAY
        if isinstance(default, tuple):
            empty = Parameter.Type.DOUBLE_ARRAY if "float" in str(f.type) else empty
            default = list(default)
        value = declare(node, f"{prefix}.{f.name}", default, f"{type(instance).__name__}.{f.name}", empty_type=empty)
        values[f.name] = tuple(value) if isinstance(getattr(instance, f.name), tuple) else value
    return dataclasses.replace(instance, **values)


def declare_result_keep(node: Node) -> int:
    """`result_keep_s` of a node's action server: how long a finished goal's result stays on offer.
    The action status, republished on every goal change, lists every goal kept and every client
    decodes it; rclpy's 10 s default made steering decode ~400 entries three times per chunk at
    40 chunks/s. Clients here request the result right after acceptance, so 1 s is plenty."""
    return declare(node, "result_keep_s", 1, "seconds a finished goal's result stays on offer (the action "
                   "status lists every goal kept)", low=1, high=3600)
