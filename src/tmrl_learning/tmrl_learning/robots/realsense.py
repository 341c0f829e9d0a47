"""A RealSense camera through librealsense (pyrealsense2): color and depth frames with the device's
timestamps and intrinsics, opened by serial number at a given profile.

The sensors are opened directly (sensor.open / start into a syncer) rather than through rs.pipeline: the
same calls run a USB camera and an SDK software device (`rs.software_device`, synthetic frames), so the
tests exercise this code path. A read that times out raises `CameraLost`: the node stops, reports and
opens the camera again (an unplugged camera comes back).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


class CameraLost(RuntimeError):
    """No frames within the timeout (unplugged, or the device stopped)."""


@dataclass
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str
    coeffs: tuple[float, ...]

    @property
    def k(self) -> list[float]:
        """The 3x3 camera matrix, row-major (sensor_msgs/CameraInfo.k)."""
        return [self.fx, 0.0, self.ppx, 0.0, self.fy, self.ppy, 0.0, 0.0, 1.0]


@dataclass
class StreamFrame:
    image: np.ndarray          # color (H, W, 3) uint8 RGB; depth (H, W) uint16 in depth units
    timestamp_ms: float        # the device's timestamp
    domain: str                # its clock: hardware_clock, system_time or global_time
    frame_number: int
    intrinsics: Intrinsics


def _intrinsics(profile) -> Intrinsics:
    i = profile.as_video_stream_profile().get_intrinsics()
    return Intrinsics(i.width, i.height, i.fx, i.fy, i.ppx, i.ppy, str(i.model).split(".")[-1], tuple(i.coeffs))


class RealSenseCamera:
    """`serial`: which camera ('' = the only one); `device`: an already made device (an SDK software device
    in tests), else the connected one with that serial."""

    def __init__(self, serial: str = "", width: int = 640, height: int = 480, fps: int = 30, depth: bool = True,
                 device=None):
        self.serial, self.width, self.height, self.fps, self.depth = serial, width, height, fps, depth
        self.device, self._given = device, device is not None
        self.sensors: list = []
        self.syncer = None
        self.depth_scale = 0.001

    def _find(self):
        import pyrealsense2 as rs

        devices = list(rs.context().query_devices())
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
        if not devices:
            raise CameraLost(f"no RealSense connected (looking for serial {self.serial or 'any'})")
        if not self.serial:
            if len(devices) > 1:
                raise CameraLost(f"{len(devices)} RealSense cameras connected {serials}: set the serial number")
            return devices[0]
        if self.serial not in serials:
            raise CameraLost(f"no RealSense with serial {self.serial}; connected: {serials}")
        return devices[serials.index(self.serial)]

    def _profile(self, sensor, stream, fmt):
        for p in sensor.get_stream_profiles():
            v = p.as_video_stream_profile()
            if p.stream_type() == stream and p.format() == fmt and p.fps() == self.fps and \
                    (v.width(), v.height()) == (self.width, self.height):
                return p
        offered = sorted({(p.stream_type().name, p.format().name, p.as_video_stream_profile().width(),
                           p.as_video_stream_profile().height(), p.fps()) for p in sensor.get_stream_profiles()})
        raise ValueError(f"the camera offers no {stream.name} {fmt.name} {self.width}x{self.height}@{self.fps}; "
                         f"it offers {offered}")

    def start(self) -> None:
        import pyrealsense2 as rs

        device = self.device if self._given else self._find()
        wanted = [(rs.stream.color, rs.format.rgb8)] + ([(rs.stream.depth, rs.format.z16)] if self.depth else [])
        self.syncer = rs.syncer()
        self.sensors = []
        for stream, fmt in wanted:
            sensor = next((s for s in device.query_sensors()
                           if any(p.stream_type() == stream for p in s.get_stream_profiles())), None)
            if sensor is None:
                raise ValueError(f"the camera has no {stream.name} sensor")
            sensor.open(self._profile(sensor, stream, fmt))
            sensor.start(self.syncer)
            self.sensors.append(sensor)
            if stream == rs.stream.depth and sensor.supports(rs.option.depth_units):
                self.depth_scale = float(sensor.get_option(rs.option.depth_units))
        self.device = device

    def read(self, timeout_ms: int = 1000) -> dict[str, StreamFrame]:
        """The next frames of every stream: {'color': ..., 'depth': ...} (a frameset the syncer could not match
        is completed by the next); CameraLost when they do not all arrive within `timeout_ms`."""
        import pyrealsense2 as rs

        if self.syncer is None:
            raise CameraLost("the camera is not started")
        wanted = {"color", "depth"} if self.depth else {"color"}
        kinds = {rs.stream.color: "color", rs.stream.depth: "depth"}
        out: dict[str, StreamFrame] = {}
        deadline = time.monotonic() + timeout_ms / 1000
        while not wanted <= out.keys():
            left = int((deadline - time.monotonic()) * 1000)
            try:
                if left <= 0:
                    raise RuntimeError("timeout")
                frames = self.syncer.wait_for_frames(left)
            except RuntimeError as err:
                raise CameraLost(f"RealSense {self.serial}: no {sorted(wanted - out.keys())} frames within "
                                 f"{timeout_ms} ms ({err})") from err
            for frame in frames:
                kind = kinds.get(frame.profile.stream_type())
                if kind is not None:
                    out[kind] = StreamFrame(np.asanyarray(frame.get_data()).copy(), frame.get_timestamp(),
                                            str(frame.get_frame_timestamp_domain()).split(".")[-1],
                                            frame.get_frame_number(), _intrinsics(frame.profile))
        return out

    def stop(self) -> None:
        for sensor in self.sensors:
            try:
                sensor.stop()
                sensor.close()
            except RuntimeError:
                pass  # already gone (unplugged)
        self.sensors, self.syncer = [], None
        if not self._given:
            self.device = None
