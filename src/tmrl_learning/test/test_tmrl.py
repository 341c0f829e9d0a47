"""TMRL: the steering agent's heads, temperatures, targets, resume, and a task that only timestep
modulation can solve."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from tmrl_learning.csp.sampler import FlowSampler, load_sampler
from tmrl_learning.csp.toy import pretrain_lineworld, save_lineworld_checkpoint
from tmrl_learning.data.envs import VectorEnv
from tmrl_learning.data.toy import LineWorld
from tmrl_learning.tasks import LINEWORLD
from tmrl_learning.tmrl.agent import AgentConfig, SteeringAgent
from tmrl_learning.tmrl.config import FinetuneConfig, UpdateSchedule
from tmrl_learning.tmrl.evaluate import timestep_traces
from tmrl_learning.tmrl.finetune import finetune
from tmrl_learning.tmrl.replay import ReplayBuffer

SMALL_AGENT = dict(hidden=64, actor_layers=2, critic_layers=2, critics=2, batch_size=128)


def small_agent(heads=None, **kw) -> SteeringAgent:
    cfg = AgentConfig(heads=heads or {"noise": 2, "timestep": 1, "context_noise": 3}, **{**SMALL_AGENT, **kw})
    return SteeringAgent(obs_dim=4, cfg=cfg, seed=0)


def test_heads_map_to_the_sampler_inputs():
    agent = small_agent(t_max=80, noise_bound=0.5, context_noise_bound=2.0)
    y = np.array([[-1.0, 1.0, -1.0, -1.0, 0.5, 1.0],
                  [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]], np.float32)
    inputs = agent.decode(y)
    assert inputs["noise"].tolist() == [[-0.5, 0.5], [0.5, 0.0], [0.0, 0.0]]
    assert inputs["timestep"].tolist() == [0, 40, 80], "[-1, 1] -> [0, t_max], the ends included"
    assert inputs["context_noise"][0].tolist() == [-2.0, 1.0, 2.0]
    acted = agent.act(np.zeros((7, 4), np.float32))
    assert acted.shape == (7, 6) and np.abs(acted).max() <= 1.0
    assert set(agent.decode(acted)["timestep"].tolist()) <= set(range(81))


def test_squashed_log_prob_matches_torch_distributions():
    agent = small_agent(heads={"noise": 2})
    torch.manual_seed(0)
    obs = torch.randn(5, 4)
    h = agent.actor.trunk(obs)
    mean, log_std = agent.actor.heads["noise"](h).chunk(2, -1)
    log_std = log_std.clamp(-5, 2)
    torch.manual_seed(1)
    y, logp = agent.actor(obs)
    dist = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()), [torch.distributions.TanhTransform(cache_size=1)])
    expected = dist.log_prob(y.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1)
    torch.testing.assert_close(logp["noise"], expected, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("direction", ["too_random", "too_certain"])
def test_each_temperature_moves_toward_its_target_entropy(direction):
    agent = small_agent(heads={"noise": 2, "timestep": 1})
    # Entropy estimates above (below) the targets -2 and -1 must lower (raise) both temperatures.
    logp = {"noise": torch.full((64,), -5.0), "timestep": torch.full((64,), -4.0)} if direction == "too_random" \
        else {"noise": torch.full((64,), 6.0), "timestep": torch.full((64,), 5.0)}
    before = {k: float(v.detach()) for k, v in agent.alphas().items()}
    for _ in range(50):
        agent.update_temperature(logp)
    after = {k: float(v) for k, v in agent.alphas().items()}
    for k in before:
        assert (after[k] < before[k]) if direction == "too_random" else (after[k] > before[k]), (k, before, after)


def test_critic_target_is_reward_plus_discounted_min_of_target_critics():
    agent = small_agent(heads={"noise": 2}, gamma=0.9, critics=3)
    batch = {"observation": torch.randn(6, 4), "next_observation": torch.randn(6, 4),
             "steering_action": torch.rand(6, 2) * 2 - 1, "reward": torch.tensor([-1.0, 0, -1, -1, 0, -1]),
             "terminated": torch.tensor([0.0, 1, 0, 0, 1, 0])}
    torch.manual_seed(5)
    target = agent.critic_target(batch)
    torch.manual_seed(5)
    next_y, _ = agent.actor(batch["next_observation"])
    q_next = agent.target(batch["next_observation"], next_y).min(0).values  # noise only: y as it is
    expected = batch["reward"] + 0.9 * (1 - batch["terminated"]) * q_next
    torch.testing.assert_close(target, expected)
    assert torch.equal(target[[1, 4]], batch["reward"][[1, 4]]), "no bootstrap after termination"


def test_critic_ensemble_is_one_batched_op_with_independent_members():
    agent = small_agent(heads={"noise": 2}, critics=4)
    q = agent.critic(torch.randn(9, 4), torch.randn(9, 2))
    assert q.shape == (4, 9) and len({round(float(v), 6) for v in q[:, 0]}) == 4


def test_critics_see_the_timestep_as_sinusoidal_features_with_gradient():
    agent = small_agent(heads={"noise": 2, "timestep": 1, "context_noise": 3}, t_max=99)
    y = (torch.rand(5, 6) * 2 - 1).requires_grad_()
    seen = agent.critic_input(y)
    assert seen.shape == (5, 2 + 64 + 3) and agent.critic_width == 69
    assert torch.equal(seen[:, :2], y[:, :2]) and torch.equal(seen[:, -3:], y[:, -3:])
    t = (y[:, 2] + 1) / 2 * 100
    torch.testing.assert_close(seen[:, 2 + 32], torch.sin(t))  # the fastest sine: frequency 1
    (grad,) = torch.autograd.grad(agent.q(torch.randn(5, 4), y).sum(), y)
    assert (grad[:, 2] != 0).all(), "the actor's gradient must reach the timestep head"
    assert small_agent(heads={"noise": 2}).critic_width == 2  # no timestep head: y as it is
    assert small_agent(timestep_embedding=0).critic_input(y) is y


def test_resume_reproduces_the_same_losses(tmp_path):
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(obs_dim=4, action_dim=2, capacity=512)
    buffer.add(observation=rng.normal(size=(300, 4)), steering_action=rng.uniform(-1, 1, (300, 2)),
               reward=-np.ones(300), next_observation=rng.normal(size=(300, 4)), terminated=np.zeros(300))
    agent = small_agent(heads={"noise": 2})
    for _ in range(3):
        agent.update(buffer.sample(128, rng))
    torch.save(agent.state_dict(), tmp_path / "agent.pt")
    buffer.save(tmp_path / "replay.npz")

    restored = small_agent(heads={"noise": 2})
    restored.load_state_dict(torch.load(tmp_path / "agent.pt"))
    restored_buffer = ReplayBuffer(obs_dim=4, action_dim=2, capacity=512)
    restored_buffer.load(tmp_path / "replay.npz")
    assert len(restored_buffer) == 300
    batch = buffer.sample(128, np.random.default_rng(1))
    torch.manual_seed(9)
    original = agent.update(batch)
    torch.manual_seed(9)
    again = restored.update(restored_buffer.sample(128, np.random.default_rng(1)))
    assert original == again


def test_replay_buffer_rejects_bad_transitions():
    buffer = ReplayBuffer(obs_dim=2, action_dim=1, capacity=10)
    good = dict(observation=np.zeros((3, 2)), steering_action=np.zeros((3, 1)), reward=np.zeros(3),
                next_observation=np.zeros((3, 2)), terminated=np.zeros(3))
    with pytest.raises(ValueError, match="'observation' has shape"):
        buffer.add(**{**good, "observation": np.zeros((3, 5))})
    with pytest.raises(ValueError, match="NaN"):
        buffer.add(**{**good, "reward": np.array([0.0, math.nan, 0.0])})
    with pytest.raises(KeyError, match="terminated"):
        buffer.add(**{k: v for k, v in good.items() if k != "terminated"})
    buffer.add(**good)
    assert len(buffer) == 3


def test_checkpoints_with_a_separate_temperature_optimizer_still_resume_exactly():
    """Agents saved before the temperatures joined the actor's optimizer (an "alpha_opt" of their own)
    load with their Adam moments and then update exactly like the agent that saved them."""
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(obs_dim=4, action_dim=6, capacity=512)
    buffer.add(observation=rng.normal(size=(300, 4)), steering_action=rng.uniform(-1, 1, (300, 6)),
               reward=-np.ones(300), next_observation=rng.normal(size=(300, 4)), terminated=np.zeros(300))
    agent = small_agent()
    for _ in range(3):
        agent.update(buffer.sample(128, rng))
    state = copy.deepcopy(agent.state_dict())  # as saved: optimizer moments not shared with the live agent
    actor_group, alpha_group = state["actor_opt"]["param_groups"]
    n = len(actor_group["params"])
    legacy = {**state, "actor_opt": {"state": {i: v for i, v in state["actor_opt"]["state"].items() if i < n},
                                     "param_groups": [actor_group]},
              "alpha_opt": {"state": {i - n: v for i, v in state["actor_opt"]["state"].items() if i >= n},
                            "param_groups": [{**alpha_group, "params": [i - n for i in alpha_group["params"]]}]}}
    restored = small_agent()
    restored.load_state_dict(legacy)
    batch = buffer.sample(128, np.random.default_rng(1))
    torch.manual_seed(9)
    original = agent.update(batch)
    torch.manual_seed(9)
    assert restored.update(batch) == original
    broken = {**legacy, "alpha_opt": {**legacy["alpha_opt"], "param_groups": [alpha_group, alpha_group]}}
    with pytest.raises(ValueError, match="one parameter group"):
        small_agent().load_state_dict(broken)


def _numbered(start: int, n: int) -> dict:
    r = np.arange(start, start + n, dtype=np.float32)
    return dict(observation=r[:, None].repeat(2, 1), steering_action=r[:, None], reward=r,
                next_observation=r[:, None].repeat(2, 1), terminated=np.zeros(n))


@pytest.mark.parametrize("new_capacity, kept", [(20, range(2, 10)), (5, range(5, 10))])
def test_replay_buffer_resumed_with_another_capacity_keeps_the_newest_in_order(new_capacity, kept):
    """A run continued for more steps gets a larger buffer: a wrapped ring must not leave its write
    position in the middle of the old data (old transitions overwritten, empty rows sampled)."""
    full = ReplayBuffer(obs_dim=2, action_dim=1, capacity=8)
    full.add(**_numbered(0, 10))  # wraps: rewards 8, 9 overwrite 0, 1
    resumed = ReplayBuffer(obs_dim=2, action_dim=1, capacity=new_capacity)
    resumed.load_state_dict(full.state_dict())
    assert resumed.data["reward"][: len(resumed)].tolist() == [float(i) for i in kept]
    resumed.add(**_numbered(10, 2))
    rewards = resumed.data["reward"][: len(resumed)]
    assert set(rewards.tolist()) == set(map(float, kept[len(kept) + 2 - len(resumed):])) | {10.0, 11.0}
    assert len(resumed) == min(len(kept) + 2, new_capacity)


def test_the_curve_counts_every_training_episode_across_a_resume(tmp_path):
    """train_episodes / train_successes are totals since the start of the run: a resumed run goes on
    counting (LineWorld ends an episode every 8 vector steps per env, so 40 steps end ~20 episodes)."""
    checkpoint = save_lineworld_checkpoint(tmp_path / "policy.pt", None)

    def run(steps: int) -> list[dict]:
        cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), num_envs=4, execute=2,
                             steps=steps, schedule=UpdateSchedule(warmup_transitions=10_000), eval_every=40,
                             eval_episodes=2, checkpoint_every=40, agent=AgentConfig(**SMALL_AGENT))
        return finetune(cfg, tmp_path / "run", VectorEnv.of(LINEWORLD, 4),
                        [LINEWORLD.make_env(99 + i) for i in range(2)], load_sampler(checkpoint), progress=False)

    first = run(40)[-1]
    second = run(80)[-1]  # resumes from the checkpoint at 40; the envs restart their episodes
    assert first["train_episodes"] >= 16 and 0 <= first["train_successes"] <= first["train_episodes"], first
    assert second["train_episodes"] >= 2 * first["train_episodes"] - 4, (first, second)
    assert first["train_successes"] <= second["train_successes"] <= second["train_episodes"]


@pytest.mark.slow
def test_timestep_modulation_learns_what_noise_steering_cannot(tmp_path):
    """LineWorld shows context +1 but rewards moving left, which the data does only under -1.
    DSRL over a BC policy (t = 0) can only move right; TMRL over a CSP policy learns to pick a large
    timestep and a context noise that select the left mode."""
    results = {}
    for method, t_max in (("tmrl", None), ("dsrl", 0)):
        checkpoint = save_lineworld_checkpoint(tmp_path / f"{method}-policy.pt", t_max)
        cfg = FinetuneConfig(method=method, task="lineworld", checkpoint=str(checkpoint), num_envs=4, execute=2,
                             steps=500, schedule=UpdateSchedule(warmup_transitions=400), eval_every=250,
                             eval_episodes=8, checkpoint_every=250, agent=AgentConfig(gamma=0.95, **SMALL_AGENT))
        curve = finetune(cfg, tmp_path / method, VectorEnv.of(LINEWORLD, 4),
                         [LINEWORLD.make_env(99 + i) for i in range(8)], load_sampler(checkpoint),
                         progress=False)
        results[method] = [row["eval_success"] for row in curve]
    assert max(results["dsrl"]) == 0.0, results
    assert results["tmrl"][-1] >= 0.75, results
    assert (tmp_path / "tmrl" / "curve.csv").read_text().startswith("step,env_steps")
    assert (tmp_path / "tmrl" / "agent.pt").is_file() and (tmp_path / "tmrl" / "replay.npz").is_file()
    # Figure 13 from the saved run: the actor reaches for the large timesteps that hold the left mode
    # (T = 20; the clean context says "right"), and those episodes succeed.
    _, traces, successes = timestep_traces(tmp_path / "tmrl", episodes=4)
    assert sum(successes) >= 3 and all(traces), (traces, successes)
    assert np.mean([t for trace in traces for t in trace]) > 10, traces
    with pytest.raises(ValueError, match="dsrl: its actor picks no context timestep"):
        timestep_traces(tmp_path / "dsrl")


@pytest.mark.slow
def test_noise_aliasing_variant_learns_through_its_action_critic(tmp_path):
    """The same task with DSRL's noise-aliasing critic: Q_A on the executed actions, the steering
    critic distilled from it. It must learn too, and keep what it executed and its action critic."""
    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint="in-memory", num_envs=4, execute=2,
                         steps=500, schedule=UpdateSchedule(warmup_transitions=400), eval_every=250, eval_episodes=8,
                         checkpoint_every=250,
                         agent=AgentConfig(gamma=0.95, action_critic=True, **SMALL_AGENT))
    policy = FlowSampler(pretrain_lineworld(None))
    curve = finetune(cfg, tmp_path / "na", VectorEnv.of(LINEWORLD, 4),
                     [LINEWORLD.make_env(99 + i) for i in range(8)], policy, progress=False)
    assert curve[-1]["eval_success"] >= 0.75, curve
    assert {"action_critic_loss", "distill_loss"} <= set(curve[-1])
    with np.load(tmp_path / "na" / "replay.npz") as saved:
        executed = saved["executed_actions"]
        assert executed.shape == (2000, 2) and np.abs(executed).max() <= 1.0 and np.abs(executed).sum() > 0
    state = torch.load(tmp_path / "na" / "agent.pt", weights_only=False)
    assert "action_critic" in state["agent"]
    plain = small_agent(heads={"noise": 1, "timestep": 1, "context_noise": 1})
    with pytest.raises(RuntimeError, match="no action critic is attached"):
        plain.cfg.action_critic = True
        plain.update({})


class _RecordingSampler(FlowSampler):
    """A frozen policy's sampler that records what the runner passes to it."""

    def __init__(self, policy):
        super().__init__(policy)
        self.calls = []

    def sample(self, context, proprio, action_noise, timestep, context_noise, guidance=None):
        self.calls.append(dict(action_noise=action_noise, timestep=timestep, context_noise=context_noise,
                               guidance=guidance))
        return super().sample(context, proprio, action_noise, timestep, context_noise, guidance)


