"""perception with robot sensors: the driver's decision point, a joint state and a point cloud close
in time make one context; sensors too far apart in time or malformed make none, with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, JointState, PointCloud2, PointField
from std_msgs.msg import Header

from tmrl_msgs.msg import Context
from tmrl_ros import qos
from tmrl_ros.graph import NodeSpec
from tmrl_ros.processes import GraphProcesses

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros]


def stamp(t: float) -> Time:
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


def cloud(t: float, points: np.ndarray, fields=("x", "y", "z")) -> PointCloud2:
    msg = PointCloud2(height=1, width=len(points), point_step=12, row_step=12 * len(points), is_dense=True)
    msg.header.stamp = stamp(t)
    msg.fields = [PointField(name=n, offset=4 * k, datatype=PointField.FLOAT32, count=1) for k, n in enumerate(fields)]
    msg.data = points.astype("<f4").tobytes()
    return msg


def test_sensors_make_synchronised_contexts_and_bad_ones_are_dropped(node, tmp_path):
    spec = NodeSpec("perception", "perception", parameters={
        "inputs": "sensors", "joint_names": ["shoulder", "elbow"], "cloud_points": 8, "sync_slop_s": 0.02})
    contexts: list[Context] = []
    node.create_subscription(Context, "/tmrl/context", contexts.append, qos.DECISION)
    observations = node.create_publisher(Context, "/observation", qos.DECISION)
    joints = node.create_publisher(JointState, "/joint_states", qos.SENSOR)
    points = node.create_publisher(PointCloud2, "/points", qos.SENSOR)
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-1, 1, (100, 3))

    def send(t_obs, t_joints, t_cloud, step, names=("elbow", "shoulder", "wrist"), fields=("x", "y", "z")):
        joints.publish(JointState(header=Header(stamp=stamp(t_joints)), name=list(names),
                                  position=[0.5, -0.25, 9.0][:len(names)]))
        points.publish(cloud(t_cloud, xyz, fields))
        obs = Context(source="arm0", episode_id=3, step=step)
        obs.header.stamp = stamp(t_obs)
        observations.publish(obs)

    with GraphProcesses([spec], tmp_path / "logs") as graph:
        assert spin_until(node, lambda: joints.get_subscription_count() and points.get_subscription_count()
                          and observations.get_subscription_count(), 30.0), graph.logs()
        spin_until(node, lambda: False, 1.0)  # best-effort sensor streams: let discovery settle
        for attempt in range(20):  # the first best-effort messages may be lost to discovery
            send(100.0 + attempt, 100.01 + attempt, 99.995 + attempt, step=0)
            if spin_until(node, lambda: contexts, 0.5):
                break
        assert contexts, graph.logs()
        ctx = contexts[0]
        assert (ctx.source, ctx.episode_id, ctx.step, ctx.context_timestep) == ("arm0", 3, 0, 0)
        assert list(ctx.proprio) == [-0.25, 0.5]  # shoulder, elbow: the parameter's order
        assert len(ctx.context) == 24 and len(ctx.observation) == 26
        picked = np.asarray(ctx.context).reshape(8, 3)
        nearest = np.abs(picked[:, None, :] - xyz[None]).max(-1).min(1)
        assert (nearest < 1e-6).all() and len(np.unique(picked, axis=0)) == 8  # 8 distinct points of the cloud

        count = len(contexts)
        send(200.0, 200.5, 200.0, step=1)  # joint state 0.5 s away: no set
        send(300.0, 300.0, 300.0, step=2, names=("elbow",))  # no shoulder joint
        assert spin_until(node, lambda: "lacks joints ['shoulder']" in graph.log("perception"), 20.0), graph.logs()
        spin_until(node, lambda: False, 2.1)  # past the 2 s throttle of the drop message
        send(400.0, 400.0, 400.0, step=3, fields=("x", "y", "w"))  # no z in the cloud
        assert spin_until(node, lambda: "lacks fields ['z']" in graph.log("perception"), 20.0), graph.logs()
        assert len(contexts) == count
        send(500.0, 500.0, 500.0, step=4)
        assert spin_until(node, lambda: len(contexts) > count, 20.0), graph.logs()
        assert contexts[-1].step == 4 and not graph.dead()


def image(t: float, pixels: np.ndarray, encoding: str = "rgb8") -> Image:
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=pixels.shape[1] * 3)
    msg.header.stamp = stamp(t)
    msg.data = pixels.tobytes()
    return msg


def test_cameras_become_context_features_in_topic_order(node, tmp_path):
    spec = NodeSpec("perception", "perception", parameters={
        "inputs": "sensors", "joint_names": ["shoulder"], "image_topics": ["/cam/front", "/cam/wrist"],
        "image_encoder": "pooled", "image_size": 2, "sync_slop_s": 0.02})
    contexts: list[Context] = []
    node.create_subscription(Context, "/tmrl/context", contexts.append, qos.DECISION)
    observations = node.create_publisher(Context, "/observation", qos.DECISION)
    joints = node.create_publisher(JointState, "/joint_states", qos.SENSOR)
    cameras = [node.create_publisher(Image, topic, qos.SENSOR) for topic in ("/cam/front", "/cam/wrist")]
    front = np.zeros((8, 8, 3), np.uint8)
    front[4:, :4, 2] = 255  # bottom-left quarter blue
    wrist = np.full((6, 6, 3), 51, np.uint8)  # uniform grey 0.2

    def send(t, step, encoding="rgb8"):
        joints.publish(JointState(header=Header(stamp=stamp(t)), name=["shoulder"], position=[0.5]))
        cameras[0].publish(image(t + 0.005, front, encoding))
        cameras[1].publish(image(t - 0.005, wrist))
        obs = Context(source="arm0", episode_id=1, step=step)
        obs.header.stamp = stamp(t)
        observations.publish(obs)

    with GraphProcesses([spec], tmp_path / "logs") as graph:
        assert spin_until(node, lambda: joints.get_subscription_count() and all(
            c.get_subscription_count() for c in cameras) and observations.get_subscription_count(), 30.0), graph.logs()
        spin_until(node, lambda: False, 1.0)
        for attempt in range(20):  # the first best-effort messages may be lost to discovery
            send(100.0 + attempt, step=0)
            if spin_until(node, lambda: contexts, 0.5):
                break
        assert contexts, graph.logs()
        context = np.asarray(contexts[0].context)
        assert context.size == 2 * 12 and list(contexts[0].proprio) == [0.5]
        blue = context[:12].reshape(3, 2, 2)[2]  # the front camera first, channels first
        np.testing.assert_allclose(blue, [[0, 0], [1, 0]], atol=1e-6)
        np.testing.assert_allclose(context[12:], 0.2, atol=1e-6)

        count = len(contexts)
        send(200.0, step=1, encoding="yuv422")
        assert spin_until(node, lambda: "encoding 'yuv422' is not supported" in graph.log("perception"),
                          20.0), graph.logs()
        send(300.0, step=2)
        assert spin_until(node, lambda: len(contexts) > count, 20.0), graph.logs()
        assert contexts[-1].step == 2 and not graph.dead()
