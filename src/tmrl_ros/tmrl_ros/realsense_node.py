"""realsense: one RealSense camera (tmrl_learning.robots.realsense) as ROS images, with the device's
timestamps, for the perception node (its `image_topics`). Topic names follow realsense-ros.

    publishes  color/image_raw        sensor_msgs/Image rgb8
               color/camera_info      sensor_msgs/CameraInfo (the device's intrinsics)
               depth/image_rect_raw   sensor_msgs/Image 16UC1 (depth units: the `depth_scale` parameter
               depth/camera_info      is read from the device; 1 mm on a D400)

Stamps: the frame's own timestamp when the device keeps global or system time (D400 with global time
on), else the time of arrival. An absent or unplugged camera is reported once with what was tried and
opened again every `retry_s`; the node keeps running.
"""

from __future__ import annotations

import threading

from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from tmrl_learning.robots.realsense import CameraLost, RealSenseCamera, StreamFrame
from tmrl_ros.node_main import run
from tmrl_ros.params import declare

ENCODINGS = {"color": ("rgb8", 3), "depth": ("16UC1", 2)}


class RealSenseNode(Node):
    def __init__(self, camera: RealSenseCamera | None = None, **node_kwargs) -> None:
        super().__init__("camera", **node_kwargs)
        serial = declare(self, "serial", "", "the camera's serial number ('' = the only one connected)")
        width = declare(self, "width", 640, "image width", low=1, high=4096)
        height = declare(self, "height", 480, "image height", low=1, high=4096)
        fps = declare(self, "fps", 30, "frames per second", low=1, high=300)
        depth = declare(self, "depth", True, "publish depth as well as color")
        self.frame_id = declare(self, "frame_id", "camera_color_optical_frame", "header.frame_id of every message")
        self.timeout_ms = declare(self, "timeout_ms", 1000, "no frames this long: the camera is lost", low=10,
                                  high=60_000)
        self.retry_s = declare(self, "retry_s", 1.0, "wait between attempts to open the camera", low=0.01, high=60.0)
        self.camera = camera or RealSenseCamera(serial, width, height, fps, depth)
        self.publishers_ = {kind: (self.create_publisher(Image, f"{kind}/{topic}", 10),
                                   self.create_publisher(CameraInfo, f"{kind}/camera_info", 10))
                            for kind, topic in (("color", "image_raw"), ("depth", "image_rect_raw"))}
        self.published = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="realsense", daemon=True)
        self.thread.start()

    def loop(self) -> None:
        started, reported = False, ""
        while not self.stopping.is_set():
            if not started:
                try:
                    self.camera.start()
                except (CameraLost, ValueError, RuntimeError) as err:
                    if str(err) != reported:  # once per distinct reason, not every retry
                        self.get_logger().error(f"cannot open the camera: {err}; retrying every {self.retry_s} s")
                        reported = str(err)
                    self.stopping.wait(self.retry_s)
                    continue
                started, reported = True, ""
                self.get_logger().info(f"RealSense {self.camera.serial or '(the only one)'} streaming")
            try:
                frames = self.camera.read(self.timeout_ms)
            except CameraLost as err:
                self.get_logger().error(f"lost the camera ({err}); opening it again")
                self.camera.stop()
                started = False
                continue
            for kind, frame in frames.items():
                self.publish(kind, frame)
            self.published += 1

    def publish(self, kind: str, frame: StreamFrame) -> None:
        encoding, size = ENCODINGS[kind]
        if frame.domain in ("global_time", "system_time"):
            stamp = Time(nanoseconds=int(frame.timestamp_ms * 1e6)).to_msg()
        else:
            stamp = self.get_clock().now().to_msg()
        height, width = frame.image.shape[:2]
        image = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                      step=width * size, data=frame.image.tobytes())
        i = frame.intrinsics
        info = CameraInfo(height=height, width=width, distortion_model="plumb_bob" if i.model == "brown_conrady"
                          else i.model, d=list(i.coeffs), k=i.k, r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
                          p=[i.fx, 0.0, i.ppx, 0.0, 0.0, i.fy, i.ppy, 0.0, 0.0, 0.0, 1.0, 0.0])
        for msg in (image, info):
            msg.header.stamp, msg.header.frame_id = stamp, self.frame_id
        image_pub, info_pub = self.publishers_[kind]
        image_pub.publish(image)
        info_pub.publish(info)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5.0)
        self.camera.stop()


def main(args: list[str] | None = None) -> None:
    run(RealSenseNode, args)
