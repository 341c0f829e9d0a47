"""policy_server: the frozen CSP policy as an action server.

    action  /tmrl/sample_chunk  tmrl_msgs/action/SampleChunk: a chunk a = f(w, c_t, t, p) for one
                                context and steering command; malformed goals come back with
                                accepted = false and the reason (and are logged); the server keeps running
"""

from __future__ import annotations

import statistics

from rclpy.action import ActionServer
from rclpy.node import Node

from tmrl_learning.system.policy_service import PolicyService, RequestError
from tmrl_msgs.action import SampleChunk
from tmrl_ros.convert import chunk_message, chunk_request
from tmrl_ros.node_main import StartupError, run
from tmrl_ros.params import declare, declare_result_keep


class PolicyServer(Node):
    def __init__(self) -> None:
        super().__init__("policy_server")
        checkpoint = declare(self, "checkpoint", "", "pre-trained CSP policy checkpoint (checkpoint.pt)")
        threads = declare(self, "threads", 1, "torch threads for sampling", low=0, high=256)
        backend = declare(self, "backend", "onnx", "sampler: 'onnx' (one ONNX Runtime graph, checked against "
                          "PyTorch at start-up), 'torch', or 'openpi' (a policy served elsewhere over openpi's "
                          "websocket protocol; `checkpoint` is then its address, host:port)")
        keep = declare_result_keep(self)
        if not checkpoint:
            raise StartupError("parameter 'checkpoint' is empty: give the pre-trained policy's checkpoint.pt")
        self.service = PolicyService.from_checkpoint(checkpoint, threads, backend)
        self.latencies: list[float] = []
        self.served = self.refused = 0
        ActionServer(self, SampleChunk, "/tmrl/sample_chunk", self.on_goal, result_timeout=keep)
        self.create_timer(10.0, self.report)
        onnx = getattr(self.service.sampler, "onnx", None)
        if onnx is not None:
            self.get_logger().info(f"ONNX sampler matches PyTorch within {onnx.max_difference:.1e}")
        self.get_logger().info(f"serving {checkpoint}: chunks {self.service.horizon} x {self.service.action_dim}, "
                               f"context {self.service.context_dim}, T = {self.service.num_timesteps}")

    def on_goal(self, goal_handle) -> SampleChunk.Result:
        goal, result = goal_handle.request, SampleChunk.Result()
        try:
            chunk, latency = self.service.sample(chunk_request(goal.context, goal.steering))
        except RequestError as err:
            self.refused += 1
            self.get_logger().warning(f"refused a goal from {goal.context.source or '?'}: {err}",
                                      throttle_duration_sec=2.0)
            result.accepted, result.message = False, str(err)
            goal_handle.abort()
            return result
        result.accepted, result.latency_ms = True, latency
        result.chunk = chunk_message(chunk, goal.steering.context_timestep, self.service.version,
                                     self.get_clock().now().to_msg())
        self.latencies.append(latency)
        self.served += 1
        goal_handle.succeed()
        return result

    def report(self) -> None:
        if self.latencies:
            self.get_logger().info(f"served {self.served} chunks ({self.refused} refused), sampling latency median "
                                   f"{statistics.median(self.latencies):.1f} ms")
            self.latencies = self.latencies[-1000:]


def main(args: list[str] | None = None) -> None:
    run(PolicyServer, args)
