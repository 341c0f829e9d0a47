"""Camera images: Image payloads decode as the encoding says, bad ones are refused with the reason,
and the encoders (pooled, or a TorchScript file) give the features the policy's context is made of."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmrl_learning.system.images import ImageEncoder, image_array
from tmrl_learning.system.sensors import SensorLayout


def payload(image: np.ndarray, pad: int = 0) -> tuple[int, bytes]:
    """Row-major bytes with `pad` extra bytes per row, as drivers with aligned rows send them."""
    rows = image.reshape(image.shape[0], -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad), 7, np.uint8)], 1)
    return padded.shape[1], padded.tobytes()


def test_images_decode_as_their_encoding_says():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    step, data = payload(rgb, pad=3)
    np.testing.assert_array_equal(image_array(5, 7, "rgb8", step, data), rgb)
    step, data = payload(np.ascontiguousarray(rgb[..., ::-1]))
    np.testing.assert_array_equal(image_array(5, 7, "bgr8", step, data), rgb)  # colour comes out as RGB
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 255, np.uint8)], -1)
    np.testing.assert_array_equal(image_array(5, 7, "rgba8", *payload(rgba)), rgb)  # alpha dropped
    depth = rng.integers(0, 5000, (5, 7, 1)).astype(">u2")
    np.testing.assert_array_equal(image_array(5, 7, "16UC1", *payload(depth), big_endian=True), depth)


@pytest.mark.parametrize("change, message", [
    (dict(encoding="yuv422"), "encoding 'yuv422' is not supported"),
    (dict(step=20), "row step 20 is shorter than 7 pixels of rgb8 (21 bytes)"),
    (dict(height=6), "has 105 bytes, 6 rows of 21 need 126"),
    (dict(width=0), "image is 5 x 0"),
])
def test_malformed_images_are_refused_with_the_reason(change, message):
    fields = dict(height=5, width=7, encoding="rgb8", step=21, data=bytes(105))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        image_array(**{**fields, **change})
    nan_depth = np.full((2, 2, 1), np.nan, np.float32)
    with pytest.raises(ValueError, match="NaN"):
        image_array(2, 2, "32FC1", *payload(nan_depth))


def test_pooled_features_are_the_block_means_of_the_image():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:16, :16, 0] = 255  # the top-left quarter red
    features = ImageEncoder("pooled", size=2).encode(image).reshape(3, 2, 2)  # channels first, like torch
    np.testing.assert_allclose(features[0], [[1.0, 0.0], [0.0, 0.0]])
    assert not features[1:].any()
    assert ImageEncoder("pooled", size=4, channels=1).features == 16


class _TinyConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
        self.head = torch.nn.Linear(4, 6)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


@pytest.mark.filterwarnings("ignore:`torch.jit")  # TorchScript is deprecated; users still have such files
@pytest.mark.parametrize("fmt", ["export", "torchscript"])
def test_an_encoder_file_gives_its_module_output(tmp_path, fmt):
    torch.manual_seed(0)
    module = _TinyConv().eval()
    if fmt == "export":
        path = tmp_path / "encoder.pt2"
        torch.export.save(torch.export.export(module, (torch.zeros(1, 3, 16, 16),)), str(path))
    else:
        path = tmp_path / "encoder.pt"
        torch.jit.script(module).save(str(path))
    encoder = ImageEncoder(str(path), size=16)
    assert encoder.features == 6
    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = module(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255).reshape(-1).numpy()
    np.testing.assert_allclose(encoder.encode(image), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(16, 16, 1\), this encoder takes \(H, W, 3\)"):
        encoder.encode(image[..., :1])


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_a_missing_or_broken_encoder_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pt does not exist"):
        ImageEncoder(str(tmp_path / "nowhere.pt"))
    for name, kind in (("junk.pt", "TorchScript module"), ("junk.pt2", "torch.export program")):
        (tmp_path / name).write_bytes(b"not a model")
        with pytest.raises(ValueError, match=f"{name} is not a {kind}"):
            ImageEncoder(str(tmp_path / name))


def test_camera_features_follow_the_cloud_in_the_context():
    camera = ImageEncoder("pooled", size=2)
    layout = SensorLayout(["a"], cloud_points=2, cameras=[camera, camera])
    cloud = np.array([[0.0, 0, 0], [1, 1, 1]], np.float32)
    white, black = np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8)
    obs, context, proprio = layout.inputs(np.ones(1, np.float32), cloud, [white, black])
    assert layout.context_dim == context.size == 6 + 12 + 12 and obs.size == 1 + context.size
    assert context[6:18].min() == 1.0 and context[18:].max() == 0.0  # camera order kept
    with pytest.raises(ValueError, match="needs 2 camera images, got 1"):
        layout.inputs(np.ones(1, np.float32), cloud, [white])
