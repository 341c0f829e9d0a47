"""Generate OGBench datasets locally, following OGBench's published collection recipes.

OGBench's datasets are normally downloaded; these generators rebuild them from the `ogbench`
package's own environments and oracles:

- pointmaze-{large,giant}-navigate: a noisy BFS-subgoal oracle. Each episode starts in a random free
  cell and heads for a random goal cell; when the goal is reached a new one is drawn. The action is
  the unit vector toward the next BFS subgoal (the goal itself once in its cell) plus N(0, noise),
  clipped to [-1, 1].
- cube-single-play: OGBench's `CubePlanOracle` (keyframe pick-and-place with temporally correlated
  noise), given a new random target whenever its plan is done.

Each generated file records its recipe; the recipe's hash names the file in the cache, so a dataset
is generated once and reused.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tmrl_learning.data.dataset import Dataset, content_hash, load_dataset, save_dataset

GENERATOR_VERSION = 1
DEFAULT_CACHE = Path.home() / ".cache" / "tmrl" / "datasets"


@dataclass(frozen=True)
class Recipe:
    """How one dataset is made. Full-size defaults are OGBench's."""

    name: str            # e.g. "pointmaze-large-navigate"
    env_id: str          # the ogbench/gymnasium environment it runs in
    episodes: int
    steps_per_episode: int
    noise: float         # pointmaze: action noise std; cube: the plan oracle's noise
    seed: int = 0
    version: int = GENERATOR_VERSION

    def with_(self, **changes) -> Recipe:
        return dataclasses.replace(self, **changes)

    def cache_key(self) -> str:
        return content_hash(dataclasses.asdict(self))


RECIPES = {
    "pointmaze-large-navigate": Recipe("pointmaze-large-navigate", "pointmaze-large-v0", 1000, 1001, 0.5),
    "pointmaze-giant-navigate": Recipe("pointmaze-giant-navigate", "pointmaze-giant-v0", 500, 2001, 0.5),
    "cube-single-play": Recipe("cube-single-play", "cube-single-v0", 1000, 1001, 0.1),
    # the scripted LIBERO demonstrator (libero.demos), from the task's 50 init states; no images
    "libero-90-51-scripted": Recipe("libero-90-51-scripted", "libero_90/51", 50, 400, 0.05),
    "libero-goal-swap-6-scripted": Recipe("libero-goal-swap-6-scripted", "libero_goal_swap/6", 50, 400, 0.05),
}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(RECIPES)}")
    return RECIPES[name]


# ---- pointmaze ---------------------------------------------------------------------------------

