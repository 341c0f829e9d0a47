"""The colcon-installed recorder executable, started from the graph description with its
--params-file and overrides, records /tmrl/* topics into a bag that rosbags reads back."""

from __future__ import annotations

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float32

from tmrl_learning.bags import read_bag
from tmrl_msgs.msg import Transition
from tmrl_ros.graph import recorder_graph

from ros_helpers import spin_until, start, stop

pytestmark = pytest.mark.ros


def test_installed_recorder_honours_its_params_file(node, tmp_path):
    params = tmp_path / "recorder.yaml"
    # Only /tmrl/timestep and /tmrl/transitions, into sqlite3 storage: both differ from the defaults.
    params.write_text(
        "recorder:\n  ros__parameters:\n"
        "    topics: ['/tmrl/timestep', '/tmrl/transitions']\n"
        "    storage: sqlite3\n"
        "    discovery_period_s: 0.1\n")
    (spec,) = recorder_graph(tmp_path / "bags", bag_name="run1")
    spec.params_files.append(params)  # later files override earlier ones, as in launch_ros
    spec.parameters.pop("storage")
    proc = start(spec.command(), tmp_path / "recorder.log")

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    timestep = node.create_publisher(Float32, "/tmrl/timestep", qos)
    transitions = node.create_publisher(Transition, "/tmrl/transitions", qos)
    ignored = node.create_publisher(Float32, "/tmrl/noise_norm", qos)
    try:
        assert spin_until(node, lambda: timestep.get_subscription_count() and transitions.get_subscription_count(),
                          30.0), proc.log_path.read_text()
        for k in range(5):
            timestep.publish(Float32(data=float(k)))
            transitions.publish(Transition(episode_id=3, step=k, reward=-1.0, observation=[k, 2.0 * k]))
            ignored.publish(Float32(data=99.0))
        spin_until(node, lambda: False, 2.0)  # let the messages arrive (slow on a loaded machine)
    finally:
        assert stop(proc) == 0, proc.log_path.read_text()

    bag = tmp_path / "bags" / "run1"
    assert (bag / "metadata.yaml").is_file() and list(bag.glob("*.db3")), "sqlite3 storage from the params file"
    messages = list(read_bag(bag))
    assert {m.topic for m in messages} == {"/tmrl/timestep", "/tmrl/transitions"}
    assert [m.message.data for m in messages if m.topic == "/tmrl/timestep"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    steps = [m.message for m in messages if m.topic == "/tmrl/transitions"]
    assert [t.step for t in steps] == list(range(5))
    assert list(steps[4].observation) == [4.0, 8.0] and steps[4].episode_id == 3
