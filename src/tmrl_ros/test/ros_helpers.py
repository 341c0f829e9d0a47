"""Helpers for tests that run ROS 2 nodes as separate processes."""

from __future__ import annotations

import array
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rclpy.executors import SingleThreadedExecutor

from tmrl_ros.interfaces import message_class
from tmrl_ros.processes import start, stop  # noqa: F401 - re-exported for the tests

HERE = Path(__file__).resolve().parent
INTEGER_TYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "byte", "octet", "char"}


def spin_until(node, predicate: Callable[[], bool], timeout: float) -> bool:
    """Spin `node` until `predicate()` is true or `timeout` seconds pass. Returns the predicate."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while not predicate() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(node)
    return predicate()


def python_peer(script: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / "peers" / script), *args]


def filled_message(cls: type, seed: int = 1):
    """An instance of `cls` with every field set to a distinct, exactly representable value."""
    msg = cls()
    for i, (name, kind) in enumerate(cls.get_fields_and_field_types().items()):
        setattr(msg, name, _value(kind, seed * 31 + i))
    return msg


def _value(kind: str, k: int):
    if kind.startswith("sequence<") or "[" in kind:
        inner = kind[len("sequence<"):-1] if kind.startswith("sequence<") else kind.split("[")[0]
        inner = inner.split(",")[0]
        n = 3 + k % 4
        if inner == "uint8":
            return array.array("B", [(k + j) % 256 for j in range(n)])
        if inner in ("float", "double"):
            return array.array("f" if inner == "float" else "d", [(k + j) * 0.25 - 1.5 for j in range(n)])
        return [_value(inner, k + j) for j in range(n)]
    if kind in ("float", "double"):
        return k * 0.5 - 3.25
    if kind == "boolean":
        return k % 2 == 1
    if kind.startswith("string"):
        return f"value-{k}"
    if kind in INTEGER_TYPES:
        return k % 100
    package, name = kind.split("/")
    return filled_message(message_class(f"{package}/msg/{name}"), k)
