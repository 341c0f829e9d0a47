"""CSP: the smoothing schedule, the flow policy and its sampler, checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tmrl_learning.activations import Mish, mish
from tmrl_learning.csp.checkpoint import load_policy, read_checkpoint
from tmrl_learning.csp.config import PretrainConfig, training_device
from tmrl_learning.csp.model import DiTConfig, SelfAttention
from tmrl_learning.csp.policy import FlowPolicy, PolicyConfig
from tmrl_learning.csp.smoothing import ContextSmoother
from tmrl_learning.csp.train import pretrain

SMALL = dict(hidden=64, embed=64, layers=2, heads=2, time_frequencies=8)


def train_toy(policy: FlowPolicy, batches, steps: int, lr: float = 2e-3) -> None:
    torch.manual_seed(0)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr)
    for _ in range(steps):
        actions, context = batches()
        loss = policy.loss(actions, context)
        opt.zero_grad()
        loss.backward()
        opt.step()
    policy.eval()


def test_alpha_bar_is_monotone_and_matches_the_closed_form():
    smoother = ContextSmoother(num_timesteps=100)
    abar = smoother.alpha_bar.double()
    betas = np.linspace(1e-4, 0.02, 100)
    closed = np.concatenate([[1.0], np.cumprod(1 - betas)])
    np.testing.assert_allclose(abar.numpy(), closed, rtol=1e-6)
    assert (abar[1:] < abar[:-1]).all() and abar[0] == 1.0
    assert math.isclose(float(abar[-1]), 0.364, abs_tol=0.005)  # T = 100 never destroys the context
    c = torch.ones(4, 3)
    assert torch.equal(smoother.corrupt(c, torch.zeros(4, dtype=torch.long)), c), "t = 0 is the clean context"


def test_fast_mish_and_attention_equal_the_torch_layers():
    x = torch.cat([torch.linspace(-120, 120, 20001), 3 * torch.randn(4000)]).requires_grad_()
    ours, ref = mish(x), torch.nn.functional.mish(x)
    torch.testing.assert_close(ours, ref, atol=2e-6, rtol=1e-5)
    (g_ours,), (g_ref,) = torch.autograd.grad(ours.sum(), x), torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g_ours, g_ref, atol=5e-6, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(mish(x), ref.detach(), atol=2e-6, rtol=1e-5)
    assert torch.autograd.gradcheck(mish, (torch.randn(50, dtype=torch.float64, requires_grad=True),))
    traced = torch.jit.trace(Mish(), x.detach())  # the formula ONNX export gets
    torch.testing.assert_close(traced(x.detach()), ref.detach(), atol=2e-6, rtol=1e-5)

    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    attn = SelfAttention(32, 4)
    attn.load_state_dict(mha.state_dict())  # same parameter names: old checkpoints load
    tokens = torch.randn(6, 5, 32, requires_grad=True)
    torch.testing.assert_close(attn(tokens), mha(tokens, tokens, tokens, need_weights=False)[0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        SelfAttention(30, 4)


def test_corruption_rejects_bad_timesteps_and_noise_shapes():
    smoother = ContextSmoother(10)
    with pytest.raises(ValueError, match="out of range"):
        smoother.corrupt(torch.zeros(2, 3), torch.tensor([0, 11]))
    with pytest.raises(TypeError, match="integers"):
        smoother.corrupt(torch.zeros(2, 3), torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="context noise has shape"):
        smoother.corrupt(torch.zeros(2, 3), torch.tensor([1, 2]), torch.zeros(2, 4))


def test_training_timesteps_are_drawn_on_the_batchs_device_and_cover_the_whole_range():
    smoother = ContextSmoother(10)
    drawn = smoother.sample_timesteps(4000, generator=torch.Generator().manual_seed(0))
    assert drawn.dtype == torch.int64 and set(drawn.tolist()) == set(range(11))  # t = 0 and t = T included
    capped = smoother.sample_timesteps(500, t_max=3, device="cpu")
    assert capped.device.type == "cpu" and set(capped.tolist()) == {0, 1, 2, 3}
    # where the batch lives decides where they are drawn (no copy per training step); meta stands in for a GPU
    assert smoother.sample_timesteps(8, device="meta").device.type == "meta"


def test_loss_rejects_bad_batches_before_they_reach_the_device():
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(context_dim=3, action_dim=2, horizon=4, **SMALL)))
    actions, context = torch.zeros(5, 4, 2), torch.zeros(5, 3)
    bad_context = context.clone()
    bad_context[2, 1] = float("nan")
    for check in (policy.check_batch, policy.loss):  # the training loop runs check_batch in host memory
        with pytest.raises(ValueError, match="NaN or inf"):
            check(actions, bad_context, None)
        with pytest.raises(ValueError, match="actions have shape"):
            check(torch.zeros(5, 3, 2), context, None)
        with pytest.raises(ValueError, match="actions have shape"):
            check(torch.zeros(4, 4, 2), context, None)
    with pytest.raises(ValueError, match="out of range"):  # timesteps a caller gives are still checked
        policy.loss(actions, context, t=torch.full((5,), 101))
    torch.manual_seed(0)
    checked = policy.loss(actions, context, checked=True)
    torch.manual_seed(0)
    assert torch.equal(checked, policy.loss(actions, context)), "skipping the checks changes nothing else"


def test_flow_policy_reproduces_a_multimodal_action_distribution():
    torch.manual_seed(0)
    modes = torch.tensor([[0.7, 0.7], [-0.7, 0.7], [0.0, -0.7]])
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=2, action_dim=2, context_dim=1, **SMALL),
                                     train_t_max=0))

    def batches():
        pick = modes[torch.randint(0, 3, (256,))]
        actions = (pick + 0.05 * torch.randn(256, 2)).unsqueeze(1).expand(256, 2, 2)
        return actions, torch.zeros(256, 1)

    train_toy(policy, batches, steps=600)
    samples = policy.sample(torch.zeros(1500, 1))[:, 0]
    dist = torch.cdist(samples, modes)
    nearest = dist.argmin(1)
    shares = torch.bincount(nearest, minlength=3).float() / len(samples)
    assert (shares > 0.2).all(), f"every mode is hit in proportion, got shares {shares.tolist()}"
    assert dist.min(1).values.median() < 0.12, "samples sit on the modes, not between them"


def test_sampler_is_deterministic_given_its_noise():
    torch.manual_seed(0)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=4, action_dim=2, context_dim=3, **SMALL)))
    with torch.no_grad():  # AdaLN-Zero starts as the zero velocity: give the net something to say
        for p in policy.net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    context = torch.randn(5, 3)
    w, eps = torch.randn(5, 2), torch.randn(5, 3)
    t = torch.tensor([0, 10, 50, 99, 100])
    a = policy.sample(context, action_noise=w, timestep=t, context_noise=eps)
    b = policy.sample(context, action_noise=w, timestep=t, context_noise=eps)
    assert torch.equal(a, b) and a.shape == (5, 4, 2)
    c = policy.sample(context, action_noise=w, timestep=t, context_noise=eps + 1.0)
    assert not torch.equal(a, c), "the context noise reaches the output"
    for i in range(5):  # one sample takes its own path (no batch dimension): the same function
        one = policy.sample(context[i:i + 1], action_noise=w[i:i + 1], timestep=t[i:i + 1],
                            context_noise=eps[i:i + 1])
        torch.testing.assert_close(one, a[i:i + 1], atol=1e-5, rtol=0)


def test_single_sample_path_and_onnx_graph_equal_the_batched_sampler(tmp_path):
    from tmrl_learning.csp.export import OnnxSampler

    torch.manual_seed(1)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=4, action_dim=3, context_dim=2, proprio_dim=5, **SMALL)))
    with torch.no_grad():
        for p in policy.net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    policy.eval()
    context, proprio, w, eps = torch.randn(3, 2), torch.randn(3, 5), torch.randn(3, 3), torch.randn(3, 2)
    t, guidance = torch.tensor([0, 40, 100]), torch.tensor([1.0, 2.5, 0.5])
    batched = policy.sample(context, proprio, action_noise=w, timestep=t, context_noise=eps, guidance=guidance)
    for i in range(3):
        one = policy.sample(context[i:i + 1], proprio[i:i + 1], action_noise=w[i:i + 1], timestep=t[i:i + 1],
                            context_noise=eps[i:i + 1], guidance=guidance[i:i + 1])
        torch.testing.assert_close(one, batched[i:i + 1], atol=1e-5, rtol=0)
    onnx = OnnxSampler(policy, tmp_path / "sampler.onnx")  # checks itself against PyTorch at three timesteps
    assert onnx.max_difference <= 1e-5
    plain = policy.sample(context, proprio, action_noise=w, timestep=t, context_noise=eps)
    for i in range(3):
        chunk = onnx(context[i].numpy(), proprio[i].numpy(), w[i].numpy(), int(t[i]), eps[i].numpy())
        np.testing.assert_allclose(chunk, plain[i].numpy(), atol=1e-5)


def test_csp_is_the_conditional_at_t0_and_spreads_toward_the_marginal_as_t_grows():
    """Two contexts (-1, +1) with one action each (-0.8, +0.8): the data's marginal is bimodal."""
    torch.manual_seed(1)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=1, action_dim=1, context_dim=1, **SMALL),
                                     num_context_timesteps=100, beta_end=0.2))

    def batches():
        sign = torch.randint(0, 2, (256, 1)).float() * 2 - 1
        return (0.8 * sign + 0.03 * torch.randn(256, 1)).unsqueeze(1), sign

    train_toy(policy, batches, steps=800)
    policy.normalizer.context_std.fill_(1.0)  # contexts are already standard
    n = 800

    def spread(c: float, t: int) -> tuple[float, float]:
        a = policy.sample(torch.full((n, 1), c), timestep=torch.full((n,), t))[:, 0, 0]
        return float(a.mean()), float(a.std())

    mean0, std0 = spread(1.0, 0)
    assert abs(mean0 - 0.8) < 0.1 and std0 < 0.15, "t = 0 gives the precise conditional"
    for context in (1.0, 2.5):  # a seen context and an unseen one
        stds = [spread(context, t)[1] for t in (0, 50, 100)]
        assert stds[2] > stds[0] + 0.2, f"spread at context {context} grows with t: {stds}"
        assert stds[2] > 0.35, f"at t = T the samples approach the marginal (std 0.8): {stds}"


