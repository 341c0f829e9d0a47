"""steering: the TMRL actor. For each new context of its robot it picks the frozen policy's inputs,
gets a chunk from the policy server, has the driver execute it, and sends the transition to the
learner; new actor weights from the learner are swapped in between two decisions.

    subscribes  tmrl/context          tmrl_msgs/Context (from perception)
                <image_topic>         sensor_msgs/Image, with an `image_encoder`: the actor observes the
                                      state followed by the embedding of the image taken with it (matched
                                      by stamp; transitions carry it for both ends)
                /tmrl/policy_update   tmrl_msgs/PolicyUpdate (from the learner, transient-local)
                /tmrl/learner_pace    std_msgs/Float64 (from the learner): at 0 this node waits before
                                      its next decision (at most `pace_timeout_s`), so the learner holds
                                      its configured update-to-data ratio
    publishes   tmrl/noise            std_msgs/Float32MultiArray: the action noise w chosen
                tmrl/timestep         std_msgs/Float32: the context timestep t chosen
                tmrl/steering         tmrl_msgs/SteeringCommand: everything chosen
                /tmrl/transitions     tmrl_msgs/Transition (transient-local history for a restarted learner)
    calls       /tmrl/sample_chunk    tmrl_msgs/action/SampleChunk (policy_server), unless
                                      `sample_in_process` loads the same sampler into this process
                execute_chunk         tmrl_msgs/action/ExecuteChunk (the driver)

`sample_in_process` is the composed form of the graph: the policy server's `PolicyService`, the
same checks and the same ONNX sampler, runs inside steering, which saves one action round trip
(two service calls over DDS) per decision. The policy server keeps serving everyone else.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Float32, Float32MultiArray, Float64

from tmrl_learning.system.image_features import ImageFeatures
from tmrl_learning.system.images import image_array
from tmrl_learning.system.policy_service import PolicyService, RequestError
from tmrl_learning.system.steering import Steerer, context_timesteps
from tmrl_msgs.action import ExecuteChunk, SampleChunk
from tmrl_msgs.msg import ActionChunk, Context, PolicyUpdate, SteeringCommand, Transition
from tmrl_ros import qos
from tmrl_ros.agent_params import declare_agent
from tmrl_ros.convert import chunk_message, chunk_request, floats, guidance, seconds, vector
from tmrl_ros.node_main import StartupError, run
from tmrl_ros.params import declare


def is_newer(ctx: Context | None, acted: tuple[int, int] | None) -> bool:
    """Whether `ctx` is a decision point after the one last acted on: a later step of the same
    episode, a later episode, or the start of any other one (a restarted driver counts from 0)."""
    if ctx is None or acted is None:
        return ctx is not None
    episode, step = acted
    if ctx.episode_id == episode:
        return ctx.step > step
    return ctx.episode_id > episode or ctx.step == 0


class SteeringNode(Node):
    def __init__(self) -> None:
        super().__init__("steering")
        self.cfg, self.task, agent, encoder = declare_agent(self)
        self.source = declare(self, "source", "sim0", "the robot/sim this node steers (its contexts' source)")
        self.execute = declare(self, "execute", 5, "actions executed per chunk (0: the whole chunk)", low=0,
                               high=10_000)
        deterministic = declare(self, "deterministic", False, "act with the actor's mean (evaluation)")
        history = declare(self, "transition_history", 10_000, "transitions kept for a learner that "
                          "(re)joins late", low=1, high=10**7)
        self.timeout = declare(self, "server_timeout_s", 10.0, "how long to wait for the policy server and the "
                               "driver", low=0.1, high=3600.0)
        in_process = declare(self, "sample_in_process", False, "sample chunks in this process (the policy "
                             "server's sampler, composed) instead of calling /tmrl/sample_chunk")
        backend = declare(self, "sampler_backend", "onnx", "in-process sampler: 'onnx' or 'torch'")
        self.pace_timeout = declare(self, "pace_timeout_s", 5.0, "longest wait for a learner that is behind its "
                                    "update schedule (then act anyway)", low=0.0, high=3600.0)
        self.features = self.subscribe_camera(encoder)
        self.local_policy = None
        if in_process and "action" not in agent.cfg.heads:  # (declare_agent has checked the checkpoint)
            self.local_policy = PolicyService.from_checkpoint(self.cfg.checkpoint, threads=1, backend=backend)
        self.steerer = Steerer(agent, context_timesteps(self.cfg, self.task), seed=self.cfg.seed,
                               deterministic=deterministic)
        self.pace = (float("inf"), 0.0)  # (the learner's allowance, when it came)
        self.paced = 0
        self.lock = threading.Lock()
        self.context_ready = threading.Condition()
        self.latest: Context | None = None
        self.create_subscription(Context, "tmrl/context", self.on_context, qos.DECISION)
        self.create_subscription(PolicyUpdate, "/tmrl/policy_update", self.on_update, qos.POLICY_UPDATE)
        self.create_subscription(Float64, "/tmrl/learner_pace", self.on_pace, qos.POLICY_UPDATE)
        self.noise_pub = self.create_publisher(Float32MultiArray, "tmrl/noise", qos.COMMAND)
        self.timestep_pub = self.create_publisher(Float32, "tmrl/timestep", qos.COMMAND)
        self.command_pub = self.create_publisher(SteeringCommand, "tmrl/steering", qos.COMMAND)
        self.transition_pub = self.create_publisher(Transition, "/tmrl/transitions", qos.transitions(history))
        self.sampler = ActionClient(self, SampleChunk, "/tmrl/sample_chunk")
        self.driver = ActionClient(self, ExecuteChunk, "execute_chunk")
        self.active_goal = None
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    # ---- inputs --------------------------------------------------------------------------------------
    def subscribe_camera(self, encoder) -> ImageFeatures | None:
        default = f"{self.task.cameras[0]}/image_raw" if self.task.cameras else ""
        topic = declare(self, "image_topic", default, "the camera the actor sees (with image_encoder; default: "
                        "the task's simulated camera)")
        slop = declare(self, "image_slop_s", 0.05, "largest stamp difference between an observation and its "
                       "image", low=0.0, high=10.0)
        if encoder is None:
            return None
        if not topic:
            raise StartupError("image_encoder is set but no image_topic: which camera does the actor see?")
        self.image_ready = threading.Condition()
        # a simulator's images are decision data (reliable, kept for a late subscriber); a camera's are a stream
        profile = qos.DECISION if self.task.cameras else qos.SENSOR
        self.create_subscription(Image, topic, self.on_image, profile)
        self.get_logger().info(f"the actor sees {topic} through {encoder.source} ({encoder.features} features)")
        return ImageFeatures(encoder, slop)

    def on_image(self, msg: Image) -> None:
        try:
            image = image_array(msg.height, msg.width, msg.encoding, msg.step, bytes(msg.data), bool(msg.is_bigendian))
        except ValueError as err:
            self.get_logger().error(f"dropped an image: {err}", throttle_duration_sec=2.0)
            return
        with self.image_ready:
            self.features.add(seconds(msg.header.stamp), image)
            self.image_ready.notify_all()

    def observe(self, values, stamp) -> np.ndarray | None:
        """The actor's observation: the state, and the camera's embedding where it sees one (None when the
        image taken with it does not come within server_timeout_s, or cannot be encoded)."""
        if self.features is None:
            return vector(values)
        taken = seconds(stamp)
        try:
            with self.image_ready:
                found = self.image_ready.wait_for(lambda: self.features.at(taken) is not None, timeout=self.timeout)
                return self.features.observation(vector(values), taken) if found else None
        except ValueError as err:
            self.get_logger().error(f"image embedding failed: {err}", throttle_duration_sec=2.0)
            return None

    def on_context(self, msg: Context) -> None:
        if msg.source != self.source:
            return
        with self.context_ready:
            self.latest = msg
            self.context_ready.notify_all()

    def on_pace(self, msg: Float64) -> None:
        self.pace = (msg.data, time.monotonic())

    def wait_for_learner(self) -> None:
        """Hold the next decision while the learner owes more updates than its schedule allows; a
        learner silent for pace_timeout_s (dead, or compiling) does not hold the robot forever."""
        waited = False
        while not self.stopping.is_set() and self.pace[0] <= 0 and time.monotonic() - self.pace[1] < self.pace_timeout:
            waited = True
            self.stopping.wait(0.005)
        self.paced += waited

    def on_update(self, msg: PolicyUpdate) -> None:
        if msg.format != "torch-state-dict":
            self.get_logger().error(f"ignored policy update {msg.version}: format {msg.format!r} is not supported")
            return
        try:
            with self.lock:
                swapped = self.steerer.load_weights(int(msg.version), bytes(msg.weights), msg.sha256)
        except ValueError as err:
            self.get_logger().error(str(err))
            return
        if swapped:
            self.get_logger().info(f"actor weights version {msg.version}", throttle_duration_sec=10.0)

    # ---- the control loop --------------------------------------------------------------------------
    def next_context(self, acted: tuple[int, int] | None) -> Context | None:
        with self.context_ready:
            if not self.context_ready.wait_for(lambda: is_newer(self.latest, acted), timeout=0.5):
                return None
            return self.latest

    def call(self, client: ActionClient, goal, what: str):
        """Send a goal and wait for its result; None (logged) when it does not come in time."""
        if not client.wait_for_server(timeout_sec=self.timeout):
            self.get_logger().warning(f"{what}: no server", throttle_duration_sec=5.0)
            return None
        done = threading.Event()
        future = client.send_goal_async(goal)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout) or not future.result().accepted:
            self.get_logger().warning(f"{what}: goal not accepted in time", throttle_duration_sec=5.0)
            return None
        handle, done = future.result(), threading.Event()
        self.active_goal = handle
        result = handle.get_result_async()
        result.add_done_callback(lambda _: done.set())
        finished = done.wait(self.timeout)
        self.active_goal = None
        if not finished:
            self.get_logger().warning(f"{what}: no result in time", throttle_duration_sec=5.0)
            return None
        return result.result().result

    def loop(self) -> None:
        acted = None
        while rclpy.ok() and not self.stopping.is_set():
            ctx = self.next_context(acted)
            if ctx is None:
                continue
            self.wait_for_learner()
            observation = self.observe(ctx.observation, ctx.header.stamp)
            if observation is None:
                self.get_logger().error(f"no camera image for {ctx.episode_id}/{ctx.step}: cannot act on it")
                acted = (ctx.episode_id, ctx.step)
                continue
            try:
                with self.lock:
                    y, inputs = self.steerer.act(observation)
            except ValueError as err:
                self.get_logger().error(f"cannot act on {ctx.episode_id}/{ctx.step}: {err}")
                acted = (ctx.episode_id, ctx.step)
                continue
            command = self.publish_command(inputs)
            chunk = self.make_chunk(ctx, command, inputs)
            if chunk is None:
                self.stopping.wait(0.5)
                continue
            goal = ExecuteChunk.Goal(chunk=chunk, steps=self.execute, episode_id=ctx.episode_id, step=ctx.step)
            outcome = self.call(self.driver, goal, "execute_chunk")
            acted = (ctx.episode_id, ctx.step)
            if outcome is None or not outcome.accepted:
                if outcome is not None:
                    self.get_logger().warning(f"driver refused the chunk: {outcome.message}", throttle_duration_sec=5.0)
                continue
            self.publish_transition(ctx, observation, y, chunk, outcome)
            if outcome.terminated or outcome.truncated:  # the driver's final observation is no decision point
                acted = (ctx.episode_id, ctx.step + 1)

    def publish_command(self, inputs: dict) -> SteeringCommand:
        command = SteeringCommand(context_timestep=int(inputs.get("timestep", 0)),
                                  num_context_timesteps=self.steerer.num_context_timesteps,
                                  guidance_weight=guidance(inputs))
        command.header.stamp = self.get_clock().now().to_msg()
        command.action_noise = floats(inputs.get("noise", np.zeros(0)))
        command.context_noise = floats(inputs.get("context_noise", np.zeros(0)))
        self.noise_pub.publish(Float32MultiArray(data=command.action_noise))
        self.timestep_pub.publish(Float32(data=float(command.context_timestep)))
        self.command_pub.publish(command)
        return command

    def make_chunk(self, ctx: Context, command: SteeringCommand, inputs: dict) -> ActionChunk | None:
        if "action" in inputs:  # rlpd acts in action space: a one-action chunk, no policy
            return chunk_message(np.asarray(inputs["action"])[None], 0, self.steerer.version,
                                 self.get_clock().now().to_msg())
        if self.local_policy is not None:
            try:
                chunk, _ = self.local_policy.sample(chunk_request(ctx, command))
            except RequestError as err:
                self.get_logger().error(f"cannot sample for {ctx.episode_id}/{ctx.step}: {err}",
                                        throttle_duration_sec=5.0)
                return None
            return chunk_message(chunk, command.context_timestep, self.local_policy.version,
                                 self.get_clock().now().to_msg())
        result = self.call(self.sampler, SampleChunk.Goal(context=ctx, steering=command), "sample_chunk")
        if result is None:
            return None
        if not result.accepted:
            self.get_logger().error(f"policy server refused: {result.message}", throttle_duration_sec=5.0)
            return None
        return result.chunk

    def publish_transition(self, ctx: Context, observation: np.ndarray, y: np.ndarray, chunk: ActionChunk,
                           outcome) -> None:
        following = self.observe(outcome.context.observation, outcome.context.header.stamp)
        if following is None:
            self.get_logger().error(f"transition {ctx.episode_id}/{ctx.step} dropped: no camera image after it")
            return
        msg = Transition(source=self.source, episode_id=ctx.episode_id, step=ctx.step, chunk=chunk,
                         executed_steps=outcome.executed_steps, reward=outcome.reward,
                         terminated=outcome.terminated, truncated=outcome.truncated, success=outcome.success)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.observation, msg.steering_action = floats(observation), floats(y)
        msg.step_observations, msg.next_observation = outcome.observations, floats(following)
        msg.executed_actions, msg.intervened_steps = outcome.executed_actions, outcome.intervened_steps
        self.transition_pub.publish(msg)
        self.sent += 1

    def close(self) -> None:
        """Stop deciding and cancel a chunk still executing, so the robot stops with us."""
        self.stopping.set()
        handle = self.active_goal
        if handle is not None:
            handle.cancel_goal_async()
        self.thread.join(timeout=2.0)


def main(args: list[str] | None = None) -> None:
    run(SteeringNode, args)
