"""The pi0-class VLA with a context-smoothed prefix, at toy width: CSP training, the Sampler protocol,
the smoothing's effect on the chunks, saving and loading, and serving it over openpi's protocol."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from tmrl_learning.vla.pi0 import Pi0Config, Pi0Policy, Pi0Sampler, load_pi0, save_pi0, tiny_vlm
from tmrl_learning.vla.prefix_noise import PrefixNoise

H, D, P = 4, 7, 3


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return Pi0Policy(Pi0Config(vlm=tiny_vlm(), horizon=H, action_dim=D, proprio_dim=P, expert_hidden=32,
                               expert_layers=1, expert_heads=2, flow_steps=5))


def observation(policy, b: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.cat([torch.full((b, policy.image_tokens()), policy.vlm.config.image_token_index),
                     torch.randint(0, 250, (b, 5), generator=g)], 1)
    return torch.rand(b, 3, 32, 32, generator=g), ids


def test_csp_training_steps_lower_the_loss_on_a_fixed_batch(policy):
    torch.manual_seed(1)
    pixels, ids = observation(policy, 8)
    actions, proprio = torch.tanh(torch.randn(8, H, D)), torch.randn(8, P)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)

    def fixed_loss() -> float:  # the same draws of t, s and z each time: a deterministic measure
        torch.manual_seed(99)
        with torch.no_grad():
            return policy.loss(actions, policy.embed_prefix(pixels, ids), proprio).item()

    before = fixed_loss()
    for _ in range(120):
        prefix = policy.embed_prefix(pixels, ids)  # the VLM is trained too (full fine-tuning)
        loss = policy.loss(actions, prefix, proprio)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.6 * before, (before, fixed_loss())
    assert torch.allclose(prefix.pow(2).mean(-1), torch.ones(prefix.shape[:2]), atol=1e-3)  # RMS-normalised


def test_the_sampler_is_deterministic_and_spreads_with_t(policy):
    pixels, ids = observation(policy, 1, seed=3)
    prefix = policy.embed_prefix(pixels, ids).detach()
    sampler = Pi0Sampler(policy)
    context = prefix.reshape(1, -1).numpy()
    rng = np.random.default_rng(0)
    w = rng.normal(size=(1, H, D)).astype(np.float32)
    proprio = np.zeros((1, P), np.float32)
    eps = rng.normal(size=(1, sampler.context_noise_dim)).astype(np.float32)  # the steered directions
    a = sampler.sample(context, proprio, w, np.array([300]), eps)
    assert a.shape == (1, H, D) and np.array_equal(a, sampler.sample(context, proprio, w, np.array([300]), eps))
    spread = {}
    for t in (0, 20, 100, 1000):  # fixed action noise, 16 steered context noises: how much the chunk moves
        chunks = [sampler.sample(context, proprio, w, np.array([t]),
                                 rng.normal(size=(1, sampler.context_noise_dim)).astype(np.float32))
                  for _ in range(16)]
        spread[t] = float(np.std(np.stack(chunks), 0).mean())
    assert spread[0] < 1e-6 and spread[1000] > spread[100] > spread[20] > 1e-4, spread
    with pytest.raises(ValueError, match="prefix tokens"):
        sampler.sample(context[:, :10], proprio, w, np.array([0]), eps[:, :10])
    with pytest.raises(ValueError, match="token x 8 width directions"):
        sampler.sample(context, proprio, w, np.array([0]), eps[:, :10])


def test_the_steered_prefix_noise_is_a_gaussian_draw_the_actor_moves_in_a_few_directions():
    """pi0's prefix is ~800 x 2048: the actor steers 4 x 8 directions, the rest is one frozen draw. With the
    actor's z ~ N(0, I) the noise has the unit variance CSP trained with, and z is read back exactly."""
    noise = PrefixNoise(tokens=80, width=64, token_rank=4, width_rank=8, seed=1)
    z = torch.randn(256, noise.dim, generator=torch.Generator().manual_seed(0))
    eps = noise(z)
    assert eps.shape == (256, 80, 64) and noise.dim == 32
    assert abs(float(eps.pow(2).mean()) - 1.0) < 0.05 and abs(float(eps.mean())) < 0.01
    assert torch.allclose(noise.steered(eps), z, atol=1e-4)
    moved = noise(z[:1] + 1.0) - eps[:1]  # a step in z moves the noise only within the steered subspace
    assert torch.allclose(moved, noise.A @ torch.ones(4, 8) @ noise.B.T, atol=1e-4)
    with pytest.raises(ValueError, match="ranks"):
        PrefixNoise(tokens=3, width=64, token_rank=4)