class MazeOracle:
    """Noise-free direction toward the goal along BFS shortest paths on the maze grid.

    The BFS distance map depends only on the goal cell, so it is computed once per goal cell.
    """

    def __init__(self, maze_env):
        self.env = maze_env  # the unwrapped ogbench maze env (maze_map, xy_to_ij, ij_to_xy)
        self.maze_map = np.asarray(maze_env.maze_map)
        self._distances: dict[tuple[int, int], np.ndarray] = {}

    def free_cells(self) -> list[tuple[int, int]]:
        return [tuple(map(int, ij)) for ij in np.argwhere(self.maze_map == 0)]

    def distances(self, goal_ij: tuple[int, int]) -> np.ndarray:
        if goal_ij not in self._distances:
            dist = np.full(self.maze_map.shape, -1, dtype=np.int64)
            dist[goal_ij] = 0
            queue = deque([goal_ij])
            while queue:
                i, j = queue.popleft()
                for ni, nj in ((i - 1, j), (i, j - 1), (i + 1, j), (i, j + 1)):
                    if (0 <= ni < dist.shape[0] and 0 <= nj < dist.shape[1] and self.maze_map[ni, nj] == 0
                            and dist[ni, nj] == -1):
                        dist[ni, nj] = dist[i, j] + 1
                        queue.append((ni, nj))
            self._distances[goal_ij] = dist
        return self._distances[goal_ij]

    def subgoal(self, xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        here, goal_ij = self.env.xy_to_ij(xy), self.env.xy_to_ij(goal_xy)
        if here == goal_ij:
            return np.asarray(goal_xy, dtype=np.float64)
        dist = self.distances(goal_ij)
        best = here
        for ni, nj in ((here[0] - 1, here[1]), (here[0], here[1] - 1), (here[0] + 1, here[1]), (here[0], here[1] + 1)):
            if 0 <= ni < dist.shape[0] and 0 <= nj < dist.shape[1] and dist[ni, nj] >= 0 \
                    and (dist[best] < 0 or dist[ni, nj] < dist[best]):
                best = (ni, nj)
        return np.asarray(self.env.ij_to_xy(best), dtype=np.float64)

    def direction(self, xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        delta = self.subgoal(xy, goal_xy) - xy
        norm = np.linalg.norm(delta)
        return delta / norm if norm > 1e-8 else np.zeros(2)


def make_env(env_id: str, **kwargs):
    import gymnasium
    import ogbench  # noqa: F401 - registers the OGBench environments

    return gymnasium.make(env_id, **kwargs)


def generate_pointmaze(rec: Recipe, progress: bool = True, goal_radius: float = 1.0) -> Dataset:
    env = make_env(rec.env_id).unwrapped
    np.random.seed(rec.seed)  # noqa: NPY002 - the maze env draws its start/goal jitter from numpy's global generator
    rng = np.random.default_rng(rec.seed)
    env.reset(seed=rec.seed)
    oracle = MazeOracle(env)
    cells = oracle.free_cells()
    n = rec.episodes * rec.steps_per_episode
    obs = np.empty((n, 2), np.float32)
    actions = np.empty((n, 2), np.float32)
    qpos = np.empty((n, 2), np.float32)
    qvel = np.empty((n, 2), np.float32)
    terminals = np.zeros(n, bool)
    row = 0
    with tqdm(total=n, desc=rec.name, unit="step", disable=not progress, mininterval=1.0) as bar:
        for _ in range(rec.episodes):
            start, goal = (cells[k] for k in rng.choice(len(cells), 2, replace=False))
            ob, _ = env.reset(options=dict(task_info=dict(init_ij=start, goal_ij=goal)))
            goal_xy = np.asarray(env.cur_goal_xy)
            for _ in range(rec.steps_per_episode):
                xy = env.get_xy()
                if np.linalg.norm(xy - goal_xy) <= goal_radius:  # reached: head for a new random goal
                    goal_xy = np.asarray(env.add_noise(env.ij_to_xy(cells[rng.integers(len(cells))])))
                    env.set_goal(goal_xy=goal_xy)
                action = np.clip(oracle.direction(xy, goal_xy) + rng.normal(0.0, rec.noise, 2), -1.0, 1.0)
                obs[row], actions[row] = ob, action
                qpos[row], qvel[row] = env.data.qpos[:2], env.data.qvel[:2]
                ob, *_ = env.step(action)
                row += 1
            terminals[row - 1] = True
            bar.update(rec.steps_per_episode)
    return Dataset(obs, actions, terminals, qpos, qvel, metadata=_metadata(rec))


# ---- cube --------------------------------------------------------------------------------------

def _cube_worker(args: tuple[Recipe, int, int, bool]) -> dict[str, np.ndarray]:
    rec, episodes, worker_seed, progress = args
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle

    env = make_env(rec.env_id, terminate_at_goal=False, mode="data_collection",
                   max_episode_steps=rec.steps_per_episode + 1)
    np.random.seed(worker_seed)  # noqa: NPY002 - the plan oracle's noise comes from numpy's global generator
    agent = CubePlanOracle(env=env, segment_dt=0.4, noise=rec.noise, noise_smoothing=0.5)
    n = episodes * rec.steps_per_episode
    out = {k: [] for k in ("observations", "actions", "qpos", "qvel")}
    with tqdm(total=n, desc=f"{rec.name}[{worker_seed}]", unit="step", disable=not progress, mininterval=2.0) as bar:
        for episode in range(episodes):
            ob, info = env.reset(seed=worker_seed * 100_003 + episode)
            agent.reset(ob, info)
            for _ in range(rec.steps_per_episode):
                if agent.done:  # play: a new random target whenever the current plan is finished
                    ob, info = env.unwrapped.set_new_target()
                    agent.reset(ob, info)
                action = np.clip(agent.select_action(ob, info), -1.0, 1.0)
                out["observations"].append(ob)
                out["actions"].append(action)
                out["qpos"].append(info["qpos"])
                out["qvel"].append(info["qvel"])
                ob, _, _, _, info = env.step(action)
            bar.update(rec.steps_per_episode)
    arrays = {k: np.asarray(v, np.float32) for k, v in out.items()}
    terminals = np.zeros(n, bool)
    terminals[rec.steps_per_episode - 1::rec.steps_per_episode] = True
    arrays["terminals"] = terminals
    return arrays


def generate_cube(rec: Recipe, progress: bool = True, workers: int | None = None) -> Dataset:
    workers = max(1, min(workers or multiprocessing.cpu_count(), rec.episodes))
    split = [rec.episodes // workers + (w < rec.episodes % workers) for w in range(workers)]
    jobs = [(rec, eps, rec.seed * 1000 + w, progress and w == 0) for w, eps in enumerate(split)]
    if workers == 1:
        parts = [_cube_worker(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_cube_worker, jobs)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return Dataset(**arrays, metadata=_metadata(rec))


# ---- entry points ------------------------------------------------------------------------------

def _metadata(rec: Recipe) -> dict:
    return {"generator": f"tmrl_learning.data.generate/{rec.name}", "recipe": dataclasses.asdict(rec),
            "cache_key": rec.cache_key()}


def generate_libero(rec: Recipe, progress: bool = True) -> Dataset:
    from tmrl_learning.libero.demos import collect

    suite, _, index = rec.env_id.partition("/")
    arrays, summary = collect(suite, int(index), rec.episodes, cameras=(), max_steps=rec.steps_per_episode,
                              noise=rec.noise, seed=rec.seed, progress=progress)
    return Dataset(arrays["observations"], arrays["actions"], arrays["terminals"], qpos=arrays["qpos"],
                   metadata={**_metadata(rec), "demonstrator": summary})


def generate(rec: Recipe, progress: bool = True) -> Dataset:
    if rec.name.startswith("libero-"):
        return generate_libero(rec, progress)
    if rec.name.startswith("pointmaze-"):
        return generate_pointmaze(rec, progress)
    if rec.name.startswith("cube-"):
        return generate_cube(rec, progress)
    raise KeyError(f"no generator for {rec.name!r}")


def dataset_path(rec: Recipe, cache_dir: Path = DEFAULT_CACHE) -> Path:
    return Path(cache_dir) / f"{rec.name}-{rec.episodes}ep-{rec.cache_key()}.npz"


def get_dataset(rec: Recipe, cache_dir: Path = DEFAULT_CACHE, progress: bool = True) -> tuple[Dataset, Path]:
    """The dataset for `rec`: loaded from the cache when it was made before, else generated and cached."""
    path = dataset_path(rec, cache_dir)
    if path.is_file():
        return load_dataset(path), path
    dataset = generate(rec, progress)
    save_dataset(dataset, path)
    return dataset, path
