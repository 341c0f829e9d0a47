"""The RealSense camera and its node against an SDK software device: synthetic frames through the same
sensor calls as a USB camera, then as ROS images with the device's stamps and intrinsics."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import CameraInfo, Image

from tmrl_learning.robots.realsense import CameraLost, RealSenseCamera
from tmrl_learning.robots.realsense_synthetic import SyntheticRealSense
from tmrl_learning.system.images import image_array

from ros_helpers import spin_until

pytestmark = pytest.mark.ros
W, H = 64, 48


class Feeder:
    """Pushes frames at 30 Hz while `on`: frame k has color value k % 200 and depth 500 + k."""

    def __init__(self, camera: SyntheticRealSense):
        self.camera, self.on, self.k, self.stop = camera, True, 0, threading.Event()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while not self.stop.wait(1 / 30):
            if self.on:
                self.camera.push(np.full((H, W, 3), self.k % 200, np.uint8), np.full((H, W), 500 + self.k, np.uint16),
                                 1.7e12 + 33.0 * self.k)
                self.k += 1


def test_the_camera_reads_matched_frames_and_reports_a_lost_device():
    synthetic = SyntheticRealSense("0123", W, H)
    camera = RealSenseCamera("0123", W, H, 30, device=synthetic.device)
    camera.start()
    feeder = Feeder(synthetic)
    try:
        for _ in range(3):
            frames = camera.read(1000)
            color, depth = frames["color"], frames["depth"]
            assert color.frame_number == depth.frame_number and color.timestamp_ms == depth.timestamp_ms
            assert color.image.shape == (H, W, 3) and int(depth.image[0, 0]) == 500 + depth.frame_number
            assert int(color.image[0, 0, 0]) == color.frame_number % 200 and color.domain == "global_time"
        assert color.intrinsics.k == [60.0, 0.0, 32.0, 0.0, 61.0, 24.0, 0.0, 0.0, 1.0]
        assert camera.depth_scale == pytest.approx(0.001)
        feeder.on = False
        time.sleep(0.1)
        with pytest.raises(CameraLost, match="no \\['color', 'depth'\\] frames within 300 ms"):
            camera.read(300)
        with pytest.raises(ValueError, match="no color rgb8 32x24@30"):
            RealSenseCamera("0123", 32, 24, 30, device=synthetic.device).start()
    finally:
        feeder.stop.set()
        camera.stop()
    with pytest.raises(CameraLost, match="no RealSense"):  # no USB camera on this machine
        RealSenseCamera("987654").start()


def test_the_node_publishes_stamped_images_and_reopens_a_lost_camera():
    from tmrl_ros.realsense_node import RealSenseNode

    context = rclpy.Context()
    rclpy.init(context=context)
    synthetic = SyntheticRealSense("0123", W, H)
    camera = RealSenseCamera("0123", W, H, 30, device=synthetic.device)
    starts, start = [], camera.start
    camera.start = lambda: (starts.append(time.monotonic()), start())[1]
    feeder = Feeder(synthetic)
    params = [rclpy.parameter.Parameter("timeout_ms", value=300), rclpy.parameter.Parameter("retry_s", value=0.1)]
    node = RealSenseNode(camera, context=context, parameter_overrides=params)
    listener = rclpy.create_node("listener", context=context)
    got: dict[str, list] = {"color": [], "depth": [], "info": []}
    listener.create_subscription(Image, "/color/image_raw", got["color"].append, 10)
    listener.create_subscription(Image, "/depth/image_rect_raw", got["depth"].append, 10)
    listener.create_subscription(CameraInfo, "/color/camera_info", got["info"].append, 10)
    try:
        assert spin_until(listener, lambda: len(got["depth"]) >= 5 and got["info"], 15.0)
        color, depth, info = got["color"][-1], got["depth"][-1], got["info"][-1]
        assert (color.encoding, depth.encoding) == ("rgb8", "16UC1")
        pixels = image_array(color.height, color.width, color.encoding, color.step, bytes(color.data))
        k = round((color.header.stamp.sec * 1e3 + color.header.stamp.nanosec / 1e6 - 1.7e12) / 33.0)  # device time
        assert int(pixels[0, 0, 0]) == k % 200
        assert list(info.k) == [60.0, 0.0, 32.0, 0.0, 61.0, 24.0, 0.0, 0.0, 1.0]
        feeder.on = False  # unplugged
        spin_until(listener, lambda: False, 1.0)
        before = len(got["color"])
        feeder.on = True   # back
        back = spin_until(listener, lambda: len(got["color"]) >= before + 5, 15.0)
        assert back, "no frames after the camera came back"
        assert len(starts) >= 2, "the lost camera was not opened again"
    finally:
        feeder.stop.set()
        node.close()
        node.destroy_node()
        listener.destroy_node()
        rclpy.shutdown(context=context)