def test_a_saved_model_loads_from_a_path_and_serves_over_openpi(policy, tmp_path):
    from test_remote import free_port

    from tmrl_learning.remote.openpi import RemoteSampler, serve

    folder = save_pi0(tmp_path / "pi0", policy)
    loaded = load_pi0(folder)
    pixels, ids = observation(policy, 2, seed=5)
    prefix = loaded.embed_prefix(pixels, ids).detach()
    local = Pi0Sampler(loaded)
    ready, port = threading.Event(), free_port()
    threading.Thread(target=serve, args=(local, "127.0.0.1", port, ready.set), daemon=True).start()
    assert ready.wait(10)
    remote = RemoteSampler(f"127.0.0.1:{port}")
    from tmrl_learning.csp.sampler import load_sampler
    from tmrl_learning.system.policy_service import ChunkRequest, PolicyService

    service = PolicyService.from_checkpoint(str(folder))  # the policy server's path: a pi0 folder loads as one
    req = ChunkRequest(context=prefix[0].reshape(-1).numpy(), proprio=np.zeros(P), action_noise=np.full(D, 0.2),
                       context_timestep=500, context_noise=np.full(local.context_dim, 0.1))
    chunk, _ = service.sample(req)
    assert chunk.shape == (H, D) and np.array_equal(chunk, service.sample(req)[0])
    with pytest.raises(ValueError, match="runs in PyTorch"):
        load_sampler(folder, backend="onnx")
    rng = np.random.default_rng(2)
    inputs = (prefix.reshape(2, -1).numpy(), rng.normal(size=(2, P)).astype(np.float32),
              rng.normal(size=(2, D)).astype(np.float32), np.array([0, 700]),
              rng.normal(size=(2, local.context_dim)).astype(np.float32))
    assert np.array_equal(local.sample(*inputs), remote.sample(*inputs))
    original = Pi0Sampler(policy).sample(*inputs)
    assert np.abs(original - local.sample(*inputs)).max() < 1e-5  # the saved weights are the model's
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors in"):
        load_pi0(folder)


def test_perception_makes_the_prefix_training_saw_and_steering_fits_the_vla(tmp_path):
    """PrefixPerception: the camera image (resized to the VLM's side) and the task's instruction give the
    prefix `tmrl vla-csp` trains on; the agent over a pi0 folder outputs the steered prefix directions and
    picks t in the folder's schedule."""
    from tmrl_learning.csp.sampler import steered_dims
    from tmrl_learning.system.steering import make_agent
    from tmrl_learning.tasks import embodiment
    from tmrl_learning.tmrl.agent import AgentConfig
    from tmrl_learning.tmrl.config import FinetuneConfig
    from tmrl_learning.vla.perception import PrefixPerception
    from tmrl_learning.vla.tokenizer import build_word_tokenizer

    task = embodiment("libero-90-51-vla")
    torch.manual_seed(0)
    policy = Pi0Policy(Pi0Config(vlm=tiny_vlm(), horizon=H, action_dim=7, proprio_dim=9, expert_hidden=32,
                                 expert_layers=1, expert_heads=2, flow_steps=3, max_text_tokens=12))
    folder = save_pi0(tmp_path / "pi0", policy)
    tokenizer = build_word_tokenizer([task.instruction], tmp_path / "tokenizer", vocab_size=300)
    perception = PrefixPerception(task, folder, tmp_path / "tokenizer")
    state = np.arange(15, dtype=np.float32) / 15
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    obs, context, proprio = perception(state, [image])
    ids = policy.prompt_ids(tokenizer, task.instruction)
    expected = policy.embed_prefix(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0, ids)
    assert np.array_equal(obs, state) and np.array_equal(proprio, state[:9])
    assert context.shape == (policy.prefix_tokens * policy.prefix_width,)
    assert np.allclose(context, expected.detach().reshape(-1).numpy(), atol=1e-5)
    big = np.kron(image, np.ones((4, 4, 1), np.uint8))  # 128 px, as LIBERO renders: resized to 32 px
    assert np.allclose(perception(state, [big])[1], context, atol=1e-4)
    with pytest.raises(ValueError, match="one camera image"):
        perception(state, [image, image])
    with pytest.raises(ValueError, match="uint8 colour image"):
        perception(state, [image[..., 0]])
    with pytest.raises(ValueError, match="observation has 12 values"):
        perception(state[:12], [image])
    with pytest.raises(ValueError, match="no instruction"):
        PrefixPerception(dataclasses.replace(task, instruction=""), folder, tmp_path / "tokenizer")

    assert steered_dims(folder, task.context_dim) == (1000, 32)
    cfg = FinetuneConfig(method="tmrl", task=task.name, checkpoint=str(folder), t_max_fraction=0.5,
                         agent=AgentConfig(hidden=16, critics=2, batch_size=8))
    agent = make_agent(cfg, task)
    assert agent.cfg.heads["context_noise"] == 32 and agent.cfg.t_max == 500
    inputs = {k: v.numpy() for k, v in agent.decode(agent.random_actions(2, np.random.default_rng(0))).items()}
    chunk = Pi0Sampler(policy).sample(np.stack([context] * 2), np.stack([proprio] * 2), inputs["noise"],
                                      inputs["timestep"], inputs["context_noise"])
    assert chunk.shape == (2, H, 7) and np.isfinite(chunk).all()
