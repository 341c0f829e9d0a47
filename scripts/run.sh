#!/usr/bin/env bash
# Run a command inside the tmrl workspace environment (venv + ROS 2 + colcon install).
#   scripts/run.sh python -m pytest
set -eo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
exec "$@"
