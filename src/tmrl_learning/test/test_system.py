"""The node logic without ROS: driver, perception, policy service, steering, episodes, learner, bags."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tmrl_learning.bags import BagWriter, tmrl_typestore
from tmrl_learning.csp.sampler import load_sampler
from tmrl_learning.csp.toy import save_lineworld_checkpoint
from tmrl_learning.data.dataset import DatasetError
from tmrl_learning.data.from_bags import dataset_from_standard_bag, dataset_from_transitions_bag, transitions_from_bag
from tmrl_learning.system.driver import make_driver
from tmrl_learning.system.episodes import ABORTED, FAILED, STARTED, SUCCEEDED, TIMED_OUT, EpisodeBook
from tmrl_learning.system.labels import RunningEpisode, verdict
from tmrl_learning.system.learner import Learner, LearnerConfig
from tmrl_learning.system.perception import Perception
from tmrl_learning.system.policy_service import ChunkRequest, PolicyService, RequestError
from tmrl_learning.system.sensors import (
    ApproximateSync,
    CloudField,
    SensorLayout,
    cloud_xyz,
    farthest_points,
    joint_vector,
)
from tmrl_learning.system.steering import Steerer, make_agent
from tmrl_learning.tasks import LINEWORLD, embodiment
from tmrl_learning.tmrl.agent import AgentConfig
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.methods import ChunkMaker, attach_action_critic

SMALL_AGENT = dict(hidden=32, actor_layers=2, critic_layers=2, critics=2, batch_size=16)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_lineworld_checkpoint(tmp_path_factory.mktemp("policy") / "checkpoint.pt", steps=50)


def agent_for(checkpoint, seed=0, action_critic=False):
    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), seed=seed,
                         agent=AgentConfig(**SMALL_AGENT, action_critic=action_critic))
    agent = make_agent(cfg, LINEWORLD)
    if action_critic:  # as the learner node does: the executed actions of 2-action chunks
        sampler = load_sampler(checkpoint)
        assert attach_action_critic(ChunkMaker(agent, sampler, LINEWORLD, 2), LINEWORLD.action_dim) == 2
    return agent


def test_driver_executes_chunks_and_refuses_stale_or_malformed_ones():
    driver = make_driver(LINEWORLD, seed=0)
    first = driver.reset(seed=3)
    assert (first.episode_id, first.step, first.task) == (0, 0, "lineworld")
    chunk = driver.check_chunk(np.full(2, -0.5), horizon=2, action_dim=1, steps=0)
    driver.check_decision_point(0, 0)
    outcome = driver.execute(chunk)
    assert outcome.executed == 2 and outcome.observations.shape == (2, 2)
    assert outcome.observations[0][0] == pytest.approx(first.observation[0])
    assert outcome.observation.step == 1 and outcome.reward == -2.0
    with pytest.raises(ValueError, match="stale chunk: made for episode 0 step 0"):
        driver.check_decision_point(0, 0)
    with pytest.raises(ValueError, match="NaN"):
        driver.check_chunk(np.array([0.0, np.nan]), 2, 1, 0)
    with pytest.raises(ValueError, match="3 values, expected horizon 2 x 1"):
        driver.check_chunk(np.zeros(3), 2, 1, 0)
    with pytest.raises(ValueError, match="2-D, task lineworld needs 1-D"):
        driver.check_chunk(np.zeros(4), 2, 2, 0)
    # Two more steps left reach x <= -0.6: success ends the episode, and the driver wants a reset.
    outcome = driver.execute(chunk)
    assert outcome.terminated and outcome.success
    with pytest.raises(ValueError, match="episode has ended"):
        driver.check_decision_point(0, 2)
    assert driver.reset().episode_id == 1
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        embodiment("nope")


def test_driver_stops_a_chunk_when_asked():
    driver = make_driver(LINEWORLD)
    driver.reset()
    calls = []
    outcome = driver.execute(np.zeros((2, 1)), should_stop=lambda: True, on_step=lambda *a: calls.append(a))
    assert outcome.executed == 1 and len(calls) == 1


def test_human_labels_end_the_running_episode():
    driver = make_driver(LINEWORLD, seed=0)
    driver.reset(seed=3)
    assert not driver.label(7, True)  # another episode: ignored
    assert driver.label(0, True)
    steps = []
    outcome = driver.execute(np.zeros((2, 1)), on_step=lambda *a: steps.append(a))
    # zero actions never reach the goal: only the label makes this a success, at the first action
    assert outcome.executed == 1 and outcome.terminated and outcome.success and not outcome.truncated
    assert outcome.reward == 0.0 and steps == [(0, 0.0, True)]
    assert not driver.label(0, False)  # the episode is over
    driver.reset()
    assert driver.label(1, False)
    outcome = driver.execute(np.zeros((2, 1)))
    assert outcome.truncated and not outcome.terminated and not outcome.success and outcome.reward == -1.0
    driver.reset()
    outcome = driver.execute(np.zeros((2, 1)))  # no label left over from episode 1
    assert outcome.executed == 2 and not (outcome.terminated or outcome.truncated)

    assert [verdict(k) for k in ("s", "S\n", "f", "x", "", "success")] == [True, True, False, None, None, True]
    assert verdict("y", success_keys="yo", failure_keys="n") is True
    running = RunningEpisode("robot")
    running.on_event("robot", STARTED, 4)
    running.on_event("other", SUCCEEDED, 4)
    assert running.episode_id == 4
    running.on_event("robot", FAILED, 4)
    assert running.episode_id is None


def test_sensor_streams_are_synchronised_and_decoded():
    sync = ApproximateSync(["obs", "joints"], slop=0.02)
    assert sync.add("joints", 0.00, "j0") is None  # no observation yet
    assert sync.add("joints", 0.10, "j1") is None
    matched = sync.add("obs", 0.105, "o1")  # nearest joint state: 0.10
    assert matched == {"obs": (0.105, "o1"), "joints": (0.10, "j1")}
    assert sync.add("obs", 0.30, "o2") is None  # j1 was used and j0 is dropped: nothing near 0.30 yet
    assert sync.add("joints", 0.35, "j2") is None  # 50 ms apart > slop
    assert sync.add("joints", 0.31, "j3") == {"joints": (0.31, "j3"), "obs": (0.30, "o2")}
    assert [stamp for stamp, _ in sync.queues["joints"]] == [0.35]  # j3 used; j2 (arrived earlier, newer) kept
    with pytest.raises(KeyError, match="unknown stream 'cam'"):
        sync.add("cam", 0.0, None)

    assert joint_vector(["b", "a", "c"], [2.0, 1.0, 3.0], ["a", "b"]).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"lacks joints \['d'\]"):
        joint_vector(["a"], [1.0], ["a", "d"])
    with pytest.raises(ValueError, match="NaN"):
        joint_vector(["a"], [math.nan], ["a"])

    # A PointCloud2 payload: x, y, z float32 at offsets 0, 4, 8, an intensity after, 16-byte points.
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-1, 1, (200, 3)).astype(np.float32)
    xyz[5] = np.nan
    raw = np.zeros(200, np.dtype({"names": ["x", "y", "z", "i"], "formats": ["<f4"] * 4,
                                  "offsets": [0, 4, 8, 12], "itemsize": 16}))
    raw["x"], raw["y"], raw["z"] = xyz.T
    fields = [CloudField(a, 4 * k, 7) for k, a in enumerate("xyz")]
    cloud = cloud_xyz(raw.tobytes(), fields, 16, 200)
    assert cloud.shape == (199, 3) and np.allclose(cloud[:5], xyz[:5]) and np.allclose(cloud[5], xyz[6])
    with pytest.raises(ValueError, match=r"lacks fields \['z'\]"):
        cloud_xyz(raw.tobytes(), fields[:2], 16, 200)
    with pytest.raises(ValueError, match="3200 bytes"):
        cloud_xyz(raw.tobytes(), fields, 16, 300)

    picked = farthest_points(cloud, 16)
    assert picked.shape == (16, 3) and len(np.unique(picked, axis=0)) == 16
    spread = lambda p: np.ptp(p, axis=0).min()  # noqa: E731
    assert spread(picked) > 0.8 * spread(cloud)  # farthest points reach the cloud's extent
    assert np.array_equal(picked, farthest_points(cloud, 16))  # deterministic
    assert farthest_points(cloud[:3], 5).shape == (5, 3)
    obs, context, proprio = SensorLayout(["a", "b"], 16).inputs(np.array([1.0, 2.0], np.float32), cloud)
    assert context.shape == (48,) and proprio.tolist() == [1.0, 2.0] and obs.shape == (50,)
    with pytest.raises(ValueError, match="needs a point cloud"):
        SensorLayout(["a"], 4).inputs(np.zeros(1, np.float32), None)


def test_perception_names_bad_observations():
    perception = Perception(LINEWORLD)
    obs, context, proprio = perception([0.5, 1.0])
    assert context.tolist() == [1.0] and proprio.shape == (0,)
    with pytest.raises(ValueError, match="3 values, task lineworld expects 2"):
        perception([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        perception([math.nan, 1.0])


def test_policy_service_is_deterministic_and_refuses_with_reasons(checkpoint):
    service = PolicyService.from_checkpoint(str(checkpoint), threads=1)
    good = ChunkRequest(context=np.ones(1), proprio=np.zeros(0), action_noise=np.array([0.3]), context_timestep=7,
                        context_noise=np.array([-0.5]))
    a, latency = service.sample(good)
    b, _ = service.sample(good)
    assert a.shape == (2, 1) and latency > 0 and np.array_equal(a, b)
    bad = {
        "context has 2 values, expected 1": dict(context=np.ones(2)),
        "context contains NaN": dict(context=np.array([np.nan])),
        "action_noise has 3 values, expected 0 or 1 or 2": dict(action_noise=np.zeros(3)),
        "context_timestep 21 outside": dict(context_timestep=21),
        "already noised": dict(context_is_noised=True),
    }
    for reason, change in bad.items():
        with pytest.raises(RequestError, match=reason):
            service.sample(ChunkRequest(**{**good.__dict__, **change}))
    with pytest.raises(FileNotFoundError, match="no policy checkpoint"):
        PolicyService.from_checkpoint("/nonexistent/checkpoint.pt")


def test_episode_book_events_and_its_own_time_limit():
    book = EpisodeBook(max_steps=3)
    kinds = [e.kind for e in book.on_transition("a", 0, 0, -1.0, False, False, False)]
    assert kinds == [STARTED]
    assert [e.kind for e in book.on_transition("a", 0, 1, 0.0, True, False, True)] == [SUCCEEDED]
    assert book.on_transition("a", 0, 2, 0.0, False, False, False) == []  # late, episode closed
    events = [book.on_transition("a", 1, k, -1.0, False, False, False) for k in range(3)]
    assert events[-1][-1].kind == TIMED_OUT and "limit of 3" in events[-1][-1].reason
    assert [e.kind for e in book.on_transition("b", 0, 0, -1.0, True, False, False)] == [STARTED, FAILED]
    assert book.success_rate() == pytest.approx(1 / 3)
    book.on_transition("a", 2, 0, -1.0, False, False, False)
    stalled = book.abort("a", 2, "no transition for 60 s")
    assert (stalled.kind, stalled.episode_id, stalled.steps, stalled.ends_episode) == (ABORTED, 2, 1, True)
    assert book.on_transition("a", 2, 1, -1.0, True, False, True) == []  # a late result changes nothing
    assert book.success_rate() == pytest.approx(1 / 3) and len(book.outcomes) == 3  # not the policy's failure


def test_steerer_acts_randomly_until_the_first_weights_and_checks_them(checkpoint):
    agent, other = agent_for(checkpoint, seed=0), agent_for(checkpoint, seed=1)
    steerer = Steerer(agent, num_timesteps=20, seed=0)
    obs = np.array([0.0, 1.0], np.float32)
    y1, inputs = steerer.act(obs)
    assert set(inputs) == {"noise", "timestep", "context_noise"} and 0 <= inputs["timestep"] <= 20
    y2, _ = steerer.act(obs)
    assert not np.allclose(y1, y2)  # warm-up: uniformly random, not the (stochastic) actor's mean
    learner = Learner(other, LearnerConfig())
    version, payload, digest = learner.export_actor()
    with pytest.raises(ValueError, match="sha256"):
        steerer.load_weights(version, payload, "0" * 64)
    assert steerer.load_weights(version, payload, digest)
    steerer.deterministic = True
    assert np.allclose(steerer.act(obs)[0], other.act(obs[None], deterministic=True)[0])
    assert not steerer.load_weights(version, payload, digest)  # not newer: ignored
    with pytest.raises(ValueError, match="do not fit"):
        steerer.load_weights(version + 1, b"garbage", __import__("hashlib").sha256(b"garbage").hexdigest())


def _transition(rng, obs_dim=2, k=3):
    return {"observation": rng.normal(size=obs_dim), "steering_action": rng.uniform(-1, 1, k), "reward": -1.0,
            "next_observation": rng.normal(size=obs_dim), "terminated": 0.0, "executed_actions": rng.uniform(-1, 1, 2)}


@pytest.mark.parametrize("action_critic", [False, True])
def test_learner_dedupes_updates_and_resumes_exactly(checkpoint, tmp_path, action_critic):
    rng = np.random.default_rng(0)
    cfg = LearnerConfig(checkpoint_every=10, publish_every=3)
    schedule = UpdateSchedule(warmup_transitions=20, updates_per_transition=0.5)
    learner = Learner(agent_for(checkpoint, action_critic=action_critic), cfg, tmp_path, schedule)
    assert ("executed_actions" in learner.buffer.fields) is action_critic
    data = [_transition(rng) for _ in range(40)]
    for i, t in enumerate(data):
        assert learner.add(("sim0", 0, i), t)
    assert not learner.add(("sim0", 0, 5), data[5]) and learner.duplicates == 1
    with pytest.raises(ValueError, match="NaN"):
        learner.add(("sim0", 0, 99), {**data[0], "reward": math.nan})
    assert learner.received == 40 and learner.due_updates() == 10
    for _ in range(4):
        learner.update()
    assert learner.should_publish() is False and learner.due_updates() == 6
    learner.save()
    saved_rng = torch.get_rng_state()  # the agent's construction below reseeds torch

    resumed = Learner(agent_for(checkpoint, seed=5, action_critic=action_critic), cfg, tmp_path, schedule)
    assert resumed.resume()
    assert resumed.keys == learner.keys and resumed.received == 40 and resumed.updates == 4
    assert not resumed.add(("sim0", 0, 3), data[3])  # a resent transition is recognised after a restart
    for key in learner.buffer.data:
        assert np.array_equal(resumed.buffer.data[key][:40], learner.buffer.data[key][:40])
    torch.set_rng_state(saved_rng)
    a = learner.update()
    torch.set_rng_state(saved_rng)
    b = resumed.update()  # same state, same RNG: the same update
    assert a == pytest.approx(b)
    assert ("distill_loss" in a) is action_critic
    for p, q in zip(learner.agent.actor.parameters(), resumed.agent.actor.parameters(), strict=True):
        assert torch.equal(p, q)


def _write_transitions_bag(path, episodes=2, steps=3, cut_first_end=False):
    """cut_first_end: episode 0 ends with a transition that ran no action (an emergency stop before its first step)."""
    store = tmrl_typestore()
    Transition = store.types["tmrl_msgs/msg/Transition"]
    ActionChunk = store.types["tmrl_msgs/msg/ActionChunk"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    f32 = lambda *v: np.array(v, np.float32)  # noqa: E731
    n = 0
    with BagWriter(path, "mcap", store) as writer:
        for ep in range(episodes):
            for k in range(steps):
                x = float(10 * ep + k)
                chunk = ActionChunk(Header(Time(0, 0), ""), 2, 1, f32(x + 0.1, x + 0.2), 0, 0)
                ran = 0 if cut_first_end and ep == 0 and k == steps - 1 else 2
                msg = Transition(Header(Time(0, 0), ""), "sim0", ep, k, f32(x, 1.0), f32(0.5, 0.5, 0.5), chunk, ran,
                                 f32(x, 1.0, x + 0.5, 1.0)[:ran * 2], f32(), 0,  # no executed_actions: older
                                 -1.0, f32(x + 1, 1.0), k == steps - 1, False, k == steps - 1)
                for _ in range(1 + (k == 1)):  # one transition recorded twice: read once
                    writer.write("/tmrl/transitions", "tmrl_msgs/msg/Transition", n, msg)
                    n += 1


def test_recorded_transitions_feed_offline_buffers_and_pretraining(tmp_path):
    _write_transitions_bag(tmp_path / "bag")
    offline = transitions_from_bag(tmp_path / "bag")
    assert offline["observation"].shape == (6, 2) and offline["terminated"].tolist() == [0, 0, 1, 0, 0, 1]
    dataset = dataset_from_transitions_bag(tmp_path / "bag")
    assert dataset.observations.shape == (12, 2) and dataset.num_episodes == 2
    assert dataset.actions[:2, 0] == pytest.approx([0.1, 0.2])
    assert dataset.observations[1, 0] == pytest.approx(0.5)


def test_a_transition_that_ran_no_action_ends_its_episode_in_the_dataset(tmp_path):
    _write_transitions_bag(tmp_path / "bag", cut_first_end=True)
    dataset = dataset_from_transitions_bag(tmp_path / "bag")
    assert dataset.observations.shape == (10, 2) and dataset.num_episodes == 2
    assert dataset.terminals.tolist() == [False, False, False, True] + [False] * 5 + [True]


def test_standard_type_bag_becomes_a_dataset(tmp_path):
    store = tmrl_typestore()
    JointState = store.types["sensor_msgs/msg/JointState"]
    Float32MultiArray = store.types["std_msgs/msg/Float32MultiArray"]
    MultiArrayLayout = store.types["std_msgs/msg/MultiArrayLayout"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    empty = np.zeros(0)
    with BagWriter(tmp_path / "demo", "sqlite3", store) as writer:
        t = 0
        for episode in range(2):
            for k in range(5):
                t += 100_000_000  # 10 Hz
                js = JointState(Header(Time(0, 0), ""), ["j0", "j1"], np.array([episode, k], float), empty, empty)
                writer.write("/joint_states", "sensor_msgs/msg/JointState", t, js)
                cmd = Float32MultiArray(MultiArrayLayout([], 0), np.array([k * 0.1], np.float32))
                writer.write("/cmd", "std_msgs/msg/Float32MultiArray", t + 1, cmd)
            t += 5_000_000_000  # a pause: a new episode
    dataset = dataset_from_standard_bag(tmp_path / "demo", "/joint_states", "/cmd")
    assert dataset.observations.shape == (10, 2) and dataset.num_episodes == 2
    assert dataset.observations[7].tolist() == [1.0, 2.0] and dataset.actions[7, 0] == pytest.approx(0.2)
    with pytest.raises(DatasetError, match="no messages on"):
        dataset_from_standard_bag(tmp_path / "demo", "/joint_states", "/missing")


def test_onnx_sampler_serves_the_same_chunks_as_pytorch(checkpoint, tmp_path):
    torch_service = PolicyService.from_checkpoint(str(checkpoint), threads=1)
    onnx_service = PolicyService.from_checkpoint(str(checkpoint), threads=1, backend="onnx",
                                                 onnx_path=str(tmp_path / "s.onnx"))
    assert onnx_service.sampler.onnx.max_difference <= 1e-5 and (tmp_path / "s.onnx").is_file()
    rng = np.random.default_rng(1)
    for t in (0, 5, 20):
        req = ChunkRequest(context=rng.normal(size=1), proprio=np.zeros(0), action_noise=rng.normal(size=1),
                           context_timestep=t, context_noise=rng.normal(size=1))
        a, b = torch_service.sample(req)[0], onnx_service.sample(req)[0]
        assert a.shape == b.shape == (2, 1) and np.abs(a - b).max() <= 1e-5
    full = ChunkRequest(np.ones(1), np.zeros(0), rng.normal(size=2), 3, rng.normal(size=1))  # (H*d,) noise: PyTorch
    assert np.abs(torch_service.sample(full)[0] - onnx_service.sample(full)[0]).max() <= 1e-6
    with pytest.raises(ValueError, match="unknown sampler backend"):
        PolicyService.from_checkpoint(str(checkpoint), backend="tensorrt")


PLUGINS = __import__("pathlib").Path(__file__).parent / "plugin_tasks"


def test_a_task_added_by_one_registry_entry_runs_through_the_runner(checkpoint, tmp_path, monkeypatch):
    from tmrl_learning.data.envs import VectorEnv
    from tmrl_learning.tasks import EMBODIMENTS
    from tmrl_learning.tmrl.finetune import finetune

    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("TMRL_TASK_MODULES", "tmrl_extra_task")
    import importlib

    importlib.reload(importlib.import_module("tmrl_learning.tasks"))  # as a fresh process loads it
    try:
        task = embodiment("lineworld-far")
        cfg = FinetuneConfig(method="tmrl", task=task.name, checkpoint=str(checkpoint), num_envs=2, execute=2,
                             steps=20, eval_every=20, eval_episodes=4, checkpoint_every=0,
                             schedule=UpdateSchedule(warmup_transitions=16), agent=AgentConfig(**SMALL_AGENT))
        curve = finetune(cfg, tmp_path / "run", VectorEnv.of(task, 2), [task.make_env(90 + i) for i in range(4)],
                         load_sampler(checkpoint), progress=False)
        assert curve[-1]["env_steps"] > 0 and curve[-1]["updates"] == int((40 - 16) * 0.25)
        driver = make_driver(task, seed=1)
        assert driver.reset().task == "lineworld-far" and driver.execute(np.zeros((2, 1))).executed == 2
    finally:
        EMBODIMENTS.pop("lineworld-far", None)


def test_the_runner_and_the_learner_do_the_same_updates_per_transition(checkpoint, tmp_path):
    """One UpdateSchedule, read by both: the same transitions give the same number of updates."""
    from tmrl_learning.data.envs import VectorEnv
    from tmrl_learning.tmrl.finetune import finetune

    schedule = UpdateSchedule(warmup_transitions=40, updates_per_transition=0.5)
    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), num_envs=4, execute=2,
                         steps=30, eval_every=30, eval_episodes=1, checkpoint_every=0, schedule=schedule,
                         agent=AgentConfig(**SMALL_AGENT))
    curve = finetune(cfg, tmp_path / "run", VectorEnv.of(LINEWORLD, 4), [LINEWORLD.make_env(9)],
                     load_sampler(checkpoint), progress=False)
    learner = Learner(agent_for(checkpoint), LearnerConfig(), schedule=schedule)
    rng = np.random.default_rng(0)
    for i in range(30 * 4):
        learner.add(("sim0", 0, i), _transition(rng))
        for _ in range(learner.due_updates()):
            learner.update()
    assert curve[-1]["updates"] == learner.updates == int((120 - 40) * 0.5)
    assert learner.achieved_ratio() == pytest.approx(0.5)
    assert learner.allowance() == pytest.approx(40 + (40 + schedule.max_lag) / 0.5 - 120)


def test_steering_reports_the_schedules_timesteps_whatever_the_cap(checkpoint):
    """SteeringCommand.num_context_timesteps is the policy schedule's T + 1; a t_max_fraction cap
    changes what the actor may pick, not T (steering reported t_max + 1)."""
    from tmrl_learning.system.steering import context_timesteps

    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), t_max_fraction=0.5,
                         agent=AgentConfig(**SMALL_AGENT))
    agent = make_agent(cfg, LINEWORLD)
    steerer = Steerer(agent, context_timesteps(cfg, LINEWORLD))
    assert agent.cfg.t_max == 10 and steerer.num_context_timesteps == 21  # T = 20 for LineWorld's policy
    assert all(steerer.act(np.array([0.0, 1.0]))[1]["timestep"] <= 10 for _ in range(50))


def test_the_safety_step_clips_refuses_and_counts(checkpoint):
    from tmrl_learning.system.driver import SimDriver
    from tmrl_learning.system.safety import SafetyLimits

    driver = SimDriver(LINEWORLD, seed=0)
    first = driver.reset()
    outcome = driver.execute(np.array([[-3.0], [-0.5]]))  # beyond the action bounds [-1, 1]: clipped
    assert driver.safety.counters.clipped == 1 and driver.safety.counters.passed == 1
    assert outcome.observations[1][0] == pytest.approx(first.observation[0] - 0.4)  # moved by the clipped -1
    assert outcome.observation.stamp >= outcome.stamps[-1] >= outcome.stamps[0] >= first.stamp > 0
    careful = SimDriver(LINEWORLD, seed=0, safety=SafetyLimits(max_step=0.5, refuse_large_steps=True))
    careful.reset()
    outcome = careful.execute(np.array([[0.2], [0.9], [0.0]]))  # 0.2 -> 0.9 changes by 0.7 > 0.5: refused
    assert outcome.executed == 1 and outcome.terminated and not outcome.success and "max_step" in outcome.refused
    assert careful.safety.counters.refused == 1 and careful.ended
    with pytest.raises(RuntimeError, match="episode has ended"):
        careful.execute(np.zeros((1, 1)))
    gentle = SimDriver(LINEWORLD, seed=0, safety=SafetyLimits(max_step=0.5))
    gentle.reset()
    gentle.execute(np.array([[0.2], [0.9]]))
    assert gentle.safety.previous.tolist() == [0.7] and gentle.safety.counters.clipped == 1  # clipped, not refused


def _export_at_once(args):
    checkpoint, path, barrier = args
    from tmrl_learning.csp.checkpoint import load_policy
    from tmrl_learning.csp.export import export_onnx
    from tmrl_learning.csp.sampler import load_sampler

    policy, _ = load_policy(checkpoint)
    barrier.wait()
    for _ in range(6):  # many chances for the writes of the processes to overlap
        export_onnx(policy, path)
    return float(load_sampler(checkpoint, "onnx", onnx_path=path).onnx.max_difference)


@pytest.mark.slow
def test_several_processes_export_the_onnx_sampler_to_one_path_at_once(checkpoint, tmp_path):
    """robots:=2, or a policy server beside in-process samplers: each process exports the same
    checkpoint's sampler to the same file at start-up. Every one must come up, and the file stays whole."""
    import multiprocessing

    import onnxruntime

    context = multiprocessing.get_context("spawn")
    path = str(tmp_path / "sampler.onnx")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            differences = pool.map(_export_at_once, [(str(checkpoint), path, barrier)] * 4)
    assert all(d <= 1e-5 for d in differences)
    session = onnxruntime.InferenceSession(path)  # a whole model, loadable
    assert [o.name for o in session.get_outputs()] == ["chunk"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sampler.onnx"]  # no partial file left behind


def test_a_held_intervention_replaces_the_chunk_and_the_learner_drops_it_by_default(checkpoint):
    """LineWorld's driver executes the human's action while it is refreshed; a release or a silent input
    hands control back; the learner drops intervened transitions unless told to keep them."""
    from tmrl_learning.system.intervention import JoyMapping

    driver = make_driver(LINEWORLD, 0)
    driver.reset(0)
    chunk = np.full((4, 1), 0.8, np.float32)
    driver.intervene(np.array([-0.5]))
    out = driver.execute(chunk, 2)
    assert out.intervened == 2 and np.allclose(out.actions, -0.5)
    driver.intervene(None)
    out = driver.execute(chunk, 2)
    assert out.intervened == 0 and np.allclose(out.actions, 0.8)
    driver.intervene(np.array([-0.5]))
    driver._human = (driver._human[0], driver._human[1] - driver.intervention_timeout_s - 0.1)  # input went quiet
    assert driver.execute(chunk, 1).intervened == 0
    with pytest.raises(ValueError, match="an intervention must be 1 finite values"):
        driver.intervene(np.array([np.nan]))

    mapping = JoyMapping(axes=(1, -1, 0), scale=(2.0, 1.0, 0.5), deadman_button=0, gripper_index=1, gripper_button=1)
    assert mapping.action([0.2, 0.9], [0, 0]) is None
    np.testing.assert_allclose(mapping.action([0.2, 0.9], [1, 0]), [1.0, 1.0, 0.1])
    np.testing.assert_allclose(mapping.action([0.2, -0.3], [1, 1]), [-0.6, -1.0, 0.1])

    agent = agent_for(checkpoint)
    transition = {"observation": np.zeros(2), "steering_action": np.zeros(agent.action_dim), "reward": -1.0,
                  "next_observation": np.zeros(2), "terminated": 0.0}
    dropping, keeping = Learner(agent, LearnerConfig()), Learner(agent, LearnerConfig(use_intervened=True))
    assert not dropping.add(("s", 0, 0), transition, intervened=2) and dropping.dropped_intervened == 1
    assert dropping.add(("s", 0, 1), transition) and len(dropping.buffer) == 1
    assert keeping.add(("s", 0, 0), transition, intervened=2) and len(keeping.buffer) == 1


def test_the_actors_camera_embedding_is_matched_by_stamp_and_computed_once():
    from tmrl_learning.system.image_features import ImageFeatures
    from tmrl_learning.system.images import ImageEncoder

    class Counting(ImageEncoder):
        calls = 0

        def encode(self, image):
            Counting.calls += 1
            return super().encode(image)

    features = ImageFeatures(Counting("pooled", 4, 3), slop=0.05, keep=4)
    Counting.calls = 0
    state = np.array([1.0, 2.0], np.float32)
    assert features.dim == 48 and features.observation(state, 10.0) is None  # no image yet
    bright, dark = np.full((8, 8, 3), 255, np.uint8), np.zeros((8, 8, 3), np.uint8)
    features.add(10.0, bright)
    features.add(10.5, dark)
    assert features.observation(state, 10.2) is None  # no image within 50 ms
    seen = features.observation(state, 10.01)
    assert seen.shape == (50,) and np.array_equal(seen[:2], state) and np.allclose(seen[2:], 1.0)
    assert np.allclose(features.observation(state, 10.5)[2:], 0.0)
    features.observation(state, 10.0)
    assert Counting.calls == 2  # each image encoded once
    for k in range(6):  # older images fall out of the window
        features.add(11.0 + k, dark)
    assert features.at(10.0) is None
