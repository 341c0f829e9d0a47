"""A task added by one registry entry and nothing else, as a user's package would add one (the tests
import it, or name it in TMRL_TASK_MODULES for the graph's processes)."""

from tmrl_learning.data.toy import LineWorld
from tmrl_learning.embodiment import Embodiment, Task
from tmrl_learning.tasks import register

LINEWORLD_FAR = register(Embodiment(
    "lineworld-far", obs_dim=2, goal_dim=1, action_dim=1, context=(1, 2), proprio=(1, 1), max_steps=12,
    success_radius=0.0, tasks=(Task("far-left", (0.3,), (-0.5,)), Task("near-left", (0.0,), (-0.3,))),
    make_env_fn=LineWorld, achieved_goal=("observations", 1, 2)))
