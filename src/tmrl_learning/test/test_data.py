"""OGBench data: generators, the dataset layout, the out-of-distribution splits, the goal envs."""

from __future__ import annotations

import numpy as np
import pytest

from tmrl_learning.data import DatasetError, load_dataset, save_dataset
from tmrl_learning.data.envs import VectorEnv
from tmrl_learning.data.generate import MazeOracle, generate, get_dataset, make_env, recipe
from tmrl_learning.tasks import (
    CUBE_SINGLE_HELDOUT,
    CUBE_SINGLE_INDIST,
    EMBODIMENTS,
    POINTMAZE_LARGE,
    POINTMAZE_LARGE_TO_GIANT,
    embodiment,
)


def make_goal_env(name, seed=0, tasks=None):
    return embodiment(name).make_env(seed=seed, tasks=tasks)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("maze", ["large", "giant"])
def test_maze_oracle_solves_every_ogbench_evaluation_task(maze):
    env = make_env(f"pointmaze-{maze}-v0").unwrapped
    oracle, rng = MazeOracle(env), np.random.default_rng(0)
    for task_id in range(1, 6):
        env.reset(seed=task_id, options=dict(task_id=task_id))
        for _ in range(1000):
            action = np.clip(oracle.direction(env.get_xy(), env.cur_goal_xy) + rng.normal(0, 0.5, 2), -1, 1)
            *_, info = env.step(action)
            if info["success"]:
                break
        assert info["success"] == 1.0, f"{maze} task {task_id} not solved by the noisy oracle"


def test_maze_oracle_solves_the_split_tasks_in_the_goal_env():
    env = make_goal_env(POINTMAZE_LARGE_TO_GIANT.name)
    oracle = MazeOracle(env.env)
    for task in POINTMAZE_LARGE_TO_GIANT.tasks:
        obs = env.reset(task.name)
        for _ in range(POINTMAZE_LARGE_TO_GIANT.max_steps):
            result = env.step(oracle.direction(obs[:2], obs[2:]))
            obs = result.observation
            if result.terminated or result.truncated:
                break
        assert result.success and result.terminated and result.reward == 0.0, task.name


def test_generated_pointmaze_file_has_ogbench_layout(tmp_path):
    rec = recipe("pointmaze-large-navigate").with_(episodes=3, steps_per_episode=101)
    dataset, path = get_dataset(rec, tmp_path, progress=False)
    with np.load(path) as f:
        assert set(f.files) == {"observations", "actions", "terminals", "qpos", "qvel"}
        for key in ("observations", "actions", "qpos", "qvel"):
            assert f[key].dtype == np.float32 and f[key].shape == (303, 2), key
        assert f["terminals"].dtype == bool and f["terminals"].shape == (303,)
        assert np.flatnonzero(f["terminals"]).tolist() == [100, 201, 302], "one terminal per episode, last row"
    assert np.abs(dataset.actions).max() <= 1.0
    # The agent moves: the oracle's actions take it through the maze.
    assert np.linalg.norm(dataset.observations[100] - dataset.observations[0]) > 1.0
    assert dataset.metadata["recipe"]["episodes"] == 3
    # A second request with the same recipe reuses the cached file.
    mtime = path.stat().st_mtime_ns
    again, same_path = get_dataset(rec, tmp_path, progress=False)
    assert same_path == path and path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.actions, dataset.actions)


def test_generation_is_reproducible_and_seeded():
    rec = recipe("pointmaze-large-navigate").with_(episodes=1, steps_per_episode=50)
    a, b = generate(rec, progress=False), generate(rec, progress=False)
    np.testing.assert_array_equal(a.observations, b.observations)
    c = generate(rec.with_(seed=1), progress=False)
    assert not np.array_equal(a.actions, c.actions)


def test_cube_play_generation_and_heldout_filter(tmp_path):
    rec = recipe("cube-single-play").with_(episodes=2, steps_per_episode=200)
    dataset = generate(rec, progress=False)
    assert dataset.observations.shape == (400, 28) and dataset.actions.shape == (400, 5)
    assert dataset.qpos.shape[1] > 16 and dataset.terminals.sum() == 2
    # Put the cube on known sides of the boundary (x is qpos[:, 14]) so the expected count is exact.
    assert 0.2 < dataset.qpos[:, 14].min() and dataset.qpos[:, 14].max() < 0.7, "qpos[:, 14] is the cube x"
    dataset.qpos[:, 14] = 0.3
    dataset.qpos[50:80, 14] = 0.45
    dataset.qpos[300:310, 14] = 0.5
    kept = CUBE_SINGLE_HELDOUT.filter(dataset)
    assert len(kept) == 400 - 40
    assert not CUBE_SINGLE_HELDOUT.heldout.contains(kept.qpos[:, 14]).any()
    # Each gap ends a segment: row 49 and row 299 become terminals, so no sequence spans a gap.
    assert kept.terminals[49] and kept.terminals[299 - 30]
    assert kept.num_episodes == 2 + 2


