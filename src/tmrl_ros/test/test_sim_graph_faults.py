"""Faults in the sim graph: a learner crash loses no transition, a killed steering node stops the
robot, malformed input is refused with a reason while every node keeps running, and a node that
cannot start says why."""

from __future__ import annotations

import math
import signal
import subprocess

import pytest
from graph_fixtures import Watcher, lineworld_params
from rclpy.action import ActionClient
from sensor_msgs.msg import Joy

from tmrl_learning.csp.toy import save_lineworld_checkpoint
from tmrl_msgs.action import ExecuteChunk, SampleChunk
from tmrl_msgs.msg import ActionChunk, Context, EpisodeEvent, SteeringCommand, Transition
from tmrl_msgs.srv import Reset
from tmrl_ros import qos
from tmrl_ros.graph import NodeSpec, sim_finetune_graph
from tmrl_ros.processes import GraphProcesses, start, stop

from ros_helpers import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_lineworld_checkpoint(tmp_path_factory.mktemp("policy") / "csp.pt")


def test_learner_crash_loses_nothing_and_killed_steering_stops_the_robot(node, tmp_path, checkpoint):
    specs = sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run", params_file=lineworld_params(tmp_path))
    watcher = Watcher(node)
    graph = GraphProcesses(specs, tmp_path / "logs")
    with graph:
        assert spin_until(node, lambda: watcher.status.get("transitions", 0) >= 120, 120.0), graph.logs()
        graph.kill("learner")  # SIGKILL: no chance to save
        crashed_at = len(watcher.transition_keys)
        spin_until(node, lambda: len(watcher.transition_keys) >= crashed_at + 60, 30.0)  # the robot goes on
        watcher.status = {}
        graph.start("learner")
        assert spin_until(node, lambda: watcher.status.get("duplicates", 0) > 0, 60.0), graph.log("learner")
        assert "resumed from" in graph.log("learner")

        graph.kill("steering")
        spin_until(node, lambda: False, 2.0)  # deadline: one chunk (2 actions) in flight at most
        observations = watcher.observations
        spin_until(node, lambda: False, 3.0)
        assert watcher.observations == observations, "the driver kept moving after steering died"

        sent = len(watcher.transition_keys)
        assert spin_until(node, lambda: watcher.status.get("transitions") == sent, 30.0), (watcher.status, sent)
        assert sent >= crashed_at + 60 and watcher.status["rejected"] == 0
        assert not {k: v for k, v in graph.dead().items() if k != "steering"}, graph.logs()


def _action(node, client: ActionClient, goal):
    assert client.wait_for_server(timeout_sec=30.0)
    sent = client.send_goal_async(goal)
    assert spin_until(node, sent.done, 20.0)
    result = sent.result().get_result_async()
    assert spin_until(node, result.done, 20.0)
    return result.result().result


def test_malformed_input_is_refused_with_a_reason_and_nodes_keep_running(node, tmp_path, checkpoint):
    specs = [s for s in sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run",
                                           params_file=lineworld_params(tmp_path))
             if s.name in ("policy_server", "learner", "sim_bridge", "perception")]
    watcher = Watcher(node)
    sampler = ActionClient(node, SampleChunk, "/tmrl/sample_chunk")
    executor = ActionClient(node, ExecuteChunk, "/execute_chunk")
    observations = node.create_publisher(Context, "/observation", qos.DECISION)
    transitions = node.create_publisher(Transition, "/tmrl/transitions", qos.transitions(10))
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        good = Context(source="sim0", context=[1.0])
        steer = SteeringCommand(action_noise=[0.2], context_timestep=5, guidance_weight=math.nan)
        result = _action(node, sampler, SampleChunk.Goal(context=Context(context=[1.0, 2.0, 3.0]), steering=steer))
        assert not result.accepted and "context has 3 values, expected 1" in result.message
        result = _action(node, sampler, SampleChunk.Goal(context=good, steering=SteeringCommand(
            action_noise=[math.nan], guidance_weight=math.nan)))
        assert not result.accepted and "NaN" in result.message
        result = _action(node, sampler, SampleChunk.Goal(context=good, steering=steer))
        assert result.accepted and len(result.chunk.data) == 2 and result.latency_ms > 0  # still serving

        chunk = ActionChunk(horizon=2, action_dim=1, data=[0.1, math.nan])
        result = _action(node, executor, ExecuteChunk.Goal(chunk=chunk))
        assert not result.accepted and ("NaN" in result.message or "episode has ended" in result.message)

        observations.publish(Context(source="sim0", observation=[0.0, 1.0, 2.0]))  # 3 values, lineworld has 2
        transitions.publish(Transition(source="x", observation=[math.nan, 0.0], steering_action=[0.0] * 3,
                                       next_observation=[0.0, 0.0]))
        transitions.publish(Transition(source="x", step=1, observation=[0.0], steering_action=[0.0] * 3,
                                       next_observation=[0.0, 0.0]))
        assert spin_until(node, lambda: watcher.status.get("rejected") == 2, 20.0), watcher.status
        spin_until(node, lambda: "dropped observation" in graph.log("perception"), 10.0)
        assert "3 values, task lineworld expects 2" in graph.log("perception")
        assert "transition ('x', 0, 0): transition field 'observation' contains NaN" in graph.log("learner")
        assert not graph.dead(), graph.logs()


