"""LIBERO through its server process (its own venv, mujoco 3): the real LIBERO environments of the two
tasks the paper fine-tunes on, the scripted demonstrator, and the demonstrations' file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tmrl_learning.libero.client import LiberoError, LiberoProcess
from tmrl_learning.libero.demos import generate, run_episode
from tmrl_learning.libero.scripted import PickPlaceScript

pytestmark = pytest.mark.slow

TASKS = [("libero_90", 51, "pick up the butter and put it in the basket", ["butter_1", "basket_1"]),
         ("libero_goal_swap", 6, "put the cream cheese in the bowl", ["cream_cheese_1", "akita_black_bowl_1"])]


@pytest.mark.parametrize(("suite", "index", "language", "objects"), TASKS)
def test_the_scripted_demonstrator_solves_the_task_from_its_init_states(suite, index, language, objects):
    with LiberoProcess(suite, index) as env:
        assert (env.language, env.objects, env.init_states) == (language, objects, 50)
        script = PickPlaceScript(*env.objects, noise=0.05)
        results = [run_episode(env, script, i, max_steps=400) for i in (0, 17, 33)]
        assert all(success for _, success in results)
        start = env.reset(0)
        moved, _, success = env.step(np.array([0.0, 0.0, 1.0, 0, 0, 0, -1.0]))  # up: the arm answers
        assert moved["proprio"][2] > start["proprio"][2] and not success


def test_demonstrations_are_written_in_the_pretrainers_layout(tmp_path):
    out = tmp_path / "demos.npz"
    summary = generate("libero_90", 51, episodes=2, out=out, image_size=32, cameras=("agentview",))
    assert summary["successes"] == 2 and summary["success_rate"] == 1.0
    assert json.loads(out.with_suffix(".json").read_text())["language"] == "pick up the butter and put it in the basket"
    with np.load(out) as data:
        n = len(data["actions"])
        assert data["observations"].shape == (n, 9) and data["actions"].shape == (n, 7)
        assert data["terminals"].sum() == 2 and data["terminals"][-1]
        images = data["images_agentview"]
        assert images.shape == (n, 32, 32, 3) and images.dtype == np.uint8
        assert images[0].std() > 10  # a rendered scene, not a blank frame
        assert np.abs(data["actions"][:, :3]).max() <= 1.0 and set(np.unique(data["actions"][:, 6])) == {-1.0, 1.0}


def test_bad_requests_are_named_and_the_server_keeps_serving(monkeypatch, tmp_path):
    with pytest.raises(LiberoError, match="unknown LIBERO suite 'libero_nine'"):
        LiberoProcess("libero_nine", 0).close()
    with LiberoProcess("libero_90", 51) as env:
        env.reset(0)
        with pytest.raises(LiberoError, match="7 finite values"):
            env.step(np.array([np.nan] * 7))
        with pytest.raises(LiberoError, match="7 finite values"):
            env.step(np.zeros(6))
        assert env.step(np.zeros(7))[0]["proprio"].shape == (9,)
    monkeypatch.setenv("TMRL_LIBERO_PYTHON", str(tmp_path / "missing" / "python"))
    with pytest.raises(FileNotFoundError, match="LIBERO runs in its own Python environment: no interpreter at"):
        LiberoProcess("libero_90", 51)


def test_a_libero_task_is_a_goal_env_and_its_demonstrator_succeeds_through_it():
    from tmrl_learning.tasks import embodiment

    task = embodiment("libero-90-51")
    env = task.make_env(seed=0)
    try:
        obs = env.reset("init-5")
        assert obs.shape == (15,) and env.task.name == "init-5"
        np.testing.assert_allclose(obs[9:], np.concatenate(list(env.raw_positions()["positions"].values())))
        script = PickPlaceScript(*env.process.objects)
        for _ in range(task.max_steps):
            result = env.step(script.act(env.raw_positions()))
            if result.terminated or result.truncated:
                break
        assert result.success and result.terminated and result.reward == 0.0 and env.steps < task.max_steps
        with pytest.raises(ValueError, match="NaN"):
            env.step(np.full(7, np.nan))
    finally:
        env.close()