def test_cube_evaluation_goals_lie_in_the_heldout_region_and_starts_do_not():
    region = CUBE_SINGLE_HELDOUT.heldout
    for task in CUBE_SINGLE_HELDOUT.tasks:
        assert region.contains(task.goal[0]), task
        assert not region.contains(task.start[0]), task
    for task in CUBE_SINGLE_INDIST.tasks:  # the sanity twin stays inside the demonstrations
        assert not region.contains(np.array([task.start[0], task.goal[0]])).any(), task


def test_in_distribution_twins_match_their_splits_and_ogbench():
    twins = {e.name: e.in_distribution for e in EMBODIMENTS.values() if e.in_distribution}
    assert twins == {POINTMAZE_LARGE_TO_GIANT.name: POINTMAZE_LARGE.name,
                     CUBE_SINGLE_HELDOUT.name: CUBE_SINGLE_INDIST.name}
    for name, twin in twins.items():
        assert embodiment(twin).train_dataset == embodiment(name).train_dataset
        assert make_goal_env(twin).obs_dim == make_goal_env(name).obs_dim
    # The pointmaze twin holds OGBench's own evaluation tasks of the large maze.
    ogbench = make_goal_env(POINTMAZE_LARGE.name).env.task_infos
    assert [(t.start, t.goal) for t in POINTMAZE_LARGE.tasks] == [(i["init_ij"], i["goal_ij"]) for i in ogbench]


def test_cube_goal_env_places_cube_and_goal_as_the_task_says():
    env = make_goal_env(CUBE_SINGLE_HELDOUT.name, tasks=["heldout3"])
    obs = env.reset()
    assert obs.shape == (31,)
    np.testing.assert_allclose(CUBE_SINGLE_HELDOUT.split_observation(obs)[0], (0.525, 0.1, 0.02), atol=1e-6)
    np.testing.assert_allclose(env.cube_position()[:2], (0.35, -0.1), atol=0.011)
    result = env.step_chunk(np.zeros((8, 5)), 5)
    assert result.executed == 5 and result.reward == -5.0 and not result.terminated


def test_official_layout_file_loads(tmp_path):
    path = tmp_path / "pointmaze-giant-navigate-v0.npz"
    n = 2 * 4
    terminals = np.zeros(n, bool)
    terminals[[3, 7]] = True
    np.savez(path, observations=np.zeros((n, 2), np.float32), actions=np.ones((n, 2), np.float32),
             terminals=terminals, qpos=np.zeros((n, 2), np.float32), qvel=np.zeros((n, 2), np.float32))
    dataset = load_dataset(path)
    assert dataset.num_episodes == 2 and [s.stop for s in dataset.episode_slices()] == [4, 8]
    assert dataset.metadata == {}


@pytest.mark.parametrize("drop", ["observations", "actions", "terminals"])
def test_wrong_layout_names_the_missing_key(tmp_path, drop):
    arrays = {"observations": np.zeros((4, 2), np.float32), "actions": np.zeros((4, 2), np.float32),
              "terminals": np.array([0, 0, 0, 1], bool)}
    del arrays[drop]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=f"missing key '{drop}'"):
        load_dataset(tmp_path / "bad.npz")


def test_corrupt_file_and_bad_values_are_reported(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="not a readable npz"):
        load_dataset(tmp_path / "corrupt.npz")
    obs = np.zeros((4, 2), np.float32)
    obs[1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", observations=obs, actions=np.zeros((4, 2), np.float32),
             terminals=np.array([0, 0, 0, 1], bool))
    with pytest.raises(DatasetError, match="NaN"):
        load_dataset(tmp_path / "nan.npz")
    with pytest.raises(DatasetError, match="no dataset file"):
        load_dataset(tmp_path / "missing.npz")


def test_save_then_load_round_trips(tmp_path):
    rec = recipe("pointmaze-large-navigate").with_(episodes=1, steps_per_episode=20)
    dataset = generate(rec, progress=False)
    path = save_dataset(dataset, tmp_path / "d.npz", {"note": "x"})
    back = load_dataset(path)
    np.testing.assert_array_equal(back.observations, dataset.observations)
    assert back.metadata["note"] == "x" and back.metadata["recipe"]["seed"] == 0


