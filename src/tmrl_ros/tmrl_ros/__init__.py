"""tmrl_ros: thin ROS 2 shells around tmrl_learning objects."""
