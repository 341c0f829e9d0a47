"""Datasets in OGBench's npz layout: load (official files or ours), validate, save with a sidecar.

Layout (one row per environment step, episodes back to back):
    observations (N, obs_dim) float32
    actions      (N, action_dim) float32
    terminals    (N,) bool        True on the last row of each episode (or of a kept segment)
    qpos, qvel   (N, k) float32   optional: simulator state, used for filtering and resets
Generated files carry a JSON sidecar (`<file>.json`) naming the generator, seed and version.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED_KEYS = ("observations", "actions", "terminals")
OPTIONAL_KEYS = ("qpos", "qvel")
FLOAT_KEYS = ("observations", "actions", "qpos", "qvel")


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or not in the expected layout."""


@dataclass
class Dataset:
    observations: np.ndarray
    actions: np.ndarray
    terminals: np.ndarray
    qpos: np.ndarray | None = None
    qvel: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_arrays(self.arrays(), source="dataset")

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"observations": self.observations, "actions": self.actions, "terminals": self.terminals}
        out.update({k: getattr(self, k) for k in OPTIONAL_KEYS if getattr(self, k) is not None})
        return out

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def episode_ends(self) -> np.ndarray:
        """Row index of the last step of each episode/segment, ascending."""
        return np.flatnonzero(self.terminals)

    @property
    def num_episodes(self) -> int:
        return int(self.terminals.sum())

    def episode_slices(self) -> list[slice]:
        starts = np.concatenate([[0], self.episode_ends[:-1] + 1])
        return [slice(int(s), int(e) + 1) for s, e in zip(starts, self.episode_ends, strict=True)]

    def subset(self, keep: np.ndarray) -> Dataset:
        """Keep the rows where `keep` is True. A removed row ends the segment before it, so no
        sequence (a chunk, a transition) ever spans a gap."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != self.terminals.shape:
            raise DatasetError(f"keep mask has shape {keep.shape}, expected {self.terminals.shape}")
        terminals = self.terminals.copy()
        next_dropped = np.concatenate([~keep[1:], [True]])
        terminals |= keep & next_dropped
        arrays = {k: v[keep] for k, v in self.arrays().items()}
        arrays["terminals"] = terminals[keep]
        return Dataset(**arrays, metadata=dict(self.metadata))


def validate_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    for key in REQUIRED_KEYS:
        if key not in arrays:
            raise DatasetError(f"{source}: missing key {key!r} (has {sorted(arrays)}); expected OGBench's layout "
                               f"with {list(REQUIRED_KEYS)}")
    n = len(arrays["observations"])
    for key, value in arrays.items():
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            continue
        if len(value) != n:
            raise DatasetError(f"{source}: key {key!r} has {len(value)} rows, observations has {n}")
        if key in FLOAT_KEYS and (value.ndim != 2 or not np.issubdtype(value.dtype, np.floating)):
            raise DatasetError(f"{source}: key {key!r} must be a 2-D float array, got {value.dtype} {value.shape}")
    if arrays["terminals"].ndim != 1:
        raise DatasetError(f"{source}: 'terminals' must be 1-D, got shape {arrays['terminals'].shape}")
    if n and not bool(arrays["terminals"][-1]):
        raise DatasetError(f"{source}: the last row is not a terminal; the file is truncated or not an episode set")
    for key in ("observations", "actions"):
        if not np.isfinite(arrays[key]).all():
            raise DatasetError(f"{source}: key {key!r} contains NaN or inf")


def load_dataset(path: str | Path) -> Dataset:
    """Load an OGBench-layout npz (official or generated here). Errors name what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no dataset file at {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            raw = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a readable npz file ({err})") from err
    validate_arrays(raw, source=str(path))
    arrays = {k: raw[k].astype(np.float32, copy=False) for k in FLOAT_KEYS if k in raw}
    arrays["terminals"] = raw["terminals"].astype(bool, copy=False)
    return Dataset(**arrays, metadata=read_sidecar(path))


def save_dataset(dataset: Dataset, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write `dataset` as a compressed npz in OGBench's layout, plus `<path>.json` with metadata.
    The npz is written under a temporary name and renamed, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, **{k: v for k, v in dataset.arrays().items()})
    meta = {**dataset.metadata, **(metadata or {})}
    meta.update(rows=len(dataset), episodes=dataset.num_episodes,
                keys={k: [str(v.dtype), list(v.shape)] for k, v in dataset.arrays().items()})
    sidecar_path(path).write_text(json.dumps(meta, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    return json.loads(side.read_text()) if side.is_file() else {}


def content_hash(config: dict[str, Any]) -> str:
    """A stable short hash of a generation config: the cache key of a generated dataset."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