def test_vector_env_macro_steps_and_auto_reset():
    venv = VectorEnv.of(POINTMAZE_LARGE_TO_GIANT, num_envs=3, seed=5)
    obs = venv.reset()
    assert obs.shape == (3, 4) and venv.embodiment.split_observation(obs)[0].shape == (3, 4)
    out = venv.step_chunks(np.zeros((3, 32, 2)), execute=5)
    assert out["executed"].tolist() == [5, 5, 5] and out["reward"].tolist() == [-5.0] * 3
    # Drive env 0 into its time limit: the returned start observation is a fresh episode's.
    venv.envs[0].steps = POINTMAZE_LARGE_TO_GIANT.max_steps - 2
    out = venv.step_chunks(np.zeros((3, 32, 2)), execute=5)
    assert out["truncated"].tolist() == [True, False, False] and out["executed"][0] == 2
    assert venv.envs[0].steps == 0
    with pytest.raises(ValueError, match="NaN"):
        venv.envs[1].step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        venv.envs[1].step(np.zeros(3))
    with pytest.raises(ValueError, match="3 envs"):
        venv.step_chunks(np.zeros((2, 32, 2)), 5)


def test_data_cli_generates_reuses_and_reports(tmp_path, capsys):
    from tmrl_learning.cli import main

    args = ["data", "generate", "pointmaze-giant-navigate", "--episodes", "2", "--steps", "30", "--out",
            str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert "60 rows, 2 episodes (generated" in capsys.readouterr().out
    assert main(args) == 0
    assert "(reused" in capsys.readouterr().out
    (path,) = tmp_path.glob("*.npz")
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "observations  float32  (60, 2)" in out and "pointmaze-giant-v0" in out
    assert main(["data", "info", str(tmp_path / "missing.npz")]) == 2
    assert "no dataset file" in capsys.readouterr().err


class _MazeOraclePolicy:
    """The data generator's BFS oracle as a Sampler: what a perfect pre-trained pointmaze policy would
    do, so the evaluator must report success for it."""

    action_dim, context_dim, context_noise_dim, proprio_dim, num_timesteps = 2, 4, 4, 0, 100

    def __init__(self, env_id: str, horizon: int = 8, scale: float = 1.0):
        self.oracle = MazeOracle(make_env(env_id).unwrapped)
        self.horizon, self.scale = horizon, scale

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None):
        directions = [self.scale * self.oracle.direction(c[:2], c[2:]) for c in np.asarray(context, np.float64)]
        return np.repeat(np.stack(directions)[:, None], self.horizon, 1).astype(np.float32)


@pytest.mark.parametrize("task", [POINTMAZE_LARGE_TO_GIANT.name, POINTMAZE_LARGE.name])
def test_evaluator_reports_success_exactly_when_the_policy_reaches_the_goal(task):
    from tmrl_learning.csp.evaluate import coverage_curve, rollout_batch, success_at_k

    env_id = embodiment(task).env_id
    for name in (t.name for t in embodiment(task).tasks):  # every evaluation task is solvable in its step limit
        assert rollout_batch(_MazeOraclePolicy(env_id), task, [0], timestep=0, task_names=[name]).all(), name
    idle = success_at_k(_MazeOraclePolicy(env_id, scale=0.0), task, starts=2, k=2, timestep=0)
    assert not idle.any() and coverage_curve(idle).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("task", [CUBE_SINGLE_HELDOUT.name, CUBE_SINGLE_INDIST.name])
def test_every_cube_evaluation_task_is_solvable_in_its_step_limit(task):
    """OGBench's plan oracle (the data's own demonstrator) moves the cube onto each task's goal within
    the limit, and the goal env reports the success: a policy scoring 0 is not facing an impossible task."""
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle

    env = make_goal_env(task)
    for goal_task in env.tasks:
        np.random.seed(0)  # noqa: NPY002 - the oracle draws from numpy's global generator
        env.reset(goal_task.name)
        target = {"privileged/target_block": 0, "privileged/target_task": "task",  # what data-collection
                  "privileged/target_block_pos": np.asarray(goal_task.goal, float),  # mode would add
                  "privileged/target_block_yaw": np.zeros(1)}

        def info(target=target):
            return {**env.env.compute_ob_info(), **target}

        oracle = CubePlanOracle(env=env.env, segment_dt=0.4, noise=0.0, noise_smoothing=0.5)
        oracle.reset(env.env.compute_observation(), info())
        for _ in range(env.embodiment.max_steps):
            result = env.step(np.clip(oracle.select_action(env.env.compute_observation(), info()), -1, 1))
            if result.terminated or result.truncated:
                break
        assert result.success and result.terminated, (task, goal_task.name, env.steps)


