"""QoS per kind of topic, chosen once for the whole graph.

- decision points (a driver's macro-step observation, its context): reliable and transient-local
  with a short history, so a node that starts (or restarts) late still gets the latest one;
- transitions: reliable and transient-local with a long history, so a restarted learner receives
  what was published while it was down (it drops the ones it already holds, by key);
- policy updates: reliable, transient-local, depth 1: a late steering node gets the latest weights;
- commands and monitoring (/tmrl/noise, /tmrl/timestep, steering commands, episode events): reliable;
- raw sensor streams of real drivers: best-effort (`rclpy.qos.qos_profile_sensor_data`).
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data


def _profile(depth: int, latched: bool) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


DECISION = _profile(10, latched=True)
POLICY_UPDATE = _profile(1, latched=True)
COMMAND = _profile(10, latched=False)
EVENTS = _profile(100, latched=False)
SENSOR = qos_profile_sensor_data


def transitions(history: int) -> QoSProfile:
    return _profile(history, latched=True)