def _demonstration_transitions(n: int = 256) -> dict[str, np.ndarray]:
    """LineWorld rows of the demonstrated behaviour under the shown context: moving right."""
    env, rows = LINEWORLD.make_env(5), []
    obs = env.reset()
    for _ in range(n):
        result = env.step(np.array([0.8]))
        rows.append((obs, [0.8], result.reward, result.observation, float(result.terminated)))
        obs = env.reset() if result.terminated or result.truncated else result.observation
    keys = ("observation", "steering_action", "reward", "next_observation", "terminated")
    return {k: np.asarray([r[i] for r in rows], np.float32) for i, k in enumerate(keys)}


@pytest.mark.parametrize("method", ["cfg", "postbc", "rlpd"])
def test_each_baseline_runs_through_the_one_runner_with_its_own_heads(tmp_path, method):
    """CFG-RL's actor sets the guidance weight (and nothing else) per decision; PostBC+DSRL only the
    action noise; RLPD acts in action space with offline rows in its batches and learns LineWorld
    (two steps left), which needs no pre-trained policy."""
    overrides = dict(execute=1, offline_fraction=0.5, agent=AgentConfig(gamma=0.9, target_subset=2, **SMALL_AGENT)) \
        if method == "rlpd" else dict(execute=2, agent=AgentConfig(gamma=0.95, **SMALL_AGENT))
    cfg = FinetuneConfig(method=method, task="lineworld", checkpoint="in-memory", num_envs=4, steps=300,
                         schedule=UpdateSchedule(warmup_transitions=200),
                         eval_every=150, eval_episodes=8, checkpoint_every=0, **overrides)
    policy = None if method == "rlpd" else _RecordingSampler(pretrain_lineworld(0, steps=100))
    curve = finetune(cfg, tmp_path / method, VectorEnv.of(LINEWORLD, 4),
                     [LINEWORLD.make_env(99 + i) for i in range(8)], policy, progress=False,
                     offline=_demonstration_transitions() if method == "rlpd" else None)
    assert [row["step"] for row in curve] == [150, 300]
    if method == "rlpd":
        assert curve[-1]["eval_success"] >= 0.75, curve
        return
    calls = policy.calls[-50:]
    assert all(not c["timestep"].any() for c in calls)  # the clean conditional, t = 0
    assert len({float(c["action_noise"][0, 0]) for c in calls}) > 10  # the noise is steered
    guidance = [c["guidance"] for c in calls]
    if method == "cfg":
        weights = torch.from_numpy(np.concatenate(guidance))
        assert weights.min() >= 0.0 and weights.max() <= 4.0 and weights.std() > 0
    else:
        assert all(g is None for g in guidance)


