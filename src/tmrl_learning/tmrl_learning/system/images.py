"""Camera images -> context features: sensor_msgs/Image payloads as arrays, and the encoders that turn
them into a fixed-width vector for the policy.

Encoders:
    pooled        the image area-resized to size x size and flattened, values in [0, 1]: no weights,
                  the usual tiny-image baseline, and what the tests and the simulated graph use
    a file        a user's trained encoder (e.g. a ResNet): `.pt2` from torch.export.save (torch's
                  current format), anything else as TorchScript (torch.jit.save, deprecated but
                  common). It takes (1, C, size, size) floats in [0, 1] and returns any shape,
                  flattened to the feature vector. Weights never come from a hub at run time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# encoding -> (channels, numpy dtype, channel order to bring colour images to RGB)
_ENCODINGS = {
    "rgb8": (3, "u1", None), "bgr8": (3, "u1", [2, 1, 0]),
    "rgba8": (4, "u1", [0, 1, 2]), "bgra8": (4, "u1", [2, 1, 0]),
    "mono8": (1, "u1", None), "8UC1": (1, "u1", None),
    "mono16": (1, "u2", None), "16UC1": (1, "u2", None),  # depth in mm, as RealSense publishes it
    "32FC1": (1, "f4", None),                               # depth in m
}


def image_array(height: int, width: int, encoding: str, step: int, data: bytes,
                big_endian: bool = False) -> np.ndarray:
    """Image message fields -> (H, W, C) array (colour as RGB, alpha dropped); ValueError naming the
    problem for an unknown encoding, a short payload, a row step too small, or non-finite depth."""
    if encoding not in _ENCODINGS:
        raise ValueError(f"image encoding {encoding!r} is not supported; supported: {sorted(_ENCODINGS)}")
    channels, kind, order = _ENCODINGS[encoding]
    dtype = np.dtype(kind).newbyteorder(">" if big_endian else "<")
    if height <= 0 or width <= 0:
        raise ValueError(f"image is {height} x {width}")
    row = width * channels * dtype.itemsize
    if step < row:
        raise ValueError(f"image row step {step} is shorter than {width} pixels of {encoding} ({row} bytes)")
    if len(data) < height * step:
        raise ValueError(f"image has {len(data)} bytes, {height} rows of {step} need {height * step}")
    rows = np.frombuffer(data, np.uint8, count=height * step).reshape(height, step)[:, :row]
    image = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
    if order is not None:
        image = image[..., order]
    if kind == "f4" and not np.isfinite(image).all():
        raise ValueError("depth image contains NaN or inf")
    return image


def _as_unit_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) -> (1, C, H, W) float32; 8-bit colour scaled to [0, 1], 16-bit depth mm -> m."""
    if image.dtype == np.uint8:
        scaled = image.astype(np.float32) / 255.0
    elif image.dtype.kind == "u":
        scaled = image.astype(np.float32) / 1000.0
    else:
        scaled = image.astype(np.float32)
    return torch.from_numpy(scaled).permute(2, 0, 1).unsqueeze(0)


def _load_module(path: Path):
    if path.suffix == ".pt2":
        try:
            return torch.export.load(str(path)).module()
        except Exception as err:  # torch.export raises several types for a file it cannot read
            raise ValueError(f"image encoder {path} is not a torch.export program: {err}") from err
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise ValueError(f"image encoder {path} is not a TorchScript module: {err}") from err


class ImageEncoder:
    """One camera image (H, W, C) -> (features,) float32.

    `source` is "pooled" or the path of a module file (.pt2: torch.export; else TorchScript).
    `channels` is what the camera gives (3 for colour, 1 for depth); the feature width is known after
    construction (`features`)."""

    def __init__(self, source: str = "pooled", size: int = 16, channels: int = 3):
        if size < 1:
            raise ValueError(f"image size must be >= 1, got {size}")
        self.source, self.size, self.channels = source, size, channels
        self.module = None
        if source != "pooled":
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"image encoder {path} does not exist (a TorchScript file, or 'pooled')")
            self.module = _load_module(path)
        probe = self.encode(np.zeros((size, size, channels), np.uint8))
        self.features = probe.size

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != self.channels:
            raise ValueError(f"image has shape {image.shape}, this encoder takes (H, W, {self.channels})")
        x = F.interpolate(_as_unit_tensor(image), size=(self.size, self.size), mode="area")
        out = x if self.module is None else self.module(x)
        features = out.reshape(-1).float().numpy()
        if not np.isfinite(features).all():
            raise ValueError(f"image encoder {self.source} returned NaN or inf")
        return features