def composed_graph(tmp_path, checkpoint) -> list[NodeSpec]:
    """The LineWorld graph with steering sampling in process: no policy server, no learner."""
    params = lineworld_params(tmp_path)
    params.write_text(params.read_text().replace("/**/steering:\n  ros__parameters:\n",
                                                 "/**/steering:\n  ros__parameters:\n    sample_in_process: true\n"))
    return [s for s in sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run", params_file=params)
            if s.name not in ("policy_server", "learner")]


def test_steering_samples_in_process_without_a_policy_server(node, tmp_path, checkpoint):
    watcher = Watcher(node)
    with GraphProcesses(composed_graph(tmp_path, checkpoint), tmp_path / "logs") as graph:
        assert spin_until(node, lambda: len(watcher.transition_keys) >= 40, 90.0), graph.logs()
        assert len(set(watcher.timesteps)) >= 5, watcher.timesteps
        assert "sample_chunk" not in graph.log("steering"), graph.log("steering")  # never asked a server
        assert not graph.dead(), graph.logs()


def test_a_keyboard_label_ends_the_running_episode(node, tmp_path, checkpoint):
    watcher = Watcher(node)
    labels = lambda kind: [e for e in watcher.episodes if e.event == kind and e.source == "sim0"]  # noqa: E731
    with GraphProcesses(composed_graph(tmp_path, checkpoint), tmp_path / "logs") as graph:
        keyboard = start(NodeSpec("keyboard_labels", "keyboard_labels").command(), tmp_path / "keyboard.log",
                         stdin=subprocess.PIPE)
        try:
            assert spin_until(node, lambda: len(watcher.transition_keys) >= 10, 90.0), graph.logs()

            def labelled_success() -> bool:  # press "s" until a labelled episode ends as a success
                keyboard.stdin.write(b"x\ns\n")  # "x" is no label key
                keyboard.stdin.flush()
                spin_until(node, lambda: False, 1.0)
                done = {e.episode_id for e in labels(EpisodeEvent.SUCCEEDED)}
                return any(e.episode_id in done and e.reason == "keyboard" for e in labels(EpisodeEvent.LABELED))
            assert spin_until(node, labelled_success, 60.0), ((tmp_path / "keyboard.log").read_text(), graph.logs())
            assert "labelled success (keyboard)" in graph.log("sim_bridge")
            assert all(e.success for e in labels(EpisodeEvent.LABELED))
        finally:
            stop(keyboard)
        assert "labelling sim0" in (tmp_path / "keyboard.log").read_text()
        assert not graph.dead(), graph.logs()


def test_a_stalled_episode_is_aborted_and_reset(node, tmp_path, checkpoint):
    """No steering node: no transition ever comes, so reward_reset aborts each episode after its
    stall timeout and resets the driver."""
    specs = [s for s in sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run",
                                           params_file=lineworld_params(tmp_path))
             if s.name in ("sim_bridge", "reward_reset")]
    for spec in specs:
        if spec.name == "reward_reset":
            spec.parameters["stall_timeout_s"] = 1.5
    watcher = Watcher(node)
    aborted = lambda: [e for e in watcher.episodes if e.event == EpisodeEvent.ABORTED]  # noqa: E731
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        assert spin_until(node, lambda: len(aborted()) >= 2, 30.0), graph.logs()
        first, second = aborted()[:2]
        assert "no transition for" in first.reason and second.episode_id == first.episode_id + 1
        assert spin_until(node, lambda: watcher.observations >= 3, 10.0)  # the first reset and one per abort
        assert not graph.dead(), graph.logs()


@pytest.mark.parametrize(("executable", "parameters", "reason"), [
    ("policy_server", {"checkpoint": "/nonexistent/csp.pt"}, "no policy checkpoint at /nonexistent/csp.pt"),
    ("driver", {"task": "no-such-task"}, "unknown task 'no-such-task'"),
])
def test_a_node_that_cannot_start_says_why(tmp_path, executable, parameters, reason):
    proc = start(NodeSpec(executable, executable, parameters=parameters).command(), tmp_path / "node.log")
    try:
        proc.wait(60)
    finally:
        stop(proc, signal.SIGKILL)
    log = (tmp_path / "node.log").read_text()
    assert proc.returncode == 2 and reason in log and "Traceback" not in log, log


