"""A synthetic RealSense: an SDK software device (pyrealsense2.software_device) with a color and a depth
sensor, fed frames by `push`. It runs the camera code path of a real device (robots.realsense) without
one: for tests and dry runs."""

from __future__ import annotations

import numpy as np
import pyrealsense2 as rs


class SyntheticRealSense:
    def __init__(self, serial: str = "000000000000", width: int = 64, height: int = 48, fps: int = 30,
                 focal: tuple[float, float] = (60.0, 61.0)):
        self.width, self.height, self.focal = width, height, focal
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.serial_number, serial)
        self.device.register_info(rs.camera_info.name, "Intel RealSense (software device)")
        self.color = self.device.add_sensor("RGB Camera")
        self.depth = self.device.add_sensor("Stereo Module")
        self.color_profile = self.color.add_video_stream(self._stream(rs.stream.color, rs.format.rgb8, 3, 0, fps))
        self.depth_profile = self.depth.add_video_stream(self._stream(rs.stream.depth, rs.format.z16, 2, 1, fps))
        self.depth.add_read_only_option(rs.option.depth_units, 0.001)
        self.device.create_matcher(rs.matchers.dlr_c)  # color and depth matched into one frameset, as a D400
        self.frame_number = 0

    def _stream(self, kind, fmt, bpp: int, uid: int, fps: int):
        i = rs.intrinsics()
        i.width, i.height, (i.fx, i.fy) = self.width, self.height, self.focal
        i.ppx, i.ppy = self.width / 2, self.height / 2
        i.model, i.coeffs = rs.distortion.brown_conrady, [0.0] * 5
        s = rs.video_stream()
        s.type, s.index, s.uid, s.fps, s.bpp, s.fmt, s.intrinsics = kind, 0, uid, fps, bpp, fmt, i
        s.width, s.height = self.width, self.height
        return s

    def push(self, color: np.ndarray, depth: np.ndarray, timestamp_ms: float) -> None:
        """One color (H, W, 3) uint8 and one depth (H, W) uint16 frame, stamped in global time (ms)."""
        for sensor, profile, image, bpp in ((self.color, self.color_profile, color, 3),
                                            (self.depth, self.depth_profile, depth, 2)):
            frame = rs.software_video_frame()
            frame.pixels, frame.stride, frame.bpp = np.ascontiguousarray(image), self.width * bpp, bpp
            frame.timestamp, frame.domain = timestamp_ms, rs.timestamp_domain.global_time
            frame.frame_number, frame.profile = self.frame_number, profile.as_video_stream_profile()
            sensor.on_video_frame(frame)
        self.frame_number += 1
