"""perception: a driver's observations (and a robot's sensors) -> the policy's context and proprio.

    subscribes  observation   tmrl_msgs/Context from the driver: a decision point (ids, task, goal,
                              and for simulated tasks the state itself)
                joint_states  sensor_msgs/JointState          (inputs = "sensors")
                points        sensor_msgs/PointCloud2         (inputs = "sensors", cloud_points > 0)
                <image_topics> sensor_msgs/Image, one per camera (inputs = "sensors")
    publishes   tmrl/context  tmrl_msgs/Context with observation, context and proprio filled (clean:
                              timestep 0)

inputs = "driver": the driver's observation is the state of a simulated task (its layout from
`task`). inputs = "vla": the state as with "driver", and the context is a pi0 VLA's prefix
(`vla_policy`, `tokenizer`, the task's instruction unless `instruction` is set) from the camera image
on `image_topics` (default: the task's first camera, `<camera>/image_raw`) taken with the observation
(matched by stamp). inputs = "sensors": each driver observation is matched with the joint state and point
cloud and camera images nearest in time (all within `sync_slop_s`, by header stamps); proprio = the
joints in `joint_names` order, context = `cloud_points` farthest points of the cloud, flattened, then
each camera's features from `image_encoder` ('pooled': the image area-resized to `image_size` squared,
or a TorchScript file's output). Unusable input is dropped with a logged reason.
"""

from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Image, JointState, PointCloud2

