"""Run logging shared by pre-training and fine-tuning."""

from __future__ import annotations

from pathlib import Path


def tensorboard_writer(out: Path):
    """A TensorBoard SummaryWriter under `out/tb`, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tb"))
