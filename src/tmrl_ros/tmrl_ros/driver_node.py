"""driver: any Driver (tmrl_learning.system.driver) behind ROS: a simulated task (the graph names
it `sim_bridge`) or a robot, whichever the `task` embodiment's driver is. A robot driver reuses this
node; it only implements the device.

    publishes  observation    tmrl_msgs/Context (raw: observation, task, goal, ids; stamped with the
                              observation's acquisition time) after every reset and every executed chunk
               <camera>/image_raw  sensor_msgs/Image (rgb8), for each camera the embodiment's simulator
                              renders (`cameras`): taken with the observation, published just before it
                              with the same stamp and the observation's QoS (decision data)
               safety         std_msgs/String, JSON: actions passed, clipped and refused by the safety
                              step (and why), after every chunk that had one clipped or refused
    action     execute_chunk  tmrl_msgs/action/ExecuteChunk: run the first `steps` actions of a chunk;
                              one feedback per action (parameter `feedback`); with executor_threads > 1
                              a cancel stops it after the current action
    service    reset          tmrl_msgs/srv/Reset: start a new episode (fails with the reason while the
                              robot is unreachable or the emergency stop is engaged; reward_reset retries)
    subscribes /tmrl/episode  tmrl_msgs/EpisodeEvent: LABELED events for this source (a human's
                              verdict, e.g. from keyboard_labels) end the running episode
               /tmrl/estop    std_msgs/Bool: true halts every robot of the graph at once and refuses chunks
                              and resets until false
               intervention   std_msgs/Float32MultiArray: a human's action (e.g. from the intervention node),
                              replacing the chunk's while it keeps coming; an empty one releases it

A robot's driver gets `address` and `device_options` (a JSON object of its own options, e.g. the
Franka's {"realtime": false} for a simulator peer); `safety.*` sets the safety step (max_step,
workspace box, watchdog deadline), the action bounds come from the embodiment.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32MultiArray, String

from tmrl_learning.system.driver import make_driver
from tmrl_learning.system.safety import SafetyLimits
from tmrl_learning.tasks import embodiment
from tmrl_msgs.action import ExecuteChunk
from tmrl_msgs.msg import Context, EpisodeEvent
from tmrl_msgs.srv import Reset
from tmrl_ros import qos
from tmrl_ros.convert import floats, image_message, observation_message, vector
from tmrl_ros.node_main import run
from tmrl_ros.params import declare, declare_dataclass, declare_result_keep


class DriverNode(Node):
    def __init__(self) -> None:
        super().__init__("driver")
        task = declare(self, "task", "pointmaze-large-to-giant", "task or robot (tmrl_learning.tasks)")
        seed = declare(self, "seed", 0, "seed of the simulator's task draws", low=0, high=2**31 - 1)
        self.source = declare(self, "source", "sim0", "name of this robot/sim in transitions and events")
        self.control_period = declare(self, "control_period_s", 0.0, "wall time per action (0: as fast as "
                                      "possible; a real robot's control period otherwise)", low=0.0, high=10.0)
        self.feedback = declare(self, "feedback", True, "publish ExecuteChunk feedback after every action (off: "
                                "less traffic when nobody watches a simulated chunk)")
        threads = declare(self, "executor_threads", 0, "executor threads: 1 runs a chunk to its end before a cancel "
                          "is seen (simulated chunks take milliseconds); more let a cancel stop it between actions; "
                          "0: 1 without a control period, 4 with one", low=0, high=64)
        self.executor_threads = threads or (4 if self.control_period else 1)
        keep = declare_result_keep(self)
        address = declare(self, "address", "", "the robot's address (IP or hostname); '' for a simulator")
        options = declare(self, "device_options", "", "JSON object: the robot driver's device options ('' = none)")
        spec = embodiment(task)
        safety = declare_dataclass(self, "safety", SafetyLimits(*spec.action_bounds), skip=("low", "high"))
        device = dict(address=address) if address else {}
        try:
            device.update(json.loads(options) if options else {})
        except json.JSONDecodeError as err:
            raise ValueError(f"device_options is not a JSON object: {err}") from err
        self.driver = make_driver(spec, seed, control_period_s=self.control_period, safety=safety, **device)
        self.lock = threading.Lock()
        self.safety_pub = self.create_publisher(String, "safety", qos.COMMAND)
        group = ReentrantCallbackGroup()
        self.publisher = self.create_publisher(Context, "observation", qos.DECISION)
        self.image_pubs = {camera: self.create_publisher(Image, f"{camera}/image_raw", qos.DECISION)
                           for camera in spec.cameras}
        self.create_service(Reset, "reset", self.on_reset, callback_group=group)
        self.server = ActionServer(self, ExecuteChunk, "execute_chunk", self.on_execute, callback_group=group,
                                   cancel_callback=lambda _: CancelResponse.ACCEPT, result_timeout=keep)
        self.create_subscription(EpisodeEvent, "/tmrl/episode", self.on_episode_event, qos.EVENTS,
                                 callback_group=group)
        self.create_subscription(Bool, "/tmrl/estop", self.on_estop, qos.EVENTS, callback_group=group)
        self.create_subscription(Float32MultiArray, "intervention", self.on_intervention, 10, callback_group=group)
        self.reported = dataclasses.replace(self.driver.safety.counters)
        self.create_timer(0.5, self.report_safety, callback_group=group)  # watchdog stops happen between chunks
        self.executed_actions = 0
        self.get_logger().info(f"driver for {task} ({self.source}) ready")

    def on_episode_event(self, msg: EpisodeEvent) -> None:
        if msg.event != EpisodeEvent.LABELED or msg.source != self.source:
            return
        verdict = "success" if msg.success else "failure"
        if self.driver.label(int(msg.episode_id), msg.success):  # no lock: it only sets a flag
            self.get_logger().info(f"episode {msg.episode_id} labelled {verdict} ({msg.reason or 'no reason'})")
        else:
            self.get_logger().warning(f"ignored a {verdict} label for episode {msg.episode_id}: the driver is at "
                                      f"episode {self.driver.episode_id}", throttle_duration_sec=2.0)

    def on_intervention(self, msg: Float32MultiArray) -> None:
        """No lock: it must reach a running chunk. A malformed one is refused with a warning."""
        try:
            self.driver.intervene(vector(msg.data) if len(msg.data) else None)
        except ValueError as err:
            self.get_logger().warning(f"intervention refused: {err}", throttle_duration_sec=2.0)

    def on_estop(self, msg: Bool) -> None:
        """No lock: it must act while a chunk runs (the driver halts the device and the chunk stops)."""
        if bool(msg.data) == self.driver.emergency:
            return
        self.driver.emergency_stop(bool(msg.data))
        if msg.data:
            self.get_logger().error("EMERGENCY STOP engaged: the device is halted; chunks and resets are refused")
        else:
            self.get_logger().warning("emergency stop released")
        self.report_safety()

    def publish_observation(self):
        obs = self.driver.observation()
        stamp = Time(seconds=obs.stamp).to_msg()
        for camera, publisher in self.image_pubs.items():  # first: perception matches them by stamp
            publisher.publish(image_message(obs.images[camera], stamp, camera))
        msg = observation_message(obs, self.source, stamp)
        self.publisher.publish(msg)
        return msg

    def on_reset(self, request: Reset.Request, response: Reset.Response) -> Reset.Response:
        if request.task and request.task != self.driver.embodiment.name:
            response.success, response.message = False, (f"this driver runs {self.driver.embodiment.name}, "
                                                         f"not {request.task}")
            self.get_logger().warning(f"reset refused: {response.message}")
            return response
        started = time.monotonic()
        with self.lock:
            try:
                self.driver.reset(int(request.seed))
            except Exception as err:  # unreachable robot, emergency stop, a device error: say it, stay up
                response.success, response.message = False, f"{type(err).__name__}: {err}"
                self.get_logger().error(f"reset failed: {response.message}", throttle_duration_sec=5.0)
                return response
            response.context = self.publish_observation()
        response.success = True
        self.get_logger().debug(f"reset in {time.monotonic() - started:.2f} s")
        return response

    def on_execute(self, goal_handle) -> ExecuteChunk.Result:
        goal, result = goal_handle.request, ExecuteChunk.Result()
        with self.lock:
            try:
                chunk = self.driver.check_chunk(vector(goal.chunk.data), goal.chunk.horizon, goal.chunk.action_dim,
                                                goal.steps)
                self.driver.check_decision_point(goal.episode_id, goal.step)
            except ValueError as err:
                self.get_logger().warning(f"chunk refused: {err}", throttle_duration_sec=2.0)
                result.accepted, result.message = False, str(err)
                goal_handle.abort()
                return result

            def on_step(k: int, reward: float, success: bool) -> None:
                if self.feedback:
                    goal_handle.publish_feedback(ExecuteChunk.Feedback(step=k, reward=reward, success=success))
                self.executed_actions += 1

            outcome = self.driver.execute(chunk, goal.steps, should_stop=lambda: goal_handle.is_cancel_requested,
                                          on_step=on_step)
            result.context = self.publish_observation()
            if outcome.refused:
                self.get_logger().error(f"chunk stopped, episode {self.driver.episode_id} ended: {outcome.refused}")
            self.report_safety()
        result.accepted = True
        result.executed_steps, result.reward = outcome.executed, outcome.reward
        result.terminated, result.truncated, result.success = outcome.terminated, outcome.truncated, outcome.success
        result.observations = floats(outcome.observations)
        result.executed_actions, result.intervened_steps = floats(outcome.actions), outcome.intervened
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.succeed()
        return result


    def report_safety(self) -> None:
        """Publish the counters (JSON) when anything but a passed action changed since the last report."""
        now = self.driver.safety.counters
        seen = lambda c: (c.clipped, c.refused, c.watchdog_stops, c.emergency_stops)  # noqa: E731
        if seen(now) == seen(self.reported):
            return
        if now.clipped != self.reported.clipped:
            self.get_logger().warning(f"safety step clipped {now.clipped - self.reported.clipped} action(s): "
                                      f"{now.clip_reasons}", throttle_duration_sec=5.0)
        if now.watchdog_stops != self.reported.watchdog_stops:
            self.get_logger().error("watchdog: the control loop stalled mid-chunk; the device was halted")
        self.reported = dataclasses.replace(now, reasons=dict(now.reasons), clip_reasons=dict(now.clip_reasons))
        self.safety_pub.publish(String(data=json.dumps(dataclasses.asdict(now))))

    def close(self) -> None:
        self.driver.close()


def main(args: list[str] | None = None) -> None:
    run(DriverNode, args)  # executor threads: the executor_threads parameter
