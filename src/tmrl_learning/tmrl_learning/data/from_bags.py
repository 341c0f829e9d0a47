"""Training data from rosbag2 recordings.

- `transitions_from_bag`: the macro-step transitions a tmrl graph recorded (`tmrl_msgs/Transition`),
  as arrays for the learner's offline buffer.
- `dataset_from_transitions_bag`: the same recording as a step-level dataset in OGBench's layout
  (one row per executed action, with the observation before it), for `tmrl pretrain --bag`.
- `dataset_from_standard_bag`: demonstrations recorded by any tool with standard message types
  (`sensor_msgs/JointState`, `std_msgs/Float32MultiArray`, `std_msgs/Float64MultiArray`): each action
  message is paired with the latest observation before it; a pause longer than `episode_gap` seconds
  starts a new episode. Camera images (`sensor_msgs/Image` on `image_topics`) are encoded like the
  perception node does (system.images.ImageEncoder) and appended to the observation, latest first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmrl_learning.bags import read_bag
from tmrl_learning.data.dataset import Dataset, DatasetError

TRANSITION_TYPE = "tmrl_msgs/msg/Transition"


def _transitions(path: str | Path, topic: str | None) -> list:
    messages = [m for m in read_bag(path) if m.msgtype == TRANSITION_TYPE and (topic is None or m.topic == topic)]
    if not messages:
        raise DatasetError(f"bag {path} holds no {TRANSITION_TYPE} messages" + (f" on {topic}" if topic else ""))
    unique = {}
    for m in messages:  # a learner may have seen a transition twice; the key makes it one
        msg = m.message
        unique.setdefault((msg.source, int(msg.episode_id), int(msg.step)), msg)
    return [unique[k] for k in sorted(unique)]


def transitions_from_bag(path: str | Path, topic: str | None = None) -> dict[str, np.ndarray]:
    """-> observation, steering_action, reward, next_observation, terminated arrays (N, ...)."""
    msgs = _transitions(path, topic)
    return {
        "observation": np.stack([np.asarray(m.observation, np.float32) for m in msgs]),
        "steering_action": np.stack([np.asarray(m.steering_action, np.float32) for m in msgs]),
        "reward": np.array([m.reward for m in msgs], np.float32),
        "next_observation": np.stack([np.asarray(m.next_observation, np.float32) for m in msgs]),
        "terminated": np.array([m.terminated for m in msgs], np.float32),
    }


def dataset_from_transitions_bag(path: str | Path, topic: str | None = None) -> Dataset:
    observations, actions, terminals = [], [], []
    msgs = _transitions(path, topic)
    previous = None  # the episode of the last rows added
    for i, m in enumerate(msgs):
        k, d = int(m.executed_steps), int(m.chunk.action_dim)
        obs = np.asarray(m.step_observations, np.float32)
        last = (i + 1 == len(msgs) or (msgs[i + 1].source, msgs[i + 1].episode_id) != (m.source, m.episode_id)
                or m.terminated or m.truncated)
        if k == 0:  # cut before its first action (an emergency stop, a label): no row, but it may end the episode
            if last and previous == (m.source, m.episode_id):
                terminals[-1][-1] = True
            continue
        if obs.size % k:
            raise DatasetError(f"transition {m.source}/{m.episode_id}/{m.step} has {obs.size} step observation "
                               f"values for {k} executed actions (recorded before step_observations existed?)")
        observations.append(obs.reshape(k, -1))
        ran = getattr(m, "executed_actions", None)  # what ran (a human's where one intervened); older: the chunk
        ran = ran if ran is not None and len(ran) == k * d else m.chunk.data
        actions.append(np.asarray(ran, np.float32).reshape(-1, d)[:k])
        terminals.append(np.zeros(k, bool))
        terminals[-1][-1] = last
        previous = (m.source, m.episode_id)
    if not observations:
        raise DatasetError(f"bag {path}: no transition executed an action")
    return Dataset(np.concatenate(observations), np.concatenate(actions), np.concatenate(terminals),
                   metadata={"source": f"bag:{path}"})


def _vector(message, msgtype: str) -> np.ndarray:
    if msgtype == "sensor_msgs/msg/JointState":
        return np.asarray(message.position, np.float32)
    if msgtype in ("std_msgs/msg/Float32MultiArray", "std_msgs/msg/Float64MultiArray"):
        return np.asarray(message.data, np.float32)
    raise DatasetError(f"cannot read a vector from {msgtype}; supported: JointState, Float32/64MultiArray")


def _image(message, msgtype: str, topic: str) -> np.ndarray:
    from tmrl_learning.system.images import image_array

    if msgtype != "sensor_msgs/msg/Image":
        raise DatasetError(f"image topic {topic} carries {msgtype}, not sensor_msgs/msg/Image")
    try:
        return image_array(message.height, message.width, message.encoding, message.step, bytes(message.data),
                           bool(message.is_bigendian))
    except ValueError as err:
        raise DatasetError(f"image on {topic}: {err}") from err


def dataset_from_standard_bag(path: str | Path, observation_topic: str, action_topic: str,
                              episode_gap: float = 1.0, image_topics: tuple[str, ...] = (), encoder=None) -> Dataset:
    """Rows: the latest observation ++ the encoded latest image of each image topic, before each action."""
    if image_topics and encoder is None:
        from tmrl_learning.system.images import ImageEncoder

        encoder = ImageEncoder()
    images: dict[str, np.ndarray] = {}
    last_obs, last_time = None, None
    observations, actions, terminals = [], [], []
    seen = set()
    for m in read_bag(path, topics=[observation_topic, action_topic, *image_topics]):
        seen.add(m.topic)
        if m.topic in image_topics:
            images[m.topic] = encoder.encode(_image(m.message, m.msgtype, m.topic))
            continue
        value = _vector(m.message, m.msgtype)
        if m.topic == observation_topic:
            last_obs = value
            continue
        if last_obs is None or len(images) < len(image_topics):
            continue  # an action before any observation (or image) cannot be used
        if last_time is not None and (m.timestamp_ns - last_time) * 1e-9 > episode_gap and terminals:
            terminals[-1] = True
        observations.append(np.concatenate([last_obs, *(images[t] for t in image_topics)]))
        actions.append(value)
        terminals.append(False)
        last_time = m.timestamp_ns
    missing = {observation_topic, action_topic, *image_topics} - seen
    if missing:
        raise DatasetError(f"bag {path} has no messages on {sorted(missing)}")
    if not actions:
        raise DatasetError(f"bag {path}: no action on {action_topic} follows an observation on {observation_topic}")
    terminals[-1] = True
    return Dataset(np.stack(observations), np.stack(actions), np.array(terminals), metadata={"source": f"bag:{path}"})