@pytest.mark.slow
def test_a_compiled_agent_updates_like_the_eager_one():
    """agent.compile compiles actor and critics in place: the same parameter names (checkpoints load
    either way) and, with the same random numbers, the same losses as the eager agent."""
    import torch._inductor.config as inductor

    # Eager's random numbers inside compiled code. torch's own patch, not pytest's monkeypatch: pytest 9 undoes
    # a module attribute by deleting it, which hides the option from later torch.export calls in this process.
    with inductor.patch(fallback_random=True):
        compiled_agent_updates_like_the_eager_one()


def compiled_agent_updates_like_the_eager_one():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(obs_dim=4, action_dim=6, capacity=512)
    buffer.add(observation=rng.normal(size=(300, 4)), steering_action=rng.uniform(-1, 1, (300, 6)),
               reward=-np.ones(300), next_observation=rng.normal(size=(300, 4)), terminated=np.zeros(300))
    eager, compiled = small_agent(), small_agent(compile=True)
    assert list(compiled.state_dict()["critic"]) == list(eager.state_dict()["critic"])
    for k in range(3):
        batch = buffer.sample(128, np.random.default_rng(k))
        torch.manual_seed(k)
        a = eager.update(batch)
        torch.manual_seed(k)
        b = compiled.update(batch)
        for key in ("critic_loss", "actor_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (k, key, a, b)
    restored = small_agent()
    restored.load_state_dict(compiled.state_dict())
    obs = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(restored.act(obs, deterministic=True), compiled.act(obs, deterministic=True), atol=1e-5)


def test_bf16_hidden_layers_keep_fp32_values():
    """agent.bf16 runs the hidden layers in bf16 but the outputs in fp32: with the same weights, Q
    near -100 (where bf16's own spacing is 0.5) agrees with fp32 to ~0.1% and is not quantised."""
    fp32, bf16 = small_agent(), small_agent(bf16=True)
    bf16.load_state_dict(fp32.state_dict())
    with torch.no_grad():
        for agent in (fp32, bf16):
            agent.critic.out.bias.fill_(-100.0)
    obs, y = torch.randn(256, 4), torch.rand(256, 6) * 2 - 1
    q32, q16 = fp32.q(obs, y).detach(), bf16.q(obs, y).detach()
    assert q16.dtype == torch.float32
    assert (q16 - q32).abs().max() < 0.1, (q16 - q32).abs().max()
    assert (q16 * 2 - (q16 * 2).round()).abs().max() > 0.1  # not on bf16's 0.5 grid
    y32, logp32 = fp32.actor(obs, deterministic=True)
    y16, logp16 = bf16.actor(obs, deterministic=True)
    assert y16.dtype == torch.float32 and (y16 - y32).abs().max() < 0.05


@pytest.mark.slow
def test_a_bf16_agent_learns_lineworld(tmp_path):
    """The timestep-modulation task above with agent.bf16: TMRL still learns it."""
    checkpoint = save_lineworld_checkpoint(tmp_path / "policy.pt")
    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), num_envs=4, execute=2,
                         steps=500, schedule=UpdateSchedule(warmup_transitions=400), eval_every=250, eval_episodes=8,
                         checkpoint_every=250,
                         agent=AgentConfig(gamma=0.95, bf16=True, **SMALL_AGENT))
    curve = finetune(cfg, tmp_path / "tmrl", VectorEnv.of(LINEWORLD, 4),
                     [LINEWORLD.make_env(99 + i) for i in range(8)], load_sampler(checkpoint),
                     progress=False)
    assert curve[-1]["eval_success"] >= 0.75, curve