def test_bad_inputs_are_named():
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=2, action_dim=2, context_dim=3, proprio_dim=2,
                                                     **SMALL)))
    with pytest.raises(ValueError, match=r"context has shape \(2, 4\), expected \(B, 3\)"):
        policy.sample(torch.zeros(2, 4), torch.zeros(2, 2))
    bad = torch.zeros(2, 3)
    bad[0, 1] = float("nan")
    with pytest.raises(ValueError, match="context contains NaN"):
        policy.sample(bad, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="proprio has shape"):
        policy.sample(torch.zeros(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="action noise has shape"):
        policy.sample(torch.zeros(2, 3), torch.zeros(2, 2), action_noise=torch.zeros(2, 7))
    with pytest.raises(FileNotFoundError, match="no policy checkpoint at"):
        load_policy("/nonexistent/checkpoint.pt")


def _tiny_config(tmp_path: Path, steps: int) -> PretrainConfig:
    cfg = PretrainConfig(dataset_episodes=2, dataset_dir=str(tmp_path / "data"), steps=steps, batch_size=32,
                         eval_every=0, checkpoint_every=5, seed=3)
    cfg.policy.model = DiTConfig(horizon=4, **SMALL)
    return cfg


def test_checkpoint_round_trips_bit_exactly_and_resume_continues_the_same_run(tmp_path):
    full, _ = pretrain(_tiny_config(tmp_path, 10), tmp_path / "full", progress=False)
    loaded, cfg = load_policy(tmp_path / "full" / "checkpoint.pt")
    assert cfg.seed == 3 and cfg.policy.model.horizon == 4
    for (name, a), b in zip(full.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    # Stop at step 5 (a checkpoint), then resume to 10: same weights as the uninterrupted run.
    pretrain(_tiny_config(tmp_path, 5), tmp_path / "resumed", progress=False)
    resumed, log = pretrain(_tiny_config(tmp_path, 10), tmp_path / "resumed", progress=False)
    assert read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 10
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


def test_the_training_device_is_checked_before_any_work():
    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "gpu0", "cuda:x"):
        with pytest.raises(ValueError, match="device must be auto, cpu or cuda"):
            training_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            training_device("cuda")
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            PretrainConfig(device="cuda").validate()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine)")
def test_gpu_pre_training_resumes_and_its_checkpoint_samples_on_the_cpu(tmp_path):
    cfg = dataclasses.replace(_tiny_config(tmp_path, 10), device="cuda")
    full, _ = pretrain(cfg, tmp_path / "full", progress=False)
    assert next(full.parameters()).device.type == "cpu"
    pretrain(dataclasses.replace(cfg, steps=5), tmp_path / "resumed", progress=False)
    resumed, _ = pretrain(cfg, tmp_path / "resumed", progress=False)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=name)
    policy, _ = load_policy(tmp_path / "full" / "checkpoint.pt")
    m = policy.cfg.model
    chunk = policy.sample(torch.zeros(3, m.context_dim), torch.zeros(3, m.proprio_dim) if m.proprio_dim else None)
    assert chunk.shape == (3, 4, m.action_dim) and torch.isfinite(chunk).all()


