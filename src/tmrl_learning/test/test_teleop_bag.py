"""Teleoperation demonstrations in standard messages (joint states, actions, camera images) -> a dataset,
and `tmrl pretrain --bag` on it with the topics as flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tmrl_learning.bags import BagWriter, tmrl_typestore
from tmrl_learning.csp.checkpoint import load_policy
from tmrl_learning.data.dataset import DatasetError
from tmrl_learning.data.from_bags import dataset_from_standard_bag
from tmrl_learning.system.images import ImageEncoder

REPO = Path(__file__).resolve().parents[3]


def teleop_bag(path: Path, episodes: int = 2, steps: int = 6) -> None:
    """A 10 Hz teleop session: 2 joints, a 1-D action, a 8x8 rgb8 camera whose brightness is the step."""
    store = tmrl_typestore()
    t_ = store.types
    header = t_["std_msgs/msg/Header"](t_["builtin_interfaces/msg/Time"](0, 0), "camera")
    empty = np.zeros(0)
    with BagWriter(path, "mcap", store) as writer:
        t = 0
        for _ in range(episodes):
            for k in range(steps):
                t += 100_000_000
                pixels = np.full((8, 8, 3), 20 * k, np.uint8)
                image = t_["sensor_msgs/msg/Image"](header, 8, 8, "rgb8", 0, 24, pixels.reshape(-1))
                writer.write("/camera/color/image_raw", "sensor_msgs/msg/Image", t, image)
                js = t_["sensor_msgs/msg/JointState"](header, ["j0", "j1"], np.array([k * 0.1, -0.5], float), empty,
                                                      empty)
                writer.write("/joint_states", "sensor_msgs/msg/JointState", t + 1, js)
                cmd = t_["std_msgs/msg/Float32MultiArray"](t_["std_msgs/msg/MultiArrayLayout"]([], 0),
                                                           np.array([-0.3], np.float32))
                writer.write("/teleop/action", "std_msgs/msg/Float32MultiArray", t + 2, cmd)
            t += 5_000_000_000  # a pause: a new episode


def test_images_are_encoded_into_the_observation(tmp_path):
    teleop_bag(tmp_path / "teleop")
    encoder = ImageEncoder("pooled", size=2)
    dataset = dataset_from_standard_bag(tmp_path / "teleop", "/joint_states", "/teleop/action",
                                        image_topics=("/camera/color/image_raw",), encoder=encoder)
    assert dataset.observations.shape == (12, 2 + 2 * 2 * 3) and dataset.num_episodes == 2
    row = dataset.observations[4]  # episode 0, step 4
    assert row[:2] == pytest.approx([0.4, -0.5]) and row[2:] == pytest.approx(np.full(12, 80 / 255), abs=1e-6)
    with pytest.raises(DatasetError, match="no messages on \\['/camera/depth'\\]"):
        dataset_from_standard_bag(tmp_path / "teleop", "/joint_states", "/teleop/action",
                                  image_topics=("/camera/depth",))
    with pytest.raises(DatasetError, match="image topic /joint_states carries sensor_msgs/msg/JointState"):
        dataset_from_standard_bag(tmp_path / "teleop", "/teleop/action", "/teleop/action",
                                  image_topics=("/joint_states",))


def test_tmrl_pretrain_trains_from_a_teleop_bag(tmp_path):
    """LineWorld's layout (state, goal) reads the bag's two joints; the camera goes into the rows too."""
    teleop_bag(tmp_path / "teleop")
    out = tmp_path / "run"
    args = ["pretrain", "--config", str(REPO / "config" / "pointmaze.yaml"), "--set", "task=lineworld",
            "--set", "policy.model.hidden=32", "--set", "policy.model.embed=32", "--set", "policy.model.horizon=2",
            "--set", "eval_every=0", "--set", "compile=false", "--set", "image_size=2", "--steps", "10",
            "--bag", str(tmp_path / "teleop"), "--observation-topic", "/joint_states",
            "--action-topic", "/teleop/action", "--image-topic", "/camera/color/image_raw", "--out", str(out)]
    cli = subprocess.run([sys.executable, "-m", "tmrl_learning.cli", *args], capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    policy, cfg = load_policy(out / "checkpoint.pt")
    assert cfg.bag_observation_topic == "/joint_states" and list(cfg.bag_image_topics) == ["/camera/color/image_raw"]
    assert policy.cfg.model.action_dim == 1
    half = subprocess.run([sys.executable, "-m", "tmrl_learning.cli", *args[:-6], "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert half.returncode != 0 and "--observation-topic and --action-topic go together" in half.stderr
