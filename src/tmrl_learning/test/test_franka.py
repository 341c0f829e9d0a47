"""The Franka driver against franky-sim, which serves libfranka's network protocol over MuJoCo: every
pose below is read back from the simulated arm through libfranka."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tmrl_learning.robots.franka_sim import FrankaSim
from tmrl_learning.system.driver import make_driver
from tmrl_learning.system.safety import SafetyLimits
from tmrl_learning.tasks import FRANKA_REACH

BOX = dict(workspace_low=(0.25, -0.35, 0.10), workspace_high=(0.70, 0.35, 0.45))
FAST = dict(realtime=False, reset_dynamics_factor=0.3)


@pytest.fixture(scope="module")
def address():
    with FrankaSim() as address:
        yield address


@pytest.fixture
def driver(address):
    drivers = []

    def make(watchdog_s: float = 0.0, **options):
        d = make_driver(FRANKA_REACH, 0, safety=SafetyLimits(-1.0, 1.0, watchdog_s=watchdog_s, **BOX),
                        address=address, **{**FAST, **options})
        drivers.append(d)
        return d

    yield make
    for d in drivers:
        d.close()


def position(driver) -> np.ndarray:
    return driver._observe()[:3]


def at_rest(driver, timeout: float = 5.0) -> np.ndarray:
    """The end-effector position once every joint is still (the simulator runs slower on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while np.abs(driver.robot.current_joint_velocities).max() > 1e-3 and time.monotonic() < deadline:
        time.sleep(0.05)
    return position(driver)


def test_a_chunk_moves_the_arm_and_a_reset_brings_it_back(driver):
    d = driver()
    first = d.reset(seed=3)
    task = FRANKA_REACH.task(first.task)
    np.testing.assert_allclose(first.observation[:3], task.start, atol=0.005)
    np.testing.assert_allclose(first.observation[11:], task.goal)
    np.testing.assert_allclose(first.observation[3], 0.08, atol=0.002)  # gripper open
    chunk = np.zeros((10, 7))
    chunk[:, 1] = 1.0   # +y, 1 cm per action
    chunk[:, 6] = -1.0  # close the gripper
    out = d.execute(chunk)
    assert out.executed == 10 and out.refused == ""
    assert np.diff(out.stamps).mean() == pytest.approx(1 / 15, rel=0.15)  # DROID's 15 Hz
    moved = at_rest(d) - task.start
    np.testing.assert_allclose(moved, [0.0, 0.10, 0.0], atol=0.005)
    assert d._observe()[3] < 0.01  # the gripper closed
    again = d.reset(seed=3)
    np.testing.assert_allclose(again.observation[:3], task.start, atol=0.005)
    np.testing.assert_allclose(again.observation[4:11], d.options.home_joints, atol=0.3)  # near home, above the start


@pytest.mark.timeout(120)
def test_gripper_moves_never_hold_up_the_arm_and_a_reset_opens_it(driver):
    """A chunk that flips the gripper every action (each move takes ~0.8 s on the hand): the arm's commands
    keep the 15 Hz grid, no gripper move is superseded (franky-sim never answers one that is), and the
    reset after the chunk opens the gripper again."""
    d = driver()
    d.reset(seed=1)
    chunk = np.zeros((12, 7))
    chunk[:, 0] = 0.5
    chunk[:, 6] = np.where(np.arange(12) % 2, 1.0, -1.0)  # close, open, close, ...
    out = d.execute(chunk)
    assert out.executed == 12 and out.refused == ""
    assert np.diff(out.stamps).max() < 2 / 15, np.diff(out.stamps)
    assert d.hand.wait(5.0) and d.hand.failures == []
    again = d.reset(seed=1)
    np.testing.assert_allclose(again.observation[3], 0.08, atol=0.002)  # open


def test_reaching_the_goal_is_a_success(driver):
    d = driver(translation_step=0.02)
    obs = d.reset(seed=0)
    reward, out = 0.0, None
    for _ in range(10):
        step = (obs.observation[11:] - obs.observation[:3]) / 0.02
        chunk = np.zeros((4, 7))
        chunk[:, :3] = np.clip(step / max(1.0, np.abs(step).max()), -1, 1)
        chunk[:, 6] = 1.0
        out = d.execute(chunk)
        obs, reward = out.observation, reward + out.reward
        if out.terminated:
            break
    assert out.success and out.terminated
    assert np.linalg.norm(obs.observation[:3] - obs.observation[11:]) < FRANKA_REACH.success_radius


def test_the_workspace_box_clips_commands(driver):
    d = driver()
    d.reset(seed=0)
    chunk = np.zeros((12, 7))
    chunk[:, 2] = 1.0  # up, past the box's top at z = 0.45
    out = d.execute(chunk)
    assert out.refused == "" and out.executed == 12
    assert at_rest(d)[2] == pytest.approx(0.45, abs=0.004)
    assert d.safety.counters.clip_reasons["workspace box"] >= 7


def test_nan_is_refused_and_the_arm_stops(driver):
    d = driver()
    d.reset(seed=0)
    chunk = np.zeros((6, 7))
    chunk[:, 0] = 1.0
    chunk[3, 1] = np.nan
    out = d.execute(chunk)
    assert out.executed == 3 and out.terminated and not out.success
    assert "NaN" in out.refused and d.safety.counters.refused == 1


def test_a_stalled_control_loop_gets_the_arm_stopped_by_the_watchdog(driver):
    """A long move (0.15 m) is started, then the loop stalls: with a 0.3 s watchdog the arm stops short
    of the target; without it, the arm arrives. Either way the chunk's second action never ran."""
    reached = {}
    for watchdog_s in (0.0, 0.3):
        d = driver(watchdog_s=watchdog_s, translation_step=0.15, dynamics_factor=0.1)
        start = d.reset(seed=0).observation[:3]
        chunk = np.zeros((2, 7))
        chunk[:, 0] = 1.0
        chunk[:, 6] = 1.0
        d.execute(chunk, steps=1, on_step=lambda *_: time.sleep(3.0))
        reached[watchdog_s] = position(d)[0] - start[0]
        assert d.safety.counters.watchdog_stops == (1 if watchdog_s else 0)
        d.close()
    assert reached[0.0] == pytest.approx(0.15, abs=0.01)
    assert reached[0.3] < 0.10


def test_the_emergency_stop_cuts_the_chunk_and_refuses_resets(driver):
    d = driver()
    d.reset(seed=0)
    chunk = np.zeros((30, 7))
    chunk[:, 0] = 1.0
    threading.Timer(0.5, d.emergency_stop, (True,)).start()
    out = d.execute(chunk)
    assert out.refused == "emergency stop engaged" and out.truncated and 3 <= out.executed <= 12
    time.sleep(0.3)
    resting = position(d)
    time.sleep(0.5)
    np.testing.assert_allclose(position(d), resting, atol=0.002)  # halted
    with pytest.raises(RuntimeError, match="emergency stop engaged"):
        d.reset()
    d.emergency_stop(False)
    assert d.reset(seed=0).episode_id == 1 and d.safety.counters.emergency_stops == 1


def test_an_unreachable_robot_is_named():
    d = make_driver(FRANKA_REACH, 0, address="127.0.0.2", realtime=False)
    with pytest.raises(ConnectionError, match="could not reach the Franka at 127.0.0.2"):
        d.reset()


def test_bad_device_options_are_named():
    with pytest.raises(ValueError, match="unknown Franka device options \\['speed'\\]"):
        make_driver(FRANKA_REACH, 0, address="127.0.0.1", speed=2.0)
    with pytest.raises(ValueError, match="needs the robot's address"):
        make_driver(FRANKA_REACH, 0)
    with pytest.raises(ValueError, match="no simulated environment"):
        FRANKA_REACH.make_env(0)