def test_corrupt_checkpoint_is_reported(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_policy(path)


class _ToySampler:
    """The ChunkSampler interface over a 1-D toy: 2000 rows for contexts in [-1, -0.1] (action 0.5)
    and 6 rows for contexts in [0.1, 1] (actions +-0.8): dense consistent data vs scarce data."""

    def __init__(self, horizon: int = 2):
        from types import SimpleNamespace

        rng = np.random.default_rng(0)
        dense, scarce = rng.uniform(-1, -0.1, 2000), rng.uniform(0.1, 1, 6)
        self.context = torch.tensor(np.concatenate([dense, scarce]), dtype=torch.float32)[:, None]
        actions = np.concatenate([0.5 + 0.02 * rng.normal(size=2000), 0.8 * rng.choice([-1, 1], 6)])
        self.actions = torch.tensor(actions, dtype=torch.float32)[:, None, None].expand(-1, horizon, 1)
        self.spec, self.horizon = SimpleNamespace(context_dim=1, proprio_dim=0, action_dim=1), horizon

    def __len__(self) -> int:
        return len(self.context)

    def all_contexts(self):
        return self.context, self.context[:, :0]

    def tensors(self, rows):
        rows = torch.as_tensor(rows)
        return self.actions[rows], self.context[rows], self.context[rows, :0]


def test_postbc_spread_follows_the_ensembles_disagreement():
    """The bootstrap ensemble agrees where data are plentiful and consistent, disagrees where they are
    scarce: PostBC's target perturbation is small in the first region and large in the second."""
    from tmrl_learning.csp.config import PostBCConfig
    from tmrl_learning.csp.postbc import PosteriorEnsemble

    torch.manual_seed(0)
    sampler = _ToySampler()
    ensemble = PosteriorEnsemble.fit(sampler, PostBCConfig(members=8, hidden=64, layers=2, steps=400),
                                     progress=False)
    dense, scarce = torch.tensor([[-0.6], [-0.4]]), torch.tensor([[0.5], [0.7]])
    std_dense, std_scarce = ensemble.std(dense, dense[:, :0]), ensemble.std(scarce, scarce[:, :0])
    assert std_dense.shape == (2, 2, 1)
    assert std_scarce.mean() > 4 * std_dense.mean(), (std_dense.mean(), std_scarce.mean())
    actions = torch.full((2, 2, 1), 0.5)
    moved = [(ensemble.perturb(actions, c, c[:, :0]) - actions).abs().mean() for c in (dense, scarce)]
    assert moved[1] > 2 * moved[0]
    assert ensemble.perturb(torch.full((2, 2, 1), 0.99), scarce, scarce[:, :0]).abs().max() <= 1.0


def test_guided_sampling_interpolates_conditional_and_unconditional():
    """omega = 1 is the conditional sampler; omega = 0 the unconditional one (the zero context the CFG
    baseline drops to in training); other weights differ from both."""
    torch.manual_seed(2)
    policy = FlowPolicy(PolicyConfig(model=DiTConfig(horizon=3, action_dim=2, context_dim=2, **SMALL),
                                     train_t_max=0, cfg_dropout=0.2))
    with torch.no_grad():
        for p in policy.net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    policy.eval()
    context, w = torch.randn(4, 2), torch.randn(4, 2)
    conditional = policy.sample(context, action_noise=w)
    torch.testing.assert_close(policy.sample(context, action_noise=w, guidance=1.0), conditional, atol=1e-5, rtol=0)
    unconditional = policy.sample(torch.zeros(4, 2), action_noise=w)  # identity normaliser, t = 0: c_t = 0
    torch.testing.assert_close(policy.sample(context, action_noise=w, guidance=0.0), unconditional,
                               atol=1e-5, rtol=0)
    strong = policy.sample(context, action_noise=w, guidance=3.0)
    assert (strong - conditional).abs().max() > 1e-3 and (strong - unconditional).abs().max() > 1e-3
    # per-sample weights, as the CFG-RL actor picks them
    mixed = policy.sample(context, action_noise=w, guidance=torch.tensor([1.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(mixed[0::2], conditional[0::2], atol=1e-5, rtol=0)
    torch.testing.assert_close(mixed[1::2], unconditional[1::2], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_compiled_bf16_training_keeps_checkpoints_and_follows_fp32(tmp_path):
    """The fast training settings (torch.compile in place, bf16 autocast) write checkpoints with the same
    parameter names that load into an eager policy, and learn what fp32 eager learns: after the same
    steps from the same seed the losses agree to within bf16's rounding."""
    logs = {}
    for name, changes in (("fp32", dict(bf16=False)), ("fast", dict(bf16=True, compile=True))):
        cfg = dataclasses.replace(_tiny_config(tmp_path, 60), **changes)
        _, log = pretrain(cfg, tmp_path / name, progress=False)
        logs[name] = [e["loss"] for e in log if "loss" in e]
    policy, cfg = load_policy(tmp_path / "fast" / "checkpoint.pt")
    assert cfg.compile and not hasattr(policy.net, "_orig_mod")
    assert set(read_checkpoint(tmp_path / "fast" / "checkpoint.pt")["policy"]) == set(policy.state_dict())
    assert policy.sample(torch.zeros(3, 4)).shape == (3, 4, 2)
    assert abs(logs["fast"][-1] - logs["fp32"][-1]) < 0.1 * logs["fp32"][-1], logs


def test_resting_goals_are_the_last_row_of_each_segment_where_the_object_rests():
    from tmrl_learning.csp.data import last_resting_rows

    #               segment 0: rows 0-4        segment 1: rows 5-7 (never rests)   segment 2: rows 8-9
    resting = np.array([1, 1, 0, 1, 0,           0, 0, 0,                            1, 0], bool)
    ends = np.array([4, 7, 9])
    assert last_resting_rows(resting, ends).tolist() == [3] * 5 + [7] * 3 + [8] * 2


@pytest.fixture(scope="module")
def cube_goals(tmp_path_factory):
    """Goals (where the cube rests) of 12 generated cube-single-play episodes with the held-out
    region filtered out: the contexts CSP trains on for the cube held-out tasks."""
    from tmrl_learning.csp.data import ChunkSampler
    from tmrl_learning.data.generate import get_dataset, recipe
    from tmrl_learning.tasks import CUBE_SINGLE_HELDOUT

    dataset, _ = get_dataset(recipe("cube-single-play").with_(episodes=12), tmp_path_factory.mktemp("cube"),
                             progress=False)
    sampler = ChunkSampler(CUBE_SINGLE_HELDOUT.filter(dataset), CUBE_SINGLE_HELDOUT, 8, "rest")
    context, proprio = sampler.all_contexts()
    return context, proprio


@pytest.mark.slow
@pytest.mark.parametrize("normalization", ["none", "zscore"])
def test_steering_t_and_eps_makes_a_heldout_cube_goal_look_like_training_data(cube_goals, normalization):
    """At the real schedule (T = 100, betas 1e-4..0.02) and in the real units, the policy's view of a
    held-out goal (x = 0.525 m) can be made a typical training context by steering t and eps_c within
    the actor's bound (1.0) when contexts stay in metres (the authors); after z-scoring with the data's
    statistics the held-out x is several standard deviations out and no t and eps_c within the bound
    get there: the representation, not the budget, would keep CSP from covering the held-out goals."""
    from tmrl_learning.csp.policy import Normalizer
    from tmrl_learning.csp.smoothing import perceived_distance
    from tmrl_learning.tasks import CUBE_SINGLE_HELDOUT

    context, proprio = cube_goals
    assert context[:, 0].max() <= 0.4 and (context[:, 2] < 0.03).float().mean() > 0.9  # in-data, resting
    smoother = PolicyConfig()  # the defaults are the authors' schedule
    smoother = ContextSmoother(smoother.num_context_timesteps, smoother.beta_start, smoother.beta_end)
    normalizer = Normalizer(3, 28)
    normalizer.fit(context, proprio, context_too=normalization == "zscore")
    seen = normalizer.context(context)
    for task in CUBE_SINGLE_HELDOUT.tasks:
        t, distance = perceived_distance(smoother, normalizer.context(torch.tensor(task.goal)[None])[0], seen)
        if normalization == "none":
            assert distance <= 2.0, (task.name, t, distance)
        else:
            assert distance > 2.0, (task.name, t, distance)


def test_a_terminated_pretraining_run_keeps_its_last_step_and_a_frozen_copy_cannot_resume(tmp_path):
    """`timeout` (a session's or a scheduler's time limit) stops `tmrl pretrain` with a checkpoint at the step it
    reached, not at the last periodic one; `tmrl freeze` drops the optimizer, and resuming from that is refused."""
    import subprocess
    import sys
    import time

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset_episodes: 2\ndataset_dir: {tmp_path / 'data'}\nsteps: 100000\nbatch_size: 32\n"
                   "eval_every: 0\ncheckpoint_every: 100000\nthreads: 1\ndevice: cpu\n"
                   "policy:\n  model: {horizon: 4, hidden: 64, embed: 64, layers: 2, heads: 2}\n")
    run = [sys.executable, "-m", "tmrl_learning.cli", "pretrain", "--config", str(cfg), "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    while "pretrain csp on cpu" not in output:  # the dataset is made, training starts
        line = proc.stdout.readline()
        assert line, output
        output += line
    time.sleep(5)
    proc.terminate()
    output += proc.communicate(timeout=60)[0]
    step = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"]
    assert proc.returncode == 0 and 0 < step < 100000, output
    frozen = tmp_path / "frozen.pt"
    done = subprocess.run([sys.executable, "-m", "tmrl_learning.cli", "freeze", str(tmp_path / "run" / "checkpoint.pt"),
                           str(frozen)], capture_output=True, text=True)
    assert done.returncode == 0 and f"step {step}" in done.stdout, done.stderr
    state = read_checkpoint(frozen)
    assert state["optimizer"] is None and state["step"] == step
    assert frozen.stat().st_size < 0.5 * (tmp_path / "run" / "checkpoint.pt").stat().st_size
    policy, _ = load_policy(frozen)
    reference, _ = load_policy(tmp_path / "run" / "checkpoint.pt")
    for (name, a), b in zip(reference.state_dict().items(), policy.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    (tmp_path / "resume").mkdir()
    (tmp_path / "resume" / "checkpoint.pt").write_bytes(frozen.read_bytes())
    with pytest.raises(ValueError, match="frozen policy"):
        pretrain(_tiny_config(tmp_path, 10), tmp_path / "resume", progress=False)
