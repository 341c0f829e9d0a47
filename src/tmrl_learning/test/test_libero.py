"""LIBERO through its server process (its own venv, mujoco 3): the real LIBERO environments of the two
tasks the paper fine-tunes on, the scripted demonstrator, and the demonstrations' file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

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


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Two scripted demonstrations of LIBERO-90 task 51 with 32 x 32 agentview images."""
    out = tmp_path_factory.mktemp("libero") / "demos.npz"
    return out, generate("libero_90", 51, episodes=2, out=out, image_size=32, cameras=("agentview",))


def test_demonstrations_are_written_in_the_pretrainers_layout(demos):
    out, summary = demos
    assert summary["successes"] == 2 and summary["success_rate"] == 1.0
    assert json.loads(out.with_suffix(".json").read_text())["language"] == "pick up the butter and put it in the basket"
    with np.load(out) as data:
        n = len(data["actions"])
        assert data["observations"].shape == (n, 12) and data["actions"].shape == (n, 7)
        assert data["qpos"].shape == (n, 6) and np.array_equal(data["qpos"][:, :3], data["observations"][:, 9:])
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


def test_a_tiny_pi0_csp_trains_on_the_demonstrations_and_resumes(demos, tmp_path):
    """The VLA path on LIBERO's data: camera image + the instruction (a tokenizer from a path) -> prefix,
    CSP flow matching on the demonstrated chunks; the loss falls, and a stopped run resumes exactly."""
    from transformers import PI0ForConditionalGeneration

    from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, load_csp_pi0, save_csp_pi0, tiny_pi0_config
    from tmrl_learning.vla.tokenizer import build_word_tokenizer
    from tmrl_learning.vla.train import train_csp

    out, summary = demos
    tokenizer = tmp_path / "tokenizer"
    build_word_tokenizer([summary["language"]], tokenizer, vocab_size=300)
    torch.manual_seed(0)
    base = save_csp_pi0(tmp_path / "base", CspPi0(PI0ForConditionalGeneration(tiny_pi0_config(horizon=4)),
                                                  CspPi0Config(7, 9, 12)))
    run = tmp_path / "csp"
    first = train_csp(base, out, tokenizer, run, steps=20, batch_size=8, lr=1e-2, checkpoint_every=10,
                      progress=False)
    losses = train_csp(base, out, tokenizer, run, steps=300, batch_size=8, lr=1e-2, checkpoint_every=10,
                       progress=False)
    assert losses[:20] == first and len(losses) == 300  # resumed at step 20, not restarted
    assert np.mean(losses[-20:]) < 0.8 * np.mean(losses[:20]), (losses[:20], losses[-20:])  # measured: 0.64
    assert load_csp_pi0(run).cfg.proprio_dim == 9
    with pytest.raises(FileNotFoundError, match="no tokenizer folder"):
        train_csp(base, out, tmp_path / "nothing", tmp_path / "x", steps=1)


def test_the_pretrainer_reads_libero_data_from_its_recipe(tmp_path):
    """libero-90-51's train_dataset is the scripted demonstrator's (no images): rows are the embodiment's
    state, and the relabelled goal is the target's position."""
    from tmrl_learning.csp.data import ChunkSampler
    from tmrl_learning.data.generate import get_dataset, recipe
    from tmrl_learning.tasks import embodiment

    task = embodiment("libero-90-51")
    dataset, path = get_dataset(recipe(task.train_dataset).with_(episodes=2), tmp_path, progress=False)
    assert path.is_file() and dataset.num_episodes == 2 and dataset.qpos.shape == (len(dataset), 6)
    assert dataset.observations.shape[1] == task.obs_dim - task.goal_dim
    _, context, proprio = ChunkSampler(dataset, task, 8, "final", seed=0).tensors(np.arange(len(dataset)))
    assert context.shape == (len(dataset), 6) and proprio.shape == (len(dataset), 9)
    np.testing.assert_allclose(context[:, :3].numpy(), dataset.observations[:, 9:12], atol=1e-6)  # the object
    # the goal: the target where the episode ends (the basket shifts by millimetres as the object drops in)
    np.testing.assert_allclose(context[:, 3:].numpy(), dataset.qpos[:, 3:], atol=5e-3)


def test_an_evaluation_holds_at_most_max_envs_libero_servers(monkeypatch, tmp_path):
    """Each LIBERO env is a ~1.2 GB server process: 20 at once ran this machine out of memory. Evaluations
    run the embodiment's `max_envs` (4) at a time and close them."""
    from tmrl_learning.csp.evaluate import evaluation_rollouts
    from tmrl_learning.csp.model import DiTConfig
    from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
    from tmrl_learning.csp.sampler import FlowSampler
    from tmrl_learning.evaluation_envs import EvaluationEnvs
    from tmrl_learning.libero import client
    from tmrl_learning.tasks import embodiment

    task = embodiment("libero-90-51")
    alive, most = [0], [0]
    started, closed = client.LiberoProcess.__init__, client.LiberoProcess.close

    def start(self, *args, **kwargs):
        started(self, *args, **kwargs)
        alive[0] += 1
        most[0] = max(most[0], alive[0])

    def close(self):
        alive[0] -= self.process.poll() is None
        closed(self)

    monkeypatch.setattr(client.LiberoProcess, "__init__", start)
    monkeypatch.setattr(client.LiberoProcess, "close", close)
    model = DiTConfig(horizon=4, action_dim=7, context_dim=task.context_dim, proprio_dim=task.proprio_dim,
                      hidden=16, embed=16, layers=1, heads=2, time_frequencies=4)
    success = evaluation_rollouts(FlowSampler(FlowPolicy(PolicyConfig(model=model))), EvaluationEnvs(task, 6), 0,
                                  execute=4, max_steps=8)
    assert success.shape == (6,) and most[0] == task.max_envs == 4 and alive[0] == 0


def test_a_vla_task_renders_its_camera_with_every_observation():
    """libero-90-51-vla: the driver's observations carry the agent-view image taken with them (what the
    bridge publishes for perception); an instruction that is not LIBERO's own is refused."""
    import dataclasses

    from tmrl_learning.system.driver import make_driver
    from tmrl_learning.tasks import embodiment

    spec = embodiment("libero-90-51-vla")
    driver = make_driver(spec, 0)
    try:
        first = driver.reset(0)
        image = first.images["agentview"]
        assert first.observation.shape == (15,) and image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert image.std() > 10
        up = np.tile(np.array([0.0, 0.0, 1.0, 0, 0, 0, -1.0], np.float32), (8, 1))
        after = driver.execute(up, 8).observation
        assert after.stamp > first.stamp and np.abs(after.images["agentview"].astype(int) - image).mean() > 0.5
    finally:
        driver.close()
    env = dataclasses.replace(spec, instruction="put the butter in the bowl").make_env(0)
    with pytest.raises(ValueError, match="is not LIBERO's"):
        env.reset()
    assert env.process is None  # its server was closed
