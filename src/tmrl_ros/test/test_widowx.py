"""The WidowX driver against widowx_sim: the Interbotix xs_sdk's topics and services over DDS, a wx250s in
MuJoCo behind them. Every pose below is computed from the joint_states the peer publishes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tmrl_learning.robots import widowx_arm as arm
from tmrl_learning.system.driver import make_driver
from tmrl_learning.system.safety import SafetyLimits
from tmrl_learning.tasks import embodiment
from tmrl_ros.graph import NodeSpec
from tmrl_ros.processes import GraphProcesses

pytestmark = pytest.mark.ros

BOX = dict(workspace_low=(0.15, -0.25, 0.05), workspace_high=(0.45, 0.25, 0.25))
FAST = dict(reset_moving_time_s=0.5)


def widowx_peer(namespace: str = "/wx250s") -> NodeSpec:
    return NodeSpec("widowx_sim", "xs_sdk", namespace=namespace)


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    with GraphProcesses([widowx_peer()], tmp_path_factory.mktemp("peer")) as graph:
        yield graph


@pytest.fixture
def driver(peer):
    drivers = []

    def make(box: bool = True, **options):
        limits = SafetyLimits(-1.0, 1.0, **(BOX if box else {}))
        d = make_driver(embodiment("widowx-reach"), 0, safety=limits, address="/wx250s",
                        **{**FAST, **options})
        drivers.append(d)
        return d

    yield make
    for d in drivers:
        d.close()


def ee(driver) -> np.ndarray:
    return arm.forward(driver.arm_joints())[:3, 3]


def test_a_chunk_moves_the_arm_and_a_reset_brings_it_back(driver, peer):
    d = driver()
    first = d.reset(seed=1)
    task = d.embodiment.task(first.task)
    np.testing.assert_allclose(first.observation[:3], task.start, atol=0.01)
    assert first.observation[3] > 0.3  # opening
    chunk = np.zeros((5, 7))
    chunk[:, 1] = 1.0   # +y, 2 cm per action
    chunk[:, 6] = -1.0  # close
    out = d.execute(chunk)
    assert out.executed == 5 and out.refused == ""
    assert np.diff(out.stamps).mean() == pytest.approx(0.2, rel=0.15)  # BridgeData's 5 Hz
    time.sleep(0.5)
    np.testing.assert_allclose(ee(d) - task.start, [0.0, 0.10, 0.0], atol=0.01)
    assert d.opening() < 0.2, "the gripper closed"
    again = d.reset(seed=1)
    np.testing.assert_allclose(again.observation[:3], task.start, atol=0.01)
    assert "simulated wx250s serving /wx250s" in peer.log("wx250s/xs_sdk")


def test_poses_out_of_the_box_or_out_of_reach_are_not_sent(driver):
    d = driver(translation_step=0.05)
    d.reset(seed=0)
    up = np.zeros((4, 7))
    up[:, 2] = 1.0  # 20 cm up: past the box's top at z = 0.25
    d.execute(up)
    time.sleep(0.4)
    assert ee(d)[2] == pytest.approx(0.25, abs=0.01)
    assert d.safety.counters.clip_reasons["workspace box"] >= 2
    far = driver(box=False, translation_step=0.05)
    far.reset(seed=0)
    forward = np.zeros((10, 7))
    forward[:, 0] = 1.0  # 50 cm forward at 20 cm height, pointing down: the wrist cannot reach past ~0.5 m
    far.execute(forward)
    time.sleep(0.4)
    assert far.safety.counters.clip_reasons["no joint solution: held"] >= 3
    assert 0.38 < ee(far)[0] < 0.5 and arm.within_limits(far.commanded)  # held at the last reachable pose


def test_an_unreachable_arm_is_named(peer):
    d = make_driver(embodiment("widowx-reach"), 0, address="/nobody", connect_timeout_s=1.0)
    try:
        with pytest.raises(ConnectionError, match="no WidowX at /nobody: no /nobody/joint_states"):
            d.reset()
    finally:
        d.close()


def test_a_joint_jump_is_held_and_closing_puts_the_arm_to_sleep(driver):
    d = driver(rotation_step=2.0)
    d.reset(seed=0)
    before = d.commanded.copy()
    roll = np.zeros((1, 7))
    roll[0, 5] = 1.0  # 2 rad of yaw (the gripper turning about its axis) in one 0.2 s step: faster than pi rad/s
    roll[0, 6] = 1.0
    d.execute(roll)
    assert d.safety.counters.clip_reasons["joint velocity limit: held"] == 1
    np.testing.assert_array_equal(d.commanded, before)
    d.close()  # Interbotix's habit: the arm goes to its sleep pose
    watcher = driver(sleep_on_close=False)
    watcher.connect()
    time.sleep(0.3)
    np.testing.assert_allclose(watcher.arm_joints(), arm.SLEEP, atol=0.05)
