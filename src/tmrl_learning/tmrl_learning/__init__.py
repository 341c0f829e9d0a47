"""tmrl_learning: the algorithms of tmrl, usable without ROS.

Data flows one way: dataset -> pre-trained (CSP) policy -> steering agent -> rollouts -> replay -> updates.
"""

__version__ = "0.1.0"