def test_the_results_table_averages_seeds(tmp_path):
    from tmrl_learning.tmrl.plots import plot_runs

    runs = []
    for seed, (final, first_train) in enumerate([(0.5, 0.1), (0.0, 0.3)]):
        run = tmp_path / f"tmrl-s{seed}"
        run.mkdir()
        (run / "config.json").write_text('{"task": "lineworld", "method": "tmrl"}')
        (run / "curve.csv").write_text("step,env_steps,eval_success,train_success\n"
                                       f"10,100,0.0,{first_train}\n20,200,{final},0.5\n")
        runs.append(run)
    table = plot_runs(runs, tmp_path / "out")
    assert "| lineworld | tmrl | - | 2 | 0.25 ± 0.25 | 0.20 / 0.50 | 200 |" in table, table
    assert (tmp_path / "out" / "learning_curves.png").stat().st_size > 0


def test_the_results_table_keeps_variants_of_a_method_apart(tmp_path):
    """Runs of one method that differ in a setting (the timestep cap) or in the policy they steer are
    variants, not seeds; runs that differ only in seed and budget are seeds of one variant."""
    from tmrl_learning.tmrl.plots import plot_runs

    runs = []
    for name, method, checkpoint, cap, seed, steps, final in [
            ("tmrl-s0", "tmrl", "pre/csp/checkpoint.pt", 1.0, 0, 100, 0.5),
            ("tmrl-s1", "tmrl", "pre/csp/checkpoint.pt", 1.0, 1, 200, 0.0),
            ("tmrl-cap", "tmrl", "pre/csp/checkpoint.pt", 0.3, 0, 100, 1.0),
            ("dsrl-bc", "dsrl", "pre/bc/checkpoint.pt", 1.0, 0, 100, 0.25),
            ("dsrl-csp", "dsrl", "pre/csp/checkpoint.pt", 1.0, 0, 100, 0.75)]:
        run = tmp_path / name
        run.mkdir()
        config = {"task": "lineworld", "method": method, "checkpoint": checkpoint, "seed": seed, "steps": steps,
                  "t_max_fraction": cap, "agent": {"t_max": int(cap * 100), "compile": seed == 1}}
        (run / "config.json").write_text(json.dumps(config))
        (run / "curve.csv").write_text(f"step,env_steps,eval_success\n10,100,0.0\n20,200,{final}\n")
        runs.append(run)
    table = plot_runs(runs, tmp_path / "out")
    assert "| lineworld | tmrl (t_max_fraction=1.0) | csp | 2 | 0.25 ± 0.25 |" in table, table
    assert "| lineworld | tmrl (t_max_fraction=0.3) | csp | 1 | 1.00 ± 0.00 |" in table, table
    assert "| lineworld | dsrl (checkpoint=bc) | bc | 1 | 0.25 ± 0.00 |" in table, table
    assert "| lineworld | dsrl (checkpoint=csp) | csp | 1 | 0.75 ± 0.00 |" in table, table


