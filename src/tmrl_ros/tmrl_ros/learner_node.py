"""learner: the replay buffer and the SAC updates of the actor/learner split, for any number of
steering nodes. Transitions are keyed by (source, episode, step): a restarted learner resumes from
its checkpoint and takes the transitions it missed from the steering nodes' transient-local history
without counting any twice.

    subscribes  /tmrl/transitions    tmrl_msgs/Transition
    publishes   /tmrl/policy_update  tmrl_msgs/PolicyUpdate (transient-local: late steering nodes get it)
                /tmrl/learner_status std_msgs/String, JSON counters (transitions, duplicates, updates, and
                                     the update-to-data ratio achieved against the configured one)
                /tmrl/learner_pace   std_msgs/Float64: transitions the actors may still send before the
                                     learner owes more than schedule.max_lag updates (inf: no limit);
                                     steering nodes wait at 0, so the configured ratio holds

Updates follow `schedule.*` (tmrl_learning.tmrl.config.UpdateSchedule), the rule of the in-process
runner too: the same keys give the same number of updates per transition in both.
"""

from __future__ import annotations

import array
import json
import queue
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from std_msgs.msg import Float64, String

from tmrl_learning.system.learner import Learner, LearnerConfig
from tmrl_msgs.msg import PolicyUpdate, Transition
from tmrl_ros import qos
from tmrl_ros.agent_params import declare_agent
from tmrl_ros.convert import vector
from tmrl_ros.node_main import run
from tmrl_ros.params import declare, declare_dataclass


class LearnerNode(Node):
    def __init__(self) -> None:
        super().__init__("learner")
        cfg, task, agent, _ = declare_agent(self)
        learner_cfg = declare_dataclass(self, "learner", LearnerConfig())
        execute = declare(self, "execute", 5, "actions the steering nodes execute per chunk (the action critic, "
                          "agent.action_critic, learns on them; 0: the whole chunk)", low=0, high=10_000)
        if cfg.agent.action_critic:  # DSRL's noise-aliasing variant: needs the frozen policy here too
            from tmrl_learning.csp.sampler import load_sampler
            from tmrl_learning.tmrl.methods import ChunkMaker, attach_action_critic

            sampler = load_sampler(cfg.checkpoint)
            execute = execute or sampler.horizon
            attach_action_critic(ChunkMaker(agent, sampler, task, execute), task.action_dim)
        self.out_dir = Path(declare(self, "out_dir", "runs/learner", "checkpoints go here; a restart resumes"))
        offline_bag = declare(self, "offline_bag", "", "a rosbag2 of recorded transitions for the offline buffer")
        history = declare(self, "transition_history", 10_000, "history depth asked of the steering nodes",
                          low=1, high=10**7)
        threads = declare(self, "threads", 1, "torch threads for the updates", low=0, high=256)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.learner = Learner(agent, learner_cfg, self.out_dir, cfg.schedule)
        if self.learner.resume():
            self.get_logger().info(f"resumed from {self.learner.path}: {self.learner.received} transitions, "
                                   f"{self.learner.updates} updates")
        if offline_bag:
            from tmrl_learning.data.from_bags import transitions_from_bag

            offline = transitions_from_bag(offline_bag)
            self.learner.set_offline(offline)
            self.get_logger().info(f"offline buffer: {len(offline['reward'])} transitions from {offline_bag}")
        self.inbox: queue.Queue[Transition] = queue.Queue()
        self.update_pub = self.create_publisher(PolicyUpdate, "/tmrl/policy_update", qos.POLICY_UPDATE)
        self.status_pub = self.create_publisher(String, "/tmrl/learner_status", qos.DECISION)
        self.pace_pub = self.create_publisher(Float64, "/tmrl/learner_pace", qos.POLICY_UPDATE)
        self.pace_sent = (None, 0.0)
        self.create_subscription(Transition, "/tmrl/transitions", self.inbox.put, qos.transitions(history))
        self.create_timer(1.0, self.publish_status)
        if self.learner.updates:
            self.publish_weights()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.work, daemon=True)
        self.thread.start()

    def ingest(self, msg: Transition) -> None:
        key = (msg.source, int(msg.episode_id), int(msg.step))
        transition = {"observation": vector(msg.observation), "steering_action": vector(msg.steering_action),
                      "reward": msg.reward, "next_observation": vector(msg.next_observation),
                      "terminated": float(msg.terminated)}
        if "executed_actions" in self.learner.buffer.fields:  # what ran, zero-padded to the full width
            width = self.learner.buffer.data["executed_actions"].shape[1]
            ran = vector(msg.executed_actions) if len(msg.executed_actions) else \
                vector(msg.chunk.data)[: int(msg.executed_steps) * int(msg.chunk.action_dim)]
            transition["executed_actions"] = np.pad(ran[:width], (0, width - len(ran[:width])))
        try:
            self.learner.add(key, transition, int(msg.intervened_steps))
        except ValueError as err:
            self.get_logger().error(f"rejected: {err}", throttle_duration_sec=2.0)

    def work(self) -> None:
        """Drain the inbox, update at the configured ratio, publish and checkpoint when due."""
        while rclpy.ok() and not self.stopping.is_set():
            try:
                self.ingest(self.inbox.get(timeout=0.1))
                while True:
                    self.ingest(self.inbox.get_nowait())
            except queue.Empty:
                pass
            for _ in range(min(self.learner.due_updates(), 8)):  # then look at the inbox again
                self.learner.update()
                if self.learner.should_publish():
                    self.publish_weights()
            self.publish_pace()
            if self.learner.checkpoint_due():
                self.learner.save()

    def publish_pace(self) -> None:
        """The actors' allowance, when it moved to or from 0, or at most every 50 ms."""
        allowance = self.learner.allowance()
        now = time.monotonic()
        last, sent_at = self.pace_sent
        if last is not None and (allowance > 0) == (last > 0) and now - sent_at < 0.05:
            return
        self.pace_pub.publish(Float64(data=float(allowance)))
        self.pace_sent = (allowance, now)

    def publish_weights(self) -> None:
        version, payload, digest = self.learner.export_actor()
        msg = PolicyUpdate(version=version, format="torch-state-dict", sha256=digest)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.weights = array.array("B", payload)
        self.update_pub.publish(msg)

    def status(self) -> dict:
        lr = self.learner
        return {"transitions": lr.received, "duplicates": lr.duplicates, "rejected": lr.rejected,
                "dropped_intervened": lr.dropped_intervened,
                "updates": lr.updates, "version": lr.version, "buffer": len(lr.buffer),
                "updates_per_transition": round(lr.achieved_ratio(), 4),
                "configured_updates_per_transition": lr.schedule.updates_per_transition,
                "sources": sorted({k[0] for k in lr.keys}), **{k: round(v, 4) for k, v in lr.metrics.items()}}

    def publish_status(self) -> None:
        self.status_pub.publish(String(data=json.dumps(self.status())))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30.0)
        self.learner.save()  # a clean stop loses nothing either
        self.get_logger().info(f"saved {self.learner.path}")


def main(args: list[str] | None = None) -> None:
    run(LearnerNode, args)