from tmrl_learning.system.images import ImageEncoder, image_array
from tmrl_learning.system.perception import Perception
from tmrl_learning.system.sensors import ApproximateSync, CloudField, SensorLayout, cloud_xyz, joint_vector
from tmrl_learning.tasks import embodiment
from tmrl_learning.vla.perception import PrefixPerception
from tmrl_msgs.msg import Context
from tmrl_ros import qos
from tmrl_ros.convert import floats, seconds, vector
from tmrl_ros.node_main import StartupError, run
from tmrl_ros.params import declare


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        task = declare(self, "task", "pointmaze-large-to-giant", "task or robot (tmrl_learning.tasks) whose "
                       "context layout to produce (inputs = driver)")
        self.inputs = declare(self, "inputs", "driver", "'driver' (the observation is the state) or 'sensors'")
        self.publisher = self.create_publisher(Context, "tmrl/context", qos.DECISION)
        self.published = self.dropped = 0
        if self.inputs == "driver":
            self.perception = Perception(embodiment(task))  # an unknown task: run() says so and exits
            self.create_subscription(Context, "observation", self.on_observation, qos.DECISION)
            return
        if self.inputs == "vla":
            self.start_vla(embodiment(task))
            return
        if self.inputs != "sensors":
            raise StartupError(f"parameter 'inputs' is {self.inputs!r}; expected 'driver', 'vla' or 'sensors'")
        joints = declare(self, "joint_names", [], "joints whose positions make the proprio, in this order")
        points = declare(self, "cloud_points", 0, "points kept from each cloud (farthest-point sampling; 0: no "
                         "cloud)", low=0, high=100_000)
        slop = declare(self, "sync_slop_s", 0.05, "largest time difference within one synchronised set",
                       low=0.0, high=10.0)
        self.image_topics = list(declare(self, "image_topics", [], "camera image topics, in context order"))
        encoder = declare(self, "image_encoder", "pooled", "'pooled' or the path of a TorchScript image encoder")
        size = declare(self, "image_size", 16, "side the images are resized to before encoding", low=1, high=4096)
        channels = declare(self, "image_channels", 3, "channels per camera (3: colour, 1: depth)", low=1, high=3)
        if not joints:
            raise StartupError("inputs = sensors needs the parameter 'joint_names'")
        try:
            cameras = [ImageEncoder(encoder, size, channels)] * len(self.image_topics) if self.image_topics else []
        except (OSError, ValueError) as err:
            raise StartupError(str(err)) from err
        self.layout = SensorLayout(list(joints), points, cameras)
        streams = ["observation", "joint_states"] + (["points"] if points else []) + \
            [f"image:{topic}" for topic in self.image_topics]  # prefixed: a topic may be called 'points'
        self.sync = ApproximateSync(streams, slop)
        self.create_subscription(Context, "observation", lambda m: self.on_sensor("observation", m), qos.DECISION)
        self.create_subscription(JointState, "joint_states", lambda m: self.on_sensor("joint_states", m),
                                 qos.SENSOR)
        if points:
            self.create_subscription(PointCloud2, "points", lambda m: self.on_sensor("points", m), qos.SENSOR)
        for topic in self.image_topics:
            self.create_subscription(Image, topic, lambda m, t=topic: self.on_sensor(f"image:{t}", m), qos.SENSOR)
        self.get_logger().info(f"context: {points} cloud points, {len(cameras)} cameras ({encoder}); "
                               f"{self.layout.context_dim} values")

    def start_vla(self, spec) -> None:
        policy = declare(self, "vla_policy", "", "the pi0 folder whose prefix is the context")
        tokenizer = declare(self, "tokenizer", "", "its tokenizer folder")
        instruction = declare(self, "instruction", "", "the instruction ('': the task's own)")
        topics = declare(self, "image_topics", [f"{c}/image_raw" for c in spec.cameras[:1]],
                         "the camera image topic (one)")
        slop = declare(self, "sync_slop_s", 0.05, "largest time difference within one synchronised set",
                       low=0.0, high=10.0)
        if not policy or not tokenizer:
            raise StartupError("inputs = vla needs the parameters 'vla_policy' and 'tokenizer' (folders)")
        try:
            self.prefix = PrefixPerception(spec, policy, tokenizer, instruction)
        except (OSError, ValueError) as err:
            raise StartupError(str(err)) from err
        self.image_topics = list(topics)
        self.sync = ApproximateSync(["observation"] + [f"image:{t}" for t in self.image_topics], slop)
        self.create_subscription(Context, "observation", lambda m: self.on_vla("observation", m), qos.DECISION)
        # a simulator's images are decision data (reliable, kept for a late subscriber); a camera's are a stream
        profile = qos.DECISION if spec.cameras else qos.SENSOR
        for topic in self.image_topics:
            self.create_subscription(Image, topic, lambda m, t=topic: self.on_vla(f"image:{t}", m), profile)
        self.get_logger().info(f"context: the prefix of {policy} ({self.prefix.context_dim} values) from "
                               f"{self.image_topics} and {self.prefix.instruction!r}")

    def on_vla(self, stream: str, msg) -> None:
        matched = self.sync.add(stream, seconds(msg.header.stamp), msg)
        if matched is None:
            return
        driver = matched["observation"][1]
        try:
            images = [image_array(m.height, m.width, m.encoding, m.step, bytes(m.data), bool(m.is_bigendian))
                      for m in (matched[f"image:{t}"][1] for t in self.image_topics)]
            obs, context, proprio = self.prefix(vector(driver.observation), images)
        except ValueError as err:
            self.drop(f"observation {driver.source}/{driver.episode_id}/{driver.step}", err)
            return
        self.publish(driver, obs, context, proprio)

    def drop(self, what: str, err: Exception) -> None:
        self.dropped += 1
        self.get_logger().error(f"dropped {what}: {err}", throttle_duration_sec=2.0)

    def on_observation(self, msg: Context) -> None:
        try:
            obs, context, proprio = self.perception(vector(msg.observation))
        except ValueError as err:
            self.drop(f"observation {msg.source}/{msg.episode_id}/{msg.step}", err)
            return
        self.publish(msg, obs, context, proprio)

    def on_sensor(self, stream: str, msg) -> None:
        matched = self.sync.add(stream, seconds(msg.header.stamp), msg)
        if matched is None:
            return
        driver = matched["observation"][1]
        try:
            joint_msg = matched["joint_states"][1]
            joints = joint_vector(joint_msg.name, joint_msg.position, self.layout.joints)
            cloud = None
            if "points" in matched:
                c = matched["points"][1]
                fields = [CloudField(f.name, f.offset, f.datatype) for f in c.fields]
                cloud = cloud_xyz(bytes(c.data), fields, c.point_step, c.width * c.height, c.is_bigendian)
            images = [image_array(m.height, m.width, m.encoding, m.step, bytes(m.data), bool(m.is_bigendian))
                      for m in (matched[f"image:{t}"][1] for t in self.image_topics)]
            obs, context, proprio = self.layout.inputs(joints, cloud, images)
        except (ValueError, KeyError) as err:
            self.drop(f"sensors for {driver.source}/{driver.episode_id}/{driver.step}", err)
            return
        self.publish(driver, obs, context, proprio)

    def publish(self, msg: Context, obs, context, proprio) -> None:
        msg.observation, msg.context, msg.proprio = floats(obs), floats(context), floats(proprio)
        msg.context_timestep = 0
        self.publisher.publish(msg)
        self.published += 1


def main(args: list[str] | None = None) -> None:
    run(PerceptionNode, args)