def test_the_curve_is_on_disk_after_every_evaluation(tmp_path):
    """A run that dies mid-way leaves its learning curve so far in curve.csv (the checkpoint has it too)."""

    class DyingEnv(LineWorld):
        resets = 0

        def reset(self, task=None):
            DyingEnv.resets += 1
            if DyingEnv.resets > 1:
                raise RuntimeError("simulator died")
            return super().reset(task)

    checkpoint = save_lineworld_checkpoint(tmp_path / "policy.pt")
    cfg = FinetuneConfig(method="tmrl", task="lineworld", checkpoint=str(checkpoint), num_envs=2, execute=2,
                         steps=40, schedule=UpdateSchedule(warmup_transitions=20), eval_every=20, eval_episodes=1,
                         checkpoint_every=20, agent=AgentConfig(**SMALL_AGENT))
    with pytest.raises(RuntimeError, match="simulator died"):
        finetune(cfg, tmp_path / "run", VectorEnv.of(LINEWORLD, 2), [DyingEnv(LINEWORLD, 99)],
                 load_sampler(checkpoint), progress=False)
    rows = (tmp_path / "run" / "curve.csv").read_text().splitlines()
    assert rows[0].startswith("step,env_steps,eval_success") and len(rows) == 2 and rows[1].startswith("20,"), rows


