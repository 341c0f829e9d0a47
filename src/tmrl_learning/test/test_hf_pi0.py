"""pi0 itself (transformers' PI0ForConditionalGeneration) with a context-smoothed prefix, at toy width: at
t = 0 it samples exactly what transformers' pi0 samples, CSP training lowers the loss, chunks spread with t,
and pi0 checkpoints in openpi's and LeRobot's parameter names import into a tmrl folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tmrl_learning.vla.hf_pi0 import CspPi0, CspPi0Config, import_pi0, load_csp_pi0, save_csp_pi0, tiny_pi0_config
from tmrl_learning.vla.pi0 import Pi0Sampler

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
