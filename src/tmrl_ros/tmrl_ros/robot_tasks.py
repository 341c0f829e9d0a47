"""Robot tasks whose drivers live in this package (they speak ROS to the robot), registered in the tmrl
task registry through the `tmrl.embodiments` entry point (setup.py: `register_tasks`, called each time the
registry loads), so every tool finds them by name.

widowx-reach
    A WidowX 250 6-DOF (through the Interbotix xs_sdk) moves its gripper, pointing down, from a start
    above the table to a goal position with BridgeData-style delta actions (7-D) at 5 Hz. Start
    (0.30, 0, 0.20) m, goals 0.12-0.15 m away; success within 0.03 m; 50 steps (10 s). State:
    end-effector position, gripper opening, 6 joints; the goal is the noised context.
"""

from tmrl_learning.embodiment import Embodiment, Task
from tmrl_ros.widowx_driver import WidowXDriver

WIDOWX_REACH = Embodiment(
    "widowx-reach", obs_dim=13, goal_dim=3, action_dim=7, context=(10, 13), proprio=(0, 10), max_steps=50,
    success_radius=0.03, make_driver_fn=WidowXDriver, achieved_goal=("observations", 0, 3),
    tasks=(Task("reach-left", (0.30, 0.0, 0.20), (0.36, 0.10, 0.12)),
           Task("reach-right", (0.30, 0.0, 0.20), (0.36, -0.10, 0.12)),
           Task("reach-near", (0.30, 0.0, 0.20), (0.22, 0.0, 0.12))))


def register_tasks() -> None:
    from tmrl_learning.tasks import register

    register(WIDOWX_REACH)
