"""Demonstrations for a LIBERO task from the scripted demonstrator (libero.scripted), in the dataset
layout the pre-trainer reads: `observations` (N, 12) the embodiment's state (the robot's
proprioception: end-effector position and quaternion, finger positions (9), then the object's position
(3, privileged)), `actions` (N, 7), `terminals` (N,), `qpos` (N, 6) the object's and the target's
positions (the goal is relabelled from the target's), plus `images_<camera>` (N, S, S, 3) uint8 per
camera (upright). Only successful episodes are kept; the sidecar records the language instruction and
the demonstrator's success rate. A VLA trains on the images, the instruction and the first 9 columns.

    tmrl libero-demos --suite libero_90 --task 51 --episodes 50 --out data/libero/libero_90-51.npz
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tmrl_learning.libero.client import LiberoProcess
from tmrl_learning.libero.scripted import PickPlaceScript


def run_episode(env: LiberoProcess, script: PickPlaceScript, init_index: int, max_steps: int,
                settle_steps: int = 10) -> tuple[dict[str, list], bool]:
    """One scripted episode from init state `init_index` -> (recorded rows, success). It ends `settle_steps`
    after the task first reports success (the object lies in place), or at `max_steps`."""
    obs, rows = env.reset(init_index), {"observations": [], "actions": [], "qpos": []}
    script.reset()
    success_at = None
    for step in range(max_steps):
        action = script.act(obs)
        obj, target = (obs["positions"][name] for name in env.objects)
        rows["observations"].append(np.concatenate([obs["proprio"], obj]).astype(np.float32))
        rows["qpos"].append(np.concatenate([obj, target]).astype(np.float32))
        rows["actions"].append(action.astype(np.float32))
        for camera, image in obs["images"].items():
            rows.setdefault(f"images_{camera}", []).append(image)
        obs, _, success = env.step(action)
        if success and success_at is None:
            success_at = step
        if success_at is not None and step - success_at >= settle_steps:
            break
    return rows, success_at is not None


def collect(suite: str, index: int, episodes: int, image_size: int = 128,
            cameras: tuple[str, ...] = ("agentview", "robot0_eye_in_hand"), max_steps: int = 400,
            noise: float = 0.05, seed: int = 0, progress: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """Run the demonstrator from init states 0.. (cycling) for `episodes` attempts -> (the successful
    episodes' arrays, a summary with the success rate)."""
    kept: dict[str, list] = {}
    successes = 0
    with LiberoProcess(suite, index, image_size, cameras) as env:
        script = PickPlaceScript(*env.objects, noise=noise, seed=seed)
        for episode in tqdm(range(episodes), desc=f"{suite} {index} demos", unit="ep", disable=not progress):
            rows, success = run_episode(env, script, episode % env.init_states, max_steps)
            successes += success
            if not success:
                continue
            terminals = np.zeros(len(rows["actions"]), bool)
            terminals[-1] = True
            for key, values in {**rows, "terminals": list(terminals)}.items():
                kept.setdefault(key, []).extend(values)
        language = env.language
    summary = {"suite": suite, "task": index, "language": language, "attempts": episodes, "successes": successes,
               "success_rate": successes / max(episodes, 1), "rows": len(kept.get("actions", [])),
               "cameras": list(cameras), "image_size": image_size, "noise": noise, "seed": seed}
    if not successes:
        raise RuntimeError(f"the scripted demonstrator solved none of {episodes} episodes of {suite} {index}")
    arrays = {k: np.asarray(v, np.float32 if k in ("observations", "actions", "qpos") else None)
              for k, v in kept.items()}
    return arrays, summary


def generate(suite: str, index: int, episodes: int, out: Path, image_size: int = 128,
             cameras: tuple[str, ...] = ("agentview", "robot0_eye_in_hand"), max_steps: int = 400,
             noise: float = 0.05, seed: int = 0) -> dict:
    """`collect`, saved to `out` (.npz) with the summary beside it (.json)."""
    arrays, summary = collect(suite, index, episodes, image_size, cameras, max_steps, noise, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    return summary


def add_libero_commands(sub) -> None:
    p = sub.add_parser("libero-demos", help="scripted LIBERO demonstrations (privileged object poses)")
    p.add_argument("--suite", default="libero_90", help="LIBERO suite (libero_90, libero_goal_swap, ...)")
    p.add_argument("--task", type=int, default=51, help="task index in the suite")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--cameras", default="agentview,robot0_eye_in_hand", help="comma-separated; empty: none")
    p.add_argument("--noise", type=float, default=0.05, help="Gaussian action noise of the demonstrator")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=lambda a: print(json.dumps(generate(
        a.suite, a.task, a.episodes, a.out, a.image_size, tuple(filter(None, a.cameras.split(","))),
        noise=a.noise), indent=1)))