def test_an_evaluation_in_groups_runs_the_same_episodes_with_at_most_max_envs_alive(tmp_path):
    """`EvaluationEnvs` over an embodiment that limits its environments (a cube simulator, a LIBERO server) makes
    them a group at a time and closes each group; the episodes (tasks, seeds, successes, chosen timesteps) are
    the ones an evaluation over all environments at once runs."""
    import dataclasses

    from tmrl_learning.evaluation_envs import EvaluationEnvs
    from tmrl_learning.tmrl.evaluate import evaluate
    from tmrl_learning.tmrl.methods import ChunkMaker, build_agent

    alive, most = [0], [0]

    class CountedLineWorld(LineWorld):
        def __init__(self, *args):
            super().__init__(*args)
            alive[0] += 1
            most[0] = max(most[0], alive[0])

        def close(self) -> None:
            alive[0] -= 1

    limited = dataclasses.replace(LINEWORLD, make_env_fn=CountedLineWorld, max_envs=3)
    sampler = load_sampler(save_lineworld_checkpoint(tmp_path / "policy.pt", None, steps=20))
    agent = build_agent("tmrl", AgentConfig(**SMALL_AGENT), 2, 1, 1, sampler.num_timesteps, seed=4)
    maker = ChunkMaker(agent, sampler, LINEWORLD, 2)
    grouped = evaluate(maker, EvaluationEnvs(limited, 8), 2, seed=10_000, record_timesteps=True)
    assert most[0] == 3 and alive[0] == 0
    envs = EvaluationEnvs(LINEWORLD, 8)
    all_at_once = [LINEWORLD.make_env(seed=50_000 + i, tasks=[envs.task_of(i)]) for i in range(8)]
    reference = evaluate(maker, all_at_once, 2, seed=10_000, record_timesteps=True)
    assert grouped == reference and len(reference["successes"]) == 8
    assert len({tuple(trace) for trace in reference["timesteps"]}) > 1, reference  # distinct: the order is kept
    with pytest.raises(ValueError, match="at least one episode"):
        EvaluationEnvs(LINEWORLD, 0)


