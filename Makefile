# The two commands of the README. Each runs the idempotent set-up first.
.PHONY: setup demo test lint clean

setup:
	bash scripts/setup.sh

# Main job: a short end-to-end fine-tuning run on the default simulated task, through the ROS 2 graph.
demo: setup
	bash scripts/run.sh python -m tmrl_ros.sim_demo

# The test suite (lint, then pytest over the ROS and non-ROS tests).
test: setup
	bash scripts/run.sh ruff check .
	bash scripts/run.sh python -m pytest

lint: setup
	bash scripts/run.sh ruff check .

clean:
	rm -rf build install log
