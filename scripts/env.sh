# Source this file (bash) to use the tmrl workspace: the venv, the ROS 2 runtime and the colcon install.
#   source scripts/env.sh
_tmrl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tmrl_venv="${TMRL_VENV:-$_tmrl_root/.venv}"
if [ ! -x "$_tmrl_venv/bin/python" ]; then
  echo "tmrl: no venv at $_tmrl_venv; run scripts/setup.sh (or make test) first" >&2
  return 1 2>/dev/null || exit 1
fi
_tmrl_ros_setup=""
if [ "${TMRL_FORCE_WHEELS:-0}" != "1" ]; then
  for _d in ${TMRL_ROS_DISTRO:-jazzy kilted rolling humble}; do
    if [ -f "/opt/ros/$_d/setup.bash" ]; then _tmrl_ros_setup="/opt/ros/$_d/setup.bash"; break; fi
  done
fi
set +u
if [ -n "$_tmrl_ros_setup" ]; then
  source "$_tmrl_ros_setup"
else
  # The wheels install their ament index into the venv's prefix.
  export AMENT_PREFIX_PATH="$_tmrl_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
source "$_tmrl_venv/bin/activate"
# libusb-1.0 for pyrealsense2 where setup.sh had to take it from a wheel (no system copy)
if [ -e "$_tmrl_venv/lib/libusb-1.0.so.0" ]; then export LD_LIBRARY_PATH="$_tmrl_venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
if [ -f "$_tmrl_root/install/setup.bash" ]; then
  source "$_tmrl_root/install/setup.bash"
fi
export TMRL_ROOT="$_tmrl_root"
# the LIBERO bridge's interpreter (setup.sh installs LIBERO in a venv of its own)
export TMRL_LIBERO_PYTHON="${TMRL_LIBERO_PYTHON:-${TMRL_LIBERO_VENV:-$_tmrl_root/.venv-libero}/bin/python}"
unset _tmrl_root _tmrl_venv _tmrl_ros_setup _d