def test_evaluation_under_random_steering_draws_the_warm_up_actions_instead_of_the_actor(tmp_path):
    """What the pre-trained policy achieves under the warm-up's uniformly random steering: timesteps spread over
    [0, t_max] where the deterministic actor's stay put, and the same generator state gives the same episodes."""
    from tmrl_learning.evaluation_envs import EvaluationEnvs
    from tmrl_learning.tmrl.evaluate import evaluate
    from tmrl_learning.tmrl.methods import ChunkMaker, build_agent

    sampler = load_sampler(save_lineworld_checkpoint(tmp_path / "policy.pt", None, steps=20))
    agent = build_agent("tmrl", AgentConfig(**SMALL_AGENT), 2, 1, 1, sampler.num_timesteps, seed=4)
    maker = ChunkMaker(agent, sampler, LINEWORLD, 2)
    envs = EvaluationEnvs(LINEWORLD, 8)
    runs = [evaluate(maker, envs, 2, seed=10_000, record_timesteps=True, random_steering=np.random.default_rng(3))
            for _ in range(2)]
    actor = evaluate(maker, envs, 2, seed=10_000, record_timesteps=True)
    assert runs[0] == runs[1]
    drawn = np.concatenate(runs[0]["timesteps"])
    t_max = agent.cfg.t_max
    assert drawn.min() < t_max / 4 and drawn.max() > 3 * t_max / 4 and len(set(drawn.tolist())) > t_max / 4
    chosen = [np.ptp(trace) for trace in actor["timesteps"]]  # a fixed policy of the observation: little spread
    assert np.mean(chosen) < np.mean([np.ptp(trace) for trace in runs[0]["timesteps"]]) / 2
