"""Fixtures for the ROS tests: an isolated DDS domain on this machine and an rclpy node."""

from __future__ import annotations

import os
import random

import pytest

# Pin discovery to this machine and give each test run its own domain, so parallel runs (or a
# robot on the same network) never see each other. Set before rclpy starts.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 200)))

rclpy = pytest.importorskip("rclpy", reason="the ROS tests need rclpy: run them through `make test`")


@pytest.fixture
def node():
    """A fresh rclpy context with one node; everything is shut down afterwards."""
    context = rclpy.Context()
    rclpy.init(context=context)
    n = rclpy.create_node(f"tmrl_test_{os.getpid()}", context=context)
    try:
        yield n
    finally:
        n.destroy_node()
        rclpy.shutdown(context=context)
