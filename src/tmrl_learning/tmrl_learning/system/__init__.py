"""The logic of the ROS 2 nodes as plain Python objects, tested without ROS.

Each `tmrl_ros` node is a thin shell around one of these: `SimDriver` (sim_bridge), `Perception`,
`PolicyService` (policy_server), `Steerer` (steering), `EpisodeBook` (reward_reset) and `Learner`.
"""
