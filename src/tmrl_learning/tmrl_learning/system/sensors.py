"""Robot sensors -> the policy's inputs: time synchronisation of several streams, joint states in a
fixed joint order, point clouds (PointCloud2 bytes) as a fixed number of xyz points, and camera images
through their encoders (system/images.py).

`ApproximateSync` pairs messages the way message_filters' approximate-time policy is used for
(message_filters is not installable from the registries these machines reach): whenever a message
arrives, every other stream contributes its message nearest in time; if all of them lie within
`slop` seconds, the set is emitted and everything up to it is dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


class ApproximateSync:
    def __init__(self, streams: list[str], slop: float, queue: int = 10):
        if not streams:
            raise ValueError("ApproximateSync needs at least one stream")
        if slop < 0:
            raise ValueError(f"slop must be >= 0 s, got {slop}")
        self.slop = slop
        self.queues: dict[str, deque] = {name: deque(maxlen=queue) for name in streams}

    def add(self, stream: str, stamp: float, value) -> dict | None:
        """Add one message; -> {stream: (stamp, value)} for a synchronised set, else None."""
        if stream not in self.queues:
            raise KeyError(f"unknown stream {stream!r}; streams: {sorted(self.queues)}")
        self.queues[stream].append((stamp, value))
        chosen = {stream: (stamp, value)}
        for name, queue in self.queues.items():
            if name == stream:
                continue
            if not queue:
                return None
            chosen[name] = min(queue, key=lambda item: abs(item[0] - stamp))
        stamps = [s for s, _ in chosen.values()]
        if max(stamps) - min(stamps) > self.slop:
            return None
        for name, queue in self.queues.items():  # nothing up to the set can be used again (any arrival order)
            self.queues[name] = deque((item for item in queue if item[0] > chosen[name][0]), maxlen=queue.maxlen)
        return chosen


def joint_vector(names, positions, order: list[str]) -> np.ndarray:
    """JointState names/positions -> positions in `order`; ValueError naming a missing joint."""
    names, positions = list(names), np.asarray(positions, np.float64)
    if len(names) != len(positions):
        raise ValueError(f"joint state has {len(names)} names but {len(positions)} positions")
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in order if name not in index]
    if missing:
        raise ValueError(f"joint state lacks joints {missing}")
    out = positions[[index[name] for name in order]].astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError("joint state contains NaN or inf")
    return out


_POINT_FIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}  # PointField


@dataclass
class CloudField:
    name: str
    offset: int
    datatype: int


def cloud_xyz(data: bytes, fields: list[CloudField], point_step: int, points: int,
              big_endian: bool = False) -> np.ndarray:
    """PointCloud2 payload -> (N, 3) float32 xyz, points with a non-finite coordinate dropped."""
    by_name = {f.name: f for f in fields}
    missing = [axis for axis in "xyz" if axis not in by_name]
    if missing:
        raise ValueError(f"point cloud lacks fields {missing}")
    if len(data) < points * point_step:
        raise ValueError(f"point cloud has {len(data)} bytes, {points} points of {point_step} need more")
    order = ">" if big_endian else "<"
    dtype = np.dtype({"names": list("xyz"),
                      "formats": [order + _POINT_FIELD_TYPES[by_name[a].datatype] for a in "xyz"],
                      "offsets": [by_name[a].offset for a in "xyz"], "itemsize": point_step})
    raw = np.frombuffer(data, dtype, count=points)
    xyz = np.stack([raw[a].astype(np.float32) for a in "xyz"], axis=-1)
    return xyz[np.isfinite(xyz).all(axis=1)]


def farthest_points(xyz: np.ndarray, n: int) -> np.ndarray:
    """n points of the cloud by farthest-point sampling (deterministic: starts from the point
    nearest the centroid); clouds with fewer than n points are repeated cyclically."""
    if len(xyz) == 0:
        raise ValueError("point cloud is empty (after dropping non-finite points)")
    if len(xyz) <= n:
        return xyz[np.arange(n) % len(xyz)]
    chosen = np.empty(n, np.int64)
    chosen[0] = int(np.argmin(((xyz - xyz.mean(0)) ** 2).sum(1)))
    distance = ((xyz - xyz[chosen[0]]) ** 2).sum(1)
    for i in range(1, n):
        chosen[i] = int(np.argmax(distance))
        distance = np.minimum(distance, ((xyz - xyz[chosen[i]]) ** 2).sum(1))
    return xyz[chosen]


@dataclass
class SensorLayout:
    """How a robot's sensors make the policy's inputs: proprio = joint positions in `joints` order;
    context = `cloud_points` farthest points of the cloud, flattened (none when 0), followed by each
    camera's image features (`cameras`: one encoder per camera, anything with `encode(image)` and
    `features`). The RL observation is proprio followed by the context."""

    joints: list[str]
    cloud_points: int = 0
    cameras: list = field(default_factory=list)

    @property
    def context_dim(self) -> int:
        return 3 * self.cloud_points + sum(camera.features for camera in self.cameras)

    def inputs(self, joints: np.ndarray, cloud: np.ndarray | None,
               images: list[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (observation, context, proprio)."""
        parts = [np.zeros(0, np.float32)]
        if self.cloud_points:
            if cloud is None:
                raise ValueError("this layout needs a point cloud")
            parts.append(farthest_points(cloud, self.cloud_points).reshape(-1))
        if len(images) != len(self.cameras):
            raise ValueError(f"this layout needs {len(self.cameras)} camera images, got {len(images)}")
        parts += [camera.encode(image) for camera, image in zip(self.cameras, images, strict=True)]
        context = np.concatenate(parts).astype(np.float32)
        return np.concatenate([joints, context]), context, joints