def test_action_servers_keep_finished_goals_only_result_keep_s(node, tmp_path, checkpoint):
    """The action status that every client decodes on each goal change lists every goal the server
    keeps; the policy server keeps a finished one `result_keep_s` (1 s), not rclpy's 10 s, so at
    tens of chunks per second the list stays short."""
    from action_msgs.msg import GoalStatusArray
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    listed: list[int] = []
    status_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(GoalStatusArray, "/tmrl/sample_chunk/_action/status",
                             lambda m: listed.append(len(m.status_list)), status_qos)
    sampler = ActionClient(node, SampleChunk, "/tmrl/sample_chunk")
    goal = SampleChunk.Goal(context=Context(source="sim0", context=[1.0]), steering=SteeringCommand(
        action_noise=[0.2], context_timestep=5, guidance_weight=math.nan))
    spec = NodeSpec("policy_server", "policy_server", parameters={"checkpoint": str(checkpoint)})
    with GraphProcesses([spec], tmp_path / "logs") as graph:
        for _ in range(5):
            assert _action(node, sampler, goal).accepted
        assert spin_until(node, lambda: bool(listed) and listed[-1] >= 5, 5.0), listed  # all five kept for now
        spin_until(node, lambda: False, 2.5)  # past result_keep_s (the server expires goals about once a second)
        assert _action(node, sampler, goal).accepted
        assert spin_until(node, lambda: listed[-1] == 1, 5.0), listed  # only the newest goal is listed
        assert not graph.dead(), graph.logs()


def test_a_terminal_step_without_success_is_a_failure(node, tmp_path, checkpoint):
    """A safety stop or a human "failure" label ends an episode in a terminal state that is not a
    success: reward_reset must announce FAILED (it took `terminated` for success: SUCCEEDED)."""
    specs = [s for s in sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run") if s.name == "reward_reset"]
    watcher = Watcher(node)
    transitions = node.create_publisher(Transition, "/tmrl/transitions", qos.transitions(10))
    ended = lambda: [e for e in watcher.episodes if e.event in (EpisodeEvent.SUCCEEDED, EpisodeEvent.FAILED)]  # noqa: E731
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        assert spin_until(node, lambda: transitions.get_subscription_count() > 0, 30.0), graph.logs()
        transitions.publish(Transition(source="sim0", episode_id=0, step=0, terminated=True, success=False))
        assert spin_until(node, lambda: len(ended()) == 1, 20.0), graph.logs()
        transitions.publish(Transition(source="sim0", episode_id=1, step=0, terminated=True, success=True))
        assert spin_until(node, lambda: len(ended()) == 2, 20.0), graph.logs()
        assert [(e.episode_id, e.event, e.success) for e in ended()] == [
            (0, EpisodeEvent.FAILED, False), (1, EpisodeEvent.SUCCEEDED, True)]
        assert not graph.dead(), graph.logs()


def test_a_held_dead_man_button_overrides_the_policy(node, tmp_path, checkpoint):
    """Joy -> the intervention node -> the driver: while the button is held the human's action runs (and the
    result says so); after the release, the chunk's."""
    specs = [s for s in sim_finetune_graph("lineworld", str(checkpoint), tmp_path / "run") if s.name == "sim_bridge"]
    specs.append(NodeSpec("intervention", "intervention",
                          parameters={"axes": [1], "scale": [-2.0], "deadman_button": 0, "gripper_index": -1}))
    executor = ActionClient(node, ExecuteChunk, "/execute_chunk")
    reset = node.create_client(Reset, "/reset")
    joy = node.create_publisher(Joy, "/joy", 10)
    held = {"buttons": [1]}
    node.create_timer(0.05, lambda: joy.publish(Joy(axes=[0.9, -0.25], buttons=held["buttons"])))
    with GraphProcesses(specs, tmp_path / "logs") as graph:
        assert reset.wait_for_service(timeout_sec=30.0)
        future = reset.call_async(Reset.Request(seed=0))
        assert spin_until(node, future.done, 20.0) and future.result().success
        assert spin_until(node, lambda: "human intervention" in graph.log("intervention"), 30.0), graph.logs()
        spin_until(node, lambda: False, 1.5)  # the driver discovers the intervention topic; actions keep coming
        chunk = ActionChunk(horizon=2, action_dim=1, data=[0.8, 0.9])
        result = _action(node, executor, ExecuteChunk.Goal(chunk=chunk, episode_id=0, step=0))
        assert result.accepted and result.intervened_steps == 2, result
        assert list(result.executed_actions) == pytest.approx([0.5, 0.5])  # away from LineWorld's goal: no end
        held["buttons"] = [0]
        assert spin_until(node, lambda: "intervention released" in graph.log("intervention"), 10.0)
        spin_until(node, lambda: False, 0.3)
        assert not result.terminated and not result.truncated
        result = _action(node, executor, ExecuteChunk.Goal(chunk=chunk, episode_id=0, step=1))
        assert result.accepted and result.intervened_steps == 0
        assert list(result.executed_actions) == pytest.approx([0.8, 0.9])
        assert not graph.dead(), graph.logs()
