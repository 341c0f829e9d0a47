"""pi0 (transformers' PI0ForConditionalGeneration) with a context-smoothed prefix, at toy width: at t = 0 it
samples exactly what transformers' pi0 samples, CSP training lowers the loss, chunks spread with t, the
steered prefix noise, folders and serving over openpi, checkpoints in openpi's and LeRobot's parameter
names, and the perception's prefix."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tmrl_learning.vla.pi0 import CspPi0, CspPi0Config, import_pi0, load_csp_pi0, save_csp_pi0, tiny_pi0_config
from tmrl_learning.vla.prefix_noise import PrefixNoise
from tmrl_learning.vla.sampler import Pi0Sampler

H, D, P = 4, 7, 5


@pytest.fixture(scope="module")
def model():
    from transformers import PI0ForConditionalGeneration

    torch.manual_seed(0)
    return CspPi0(PI0ForConditionalGeneration(tiny_pi0_config(horizon=H)), CspPi0Config(D, P, max_text_tokens=6)).eval()


def inputs(model, b: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.cat([torch.full((b, model.image_tokens()), model.pi0.config.vlm_config.image_token_id),
                     torch.randint(1, 250, (b, 4), generator=g)], 1)
    return torch.rand(b, 3, 32, 32, generator=g), ids


def test_at_t0_it_samples_what_transformers_pi0_samples(model):
    pixels, ids = inputs(model)
    prefix = model.embed_prefix(pixels, ids)
    assert prefix.shape == (1, model.prefix_tokens, model.prefix_width) and not prefix[0, -2:].any()  # 2 unused slots
    noise, proprio = torch.randn(1, H, D), torch.randn(1, P)
    ours = model.sample(prefix, proprio, noise, torch.zeros(1), torch.randn(1, *prefix.shape[1:]))
    full = torch.nn.functional.pad(noise, (0, 32 - D))
    theirs = model.pi0.sample_actions(state=torch.nn.functional.pad(proprio, (0, 32 - P)), input_ids=ids,
                                      pixel_values=pixels[:, None] * 2 - 1, noise=full,
                                      attention_mask=torch.ones_like(ids), pixel_attention_mask=torch.ones(1, 1).bool())
    assert torch.allclose(ours, theirs[..., :D], atol=1e-5), (ours - theirs[..., :D]).abs().max()


def test_the_sampler_is_deterministic_and_spreads_with_t(model):
    sampler = Pi0Sampler(model, noise_ranks=(2, 4))
    assert (sampler.context_dim, sampler.context_noise_dim, sampler.num_timesteps) == (
        model.prefix_tokens * model.prefix_width, 8, 1000)
    pixels, ids = inputs(model)
    context = model.embed_prefix(pixels, ids).detach().reshape(1, -1).numpy()
    noise = np.random.default_rng(0).standard_normal((1, D)).astype(np.float32)
    proprio = np.zeros((1, P), np.float32)
    spread = []
    for t in (0, 300, 1000):
        eps = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
        chunks = sampler.sample(np.repeat(context, 16, 0), np.repeat(proprio, 16, 0), np.repeat(noise, 16, 0),
                                np.full(16, t), eps)
        again = sampler.sample(np.repeat(context, 16, 0), np.repeat(proprio, 16, 0), np.repeat(noise, 16, 0),
                               np.full(16, t), eps)
        assert np.array_equal(chunks, again)
        spread.append(chunks.std(0).mean())
    assert spread[0] < 1e-5 < spread[1] < spread[2], spread
    eps = np.zeros((1, 8), np.float32)
    with pytest.raises(ValueError, match="prefix tokens"):
        sampler.sample(context[:, :10], proprio, noise, np.array([0]), eps)
    with pytest.raises(ValueError, match="token x 4 width directions"):
        sampler.sample(context, proprio, noise, np.array([0]), eps[:, :5])


def test_csp_training_lowers_the_loss_and_a_folder_round_trips(model, tmp_path):
    torch.manual_seed(1)
    pixels, ids = inputs(model, 8, seed=2)
    actions, proprio = torch.tanh(torch.randn(8, H, D)), torch.randn(8, P)
    trained = CspPi0(type(model.pi0)(model.pi0.config), CspPi0Config(D, P, max_text_tokens=6))
    trained.load_state_dict(model.state_dict())
    optimizer = torch.optim.AdamW(trained.parameters(), lr=1e-2)
    torch.manual_seed(1)

    def loss() -> float:  # over fixed draws of t, the flow time and the noise
        with torch.no_grad():
            return np.mean([torch.manual_seed(k) and trained.loss(actions, trained.embed_prefix(pixels, ids),
                                                                  proprio).item() for k in range(8)])

    before = loss()
    for _ in range(300):
        value = trained.loss(actions, trained.embed_prefix(pixels, ids), proprio)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    assert loss() < 0.75 * before  # measured: 1.40 -> 0.89
    assert trained.context_time[-1].weight.abs().sum() > 0  # t reaches the expert once trained
    folder = save_csp_pi0(tmp_path / "csp", trained.eval())
    loaded = load_csp_pi0(folder)
    prefix = trained.embed_prefix(pixels[:1], ids[:1])
    args = (prefix, proprio[:1], torch.randn(1, H, D), torch.tensor([400]), torch.randn(1, *prefix.shape[1:]))
    assert torch.allclose(loaded.sample(*args), trained.sample(*args), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="vla-import"):
        (folder / "csp.json").unlink()
        load_csp_pi0(folder)


def _layout(state: dict, layout: str) -> dict:
    """transformers' names -> a checkpoint's: openpi's PyTorch conversion or LeRobot 0.3's (the Hub's
    lerobot/pi0; parameters under model., the language model under language_model.model, SigLIP under
    vision_model, the embedding stored as the tied lm_head)."""
    out = {}
    for name, value in state.items():
        if name == "model.dit.embed_tokens.weight":
            continue
        if name == "model.vlm.language_model.embed_tokens.weight":
            name = "paligemma_with_expert.paligemma.lm_head.weight"
        name = name.replace("model.vlm.vision_tower.", "model.vlm.vision_tower.vision_model.")
        name = name.replace("model.vlm.", "paligemma_with_expert.paligemma.model.")
        name = name.replace("model.dit.", "paligemma_with_expert.gemma_expert.model.")
        name = name.replace("embed_action_time.", "")
        if layout == "lerobot-0.3":
            name = "model." + name.replace("paligemma.model.language_model.", "paligemma.language_model.model.") \
                .replace("paligemma.lm_head", "paligemma.language_model.lm_head") \
                .replace("paligemma.model.vision_tower", "paligemma.vision_tower") \
                .replace("paligemma.model.multi_modal_projector", "paligemma.multi_modal_projector")
        out[name] = value.clone()
    return out


@pytest.mark.parametrize("layout", ["openpi", "lerobot-0.3"])
def test_pi0_checkpoints_in_openpi_and_lerobot_names_import(model, tmp_path, layout):
    source = tmp_path / layout
    source.mkdir()
    save_file(_layout(model.pi0.state_dict(), layout), str(source / "model.safetensors"))
    folder = import_pi0(source, tmp_path / "imported", D, P, max_text_tokens=6, pi0_config=model.pi0.config)
    imported = load_csp_pi0(folder)
    pixels, ids = inputs(model)
    prefix = model.embed_prefix(pixels, ids)
    args = (prefix, torch.randn(1, P), torch.randn(1, H, D), torch.tensor([0]), torch.randn(1, *prefix.shape[1:]))
    assert torch.allclose(imported.sample(*args), model.sample(*args), atol=1e-6)
    state = _layout(model.pi0.state_dict(), layout)
    state.pop(next(k for k in state if k.endswith("action_out_proj.weight")))
    save_file(state, str(source / "model.safetensors"))
    with pytest.raises(ValueError, match="missing \\['action_out_proj.weight'\\]"):
        import_pi0(source, tmp_path / "x", D, P, pi0_config=model.pi0.config)


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


def test_a_folder_serves_over_openpi_and_through_the_policy_service(model, tmp_path):
    from test_remote import free_port

    from tmrl_learning.csp.sampler import load_sampler
    from tmrl_learning.remote.openpi import RemoteSampler, serve
    from tmrl_learning.system.policy_service import ChunkRequest, PolicyService

    folder = save_csp_pi0(tmp_path / "pi0", model)
    local = Pi0Sampler(load_csp_pi0(folder))
    ready, port = threading.Event(), free_port()
    threading.Thread(target=serve, args=(local, "127.0.0.1", port, ready.set), daemon=True).start()
    assert ready.wait(10)
    remote = RemoteSampler(f"127.0.0.1:{port}")
    pixels, ids = inputs(model, 2, seed=5)
    prefix = model.embed_prefix(pixels, ids).detach().reshape(2, -1).numpy()
    service = PolicyService.from_checkpoint(str(folder))  # the policy server's path: a pi0 folder loads as one
    req = ChunkRequest(context=prefix[0], proprio=np.zeros(P), action_noise=np.full(D, 0.2), context_timestep=500,
                       context_noise=np.full(local.context_noise_dim, 0.1))
    chunk, _ = service.sample(req)
    assert chunk.shape == (H, D) and np.array_equal(chunk, service.sample(req)[0])
    with pytest.raises(ValueError, match="runs in PyTorch"):
        load_sampler(folder, backend="onnx")
    rng = np.random.default_rng(2)
    args = (prefix, rng.normal(size=(2, P)).astype(np.float32), rng.normal(size=(2, D)).astype(np.float32),
            np.array([0, 700]), rng.normal(size=(2, local.context_noise_dim)).astype(np.float32))
    assert np.array_equal(local.sample(*args), remote.sample(*args))
    assert np.abs(Pi0Sampler(model).sample(*args) - local.sample(*args)).max() < 1e-5  # the saved weights
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors in"):
        load_csp_pi0(folder)


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
    from transformers import PI0ForConditionalGeneration

    policy = CspPi0(PI0ForConditionalGeneration(tiny_pi0_config(horizon=H)), CspPi0Config(7, 9, 12)).eval()
    folder = save_csp_pi0(tmp_path / "pi0", policy)
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
