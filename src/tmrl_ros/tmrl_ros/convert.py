"""tmrl_msgs <-> numpy and the plain objects of tmrl_learning.system."""

from __future__ import annotations

import array
import math

import numpy as np

from tmrl_learning.system.driver import Observation
from tmrl_learning.system.policy_service import ChunkRequest
from tmrl_msgs.msg import ActionChunk, Context


def floats(values) -> array.array:
    """A float32[] field value (fast: no per-element Python conversion)."""
    return array.array("f", np.asarray(values, np.float32).reshape(-1).tobytes())


def vector(field) -> np.ndarray:
    return np.asarray(field, np.float32)


def seconds(stamp) -> float:
    """A builtin_interfaces/Time as seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def observation_message(obs: Observation, source: str, stamp) -> Context:
    msg = Context(source=source, episode_id=obs.episode_id, step=obs.step, task=obs.task)
    msg.header.stamp = stamp
    msg.observation = floats(obs.observation)
    msg.goal = floats(obs.goal)
    return msg


def image_message(image: np.ndarray, stamp, frame_id: str = ""):
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image (rgb8)."""
    from sensor_msgs.msg import Image

    image = np.ascontiguousarray(image, np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"a colour image is (H, W, 3) uint8, got shape {image.shape}")
    msg = Image(height=image.shape[0], width=image.shape[1], encoding="rgb8", is_bigendian=0,
                step=image.shape[1] * 3)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = image.tobytes()
    return msg


def chunk_message(chunk: np.ndarray, timestep: int, version: int, stamp) -> ActionChunk:
    msg = ActionChunk(horizon=chunk.shape[0], action_dim=chunk.shape[1], context_timestep=int(timestep),
                      policy_version=int(version))
    msg.header.stamp = stamp
    msg.data = floats(chunk)
    return msg


def chunk_request(context: Context, steering) -> ChunkRequest:
    return ChunkRequest(context=vector(context.context), proprio=vector(context.proprio),
                        action_noise=vector(steering.action_noise), context_timestep=int(steering.context_timestep),
                        context_noise=vector(steering.context_noise),
                        guidance_weight=float(steering.guidance_weight), context_is_noised=context.context_timestep > 0)


def guidance(inputs: dict) -> float:
    return float(inputs["guidance"]) if "guidance" in inputs else math.nan