def test_coverage_table_lists_every_timestep_and_the_in_distribution_check():
    from tmrl_learning.csp.coverage import coverage_table

    report = {"starts": 4, "k": 2, "methods": {
        "csp": {"curves": {0: [0.0, 0.25], 100: [0.25, 0.5]}, "intervals": {0: [[0, 0], [0, 0.75]]},
                "in_distribution": {"task": "twin", "curve": [0.5, 1.0]}},
        "bc": {"curves": {0: [0.0, 0.0]}}}}
    rows = coverage_table(report).splitlines()
    assert rows[0] == "4 out-of-distribution starts, K = 2" and "success@2" in rows[2] and "interval" in rows[2]
    assert rows[4:] == ["| csp | 0 | 0.00 | 0.25 | [0.00, 0.75] |", "| csp | 100 | 0.25 | 0.50 |  |",
                        "| csp, in distribution (twin) | 0 | 0.50 | 1.00 |  |", "| bc | 0 | 0.00 | 0.00 |  |"]


def test_coverage_intervals_bracket_success_at_k_and_narrow_with_more_starts():
    from tmrl_learning.csp.evaluate import coverage_curve, coverage_interval

    rng = np.random.default_rng(0)
    small, large = rng.random((10, 5)) < 0.1, rng.random((200, 5)) < 0.1
    for matrix in (small, large):
        band, curve = coverage_interval(matrix), coverage_curve(matrix)
        assert band.shape == (5, 2) and ((band[:, 0] <= curve) & (curve <= band[:, 1])).all()
    assert (np.diff(coverage_interval(large), axis=1) < np.diff(coverage_interval(small), axis=1)).all()
    assert coverage_interval(np.zeros((50, 3), bool)).max() == 0.0  # never covered: no width to invent


def test_coverage_reuses_envs_without_changing_the_start_states():
    from tmrl_learning.csp.evaluate import rollout_batch

    policy = _MazeOraclePolicy(POINTMAZE_LARGE_TO_GIANT.env_id, scale=0.0)
    envs = [make_goal_env(POINTMAZE_LARGE_TO_GIANT.name, seed=s) for s in (3, 4, 5)]
    rollout_batch(policy, POINTMAZE_LARGE_TO_GIANT.name, [3, 4, 5], 0, envs=envs, max_steps=10)
    reused = [env.task.name for env in envs]
    for env in envs:
        env.reset()  # another episode in between: the reseeding must undo it
    rollout_batch(policy, POINTMAZE_LARGE_TO_GIANT.name, [3, 4, 5], 0, envs=envs, max_steps=10)
    fresh = [make_goal_env(POINTMAZE_LARGE_TO_GIANT.name, seed=s) for s in (3, 4, 5)]
    for env in fresh:
        env.reset()
    assert [env.task.name for env in envs] == reused == [env.task.name for env in fresh]


def test_rollouts_in_the_policys_deterministic_mode_feed_zero_noise():
    from tmrl_learning.csp.evaluate import rollout_batch

    class Recording(_MazeOraclePolicy):
        def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None):
            self.seen.append((np.abs(action_noise).max(), np.abs(context_noise).max()))
            return super().sample(context, proprio, action_noise, timestep, context_noise)

    for zero, expect_zero in ((True, True), (False, False)):
        policy = Recording(POINTMAZE_LARGE_TO_GIANT.env_id, scale=0.0)
        policy.seen = []
        rollout_batch(policy, POINTMAZE_LARGE_TO_GIANT.name, [3, 4], 0, max_steps=10, zero_noise=zero)
        assert len(policy.seen) == 2 and all((w == 0 and e == 0) == expect_zero for w, e in policy.seen)


def test_coverage_measures_a_cfg_policy_at_each_guidance_weight_it_is_given():
    """The weight reaches the sampler at every decision and decides the outcome: an oracle that moves only
    as far as the weight says succeeds at omega = 1 and never at omega = 0 from the same starts; only a CFG
    checkpoint (which has an unconditional branch) is expanded over weights."""
    from tmrl_learning.csp.coverage import coverage_weights
    from tmrl_learning.csp.evaluate import success_at_k

    class Guided(_MazeOraclePolicy):
        def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None):
            assert guidance is not None and guidance.shape == (len(context),)
            self.scale = float(guidance[0])
            return super().sample(context, proprio, action_noise, timestep, context_noise)

    task = POINTMAZE_LARGE.name
    policy = Guided(embodiment(task).env_id)
    assert success_at_k(policy, task, starts=2, k=1, timestep=0, guidance=1.0).all()
    assert not success_at_k(policy, task, starts=2, k=1, timestep=0, guidance=0.0).any()
    weights = [0.0, 1.0, 4.0]
    assert coverage_weights({"config": {"method": "cfg"}}, weights) == weights
    assert coverage_weights({"config": {"method": "cfg"}}, None) == [None]
    assert coverage_weights({"config": {"method": "csp"}}, weights) == [None]
