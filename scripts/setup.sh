#!/usr/bin/env bash
# Set up the tmrl workspace on this machine: a pinned .venv, a ROS 2 runtime and a colcon build.
#
# Idempotent: a second run only rebuilds what changed. Both README commands (make demo, make test)
# call it first. The ROS 2 runtime is the system one (/opt/ros/<distro>) when present, else the
# pinned ros-kilted-* wheels from PyPI inside the venv.
#
# Environment knobs:
#   PYTHON            interpreter for the venv (default: python3; must be >= 3.10)
#   TMRL_VENV         venv location (default: <repo>/.venv)
#   TMRL_ROS_DISTRO   use /opt/ros/<this> only (default: first of jazzy kilted rolling humble)
#   TMRL_FORCE_WHEELS=1  ignore /opt/ros and use the PyPI wheels
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TMRL_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
STAMP_DIR="$VENV/.tmrl-stamps"

die() { echo "tmrl setup: ERROR: $*" >&2; exit 1; }
say() { echo "tmrl setup: $*"; }
# pip prints one warning per package for the machine's empty local index folders: keep them out.
pip_q() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

# ---- prerequisites: fail loudly, before anything is created ------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "no Python interpreter '$PYTHON' on PATH (need Python >= 3.10; set PYTHON=/path/to/python3)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "Python >= 3.10 is required, but '$PYTHON' is $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "'$PYTHON' lacks the venv/ensurepip modules (Debian/Ubuntu: apt-get install python3-venv)"
command -v "${CC:-cc}" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || die "no C compiler (cc/gcc) found: the message package is generated C code (apt-get install build-essential)"
command -v "${CXX:-c++}" >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || die "no C++ compiler (c++/g++) found: rosidl generates C++ type support (apt-get install build-essential)"
command -v cmake >/dev/null 2>&1 || die "cmake not found: tmrl_msgs is an ament_cmake package (apt-get install cmake)"
# pyrealsense2 (the RealSense camera node) loads libusb-1.0: the system's (apt, where we may install it), else
# the copy in the libusb-package wheel, linked into the venv's lib/ (scripts/env.sh puts it on the library path).
LIBUSB_FROM_WHEEL=0
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get); else apt_get=(); fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing libusb-1.0-0 (apt): pyrealsense2 needs it"
    { "${apt_get[@]}" install -y -q libusb-1.0-0 || { "${apt_get[@]}" update -q && "${apt_get[@]}" install -y -q libusb-1.0-0; }; } \
      >/dev/null 2>&1 || LIBUSB_FROM_WHEEL=1
  else
    LIBUSB_FROM_WHEEL=1
  fi
fi

ROS_SETUP=""
if [ "${TMRL_FORCE_WHEELS:-0}" != "1" ]; then
  for distro in ${TMRL_ROS_DISTRO:-jazzy kilted rolling humble}; do
    if [ -f "/opt/ros/$distro/setup.bash" ]; then ROS_SETUP="/opt/ros/$distro/setup.bash"; break; fi
  done
fi

# ---- the venv ----------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $("$PYTHON" -V 2>&1)"
  if [ -n "$ROS_SETUP" ]; then
    # rclpy and the message packages come from /opt/ros (apt): let the venv see them.
    "$PYTHON" -m venv --system-site-packages "$VENV" || die "could not create the venv at $VENV"
  else
    "$PYTHON" -m venv "$VENV" || die "could not create the venv at $VENV"
  fi
fi
mkdir -p "$STAMP_DIR"

# A requirement set is installed again only when its file (or the constraints) changed.
install_reqs() {  # name file...
  local name="$1"; shift
  local sum; sum=$(cat "$@" "$ROOT/requirements/constraints.txt" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$STAMP_DIR/$name" 2>/dev/null)" = "$sum" ]; then return 0; fi
  say "installing $name requirements (pinned)"
  local args=(); for f in "$@"; do args+=(-r "$f"); done
  pip_q "${args[@]}" -c "$ROOT/requirements/constraints.txt" || die "pip could not install $name requirements ($*)"
  echo "$sum" > "$STAMP_DIR/$name"
}

if [ -n "$ROS_SETUP" ]; then
  say "using the system ROS 2 at $(dirname "$ROS_SETUP")"
  # shellcheck disable=SC1090
  set +u; source "$ROS_SETUP"; set -u
  command -v colcon >/dev/null 2>&1 || install_reqs colcon "$ROOT/requirements/colcon.txt"
else
  say "no /opt/ros/<distro>: using the pinned ros-kilted wheels from PyPI"
  install_reqs ros "$ROOT/requirements/ros-wheels.txt" "$ROOT/requirements/colcon.txt"
  # The wheels' cmake exports hard-code the wheel builder's Python and numpy include paths.
  "$VENV/bin/python" "$ROOT/scripts/fix_wheel_cmake_paths.py" "$VENV" || die "could not rewrite the ROS wheels' cmake include paths"
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
install_reqs python "$ROOT/requirements/python.txt"
if [ "$LIBUSB_FROM_WHEEL" = 1 ]; then
  say "no system libusb-1.0 and no apt here: using the libusb-package wheel's copy"
  pip_q libusb-package==1.0.30.0 || die "pip could not install libusb-package (pyrealsense2 needs libusb-1.0)"
  lib=$("$VENV/bin/python" -c 'import libusb_package, os; print(os.path.dirname(libusb_package.__file__))')
  ln -sf "$lib/libusb-1.0.so" "$VENV/lib/libusb-1.0.so.0"
fi
nodeps_sum=$(sha256sum < "$ROOT/requirements/no-deps.txt" | cut -d' ' -f1)
if [ "$(cat "$STAMP_DIR/no-deps" 2>/dev/null)" != "$nodeps_sum" ]; then
  say "installing requirements/no-deps.txt (without their declared dependencies)"
  pip_q --no-deps -r "$ROOT/requirements/no-deps.txt" || die "pip could not install requirements/no-deps.txt"
  echo "$nodeps_sum" > "$STAMP_DIR/no-deps"
fi

# LIBERO in its own venv (it needs mujoco < 4): the LIBERO bridge starts its server under this Python.
LIBERO_VENV="${TMRL_LIBERO_VENV:-$ROOT/.venv-libero}"
libero_sum=$(sha256sum < "$ROOT/requirements/libero.txt" | cut -d' ' -f1)
if [ "$(cat "$STAMP_DIR/libero" 2>/dev/null)" != "$libero_sum" ]; then
  say "installing LIBERO into $LIBERO_VENV (requirements/libero.txt, about 2 GB)"
  [ -x "$LIBERO_VENV/bin/python" ] || "$PYTHON" -m venv "$LIBERO_VENV" || die "could not create the LIBERO venv at $LIBERO_VENV"
  "$LIBERO_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements/libero.txt" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) || die "pip could not install requirements/libero.txt"
  echo "$libero_sum" > "$STAMP_DIR/libero"
fi

# tmrl_learning is importable from the venv without ROS (and without sourcing anything).
if [ ! -f "$STAMP_DIR/tmrl_learning-editable" ]; then
  say "installing tmrl_learning (editable)"
  pip_q --no-deps -e "$ROOT/src/tmrl_learning" || die "pip install -e src/tmrl_learning failed"
  touch "$STAMP_DIR/tmrl_learning-editable"
fi

# ---- colcon build ------------------------------------------------------------------------------
mkdir -p "$ROOT/log"
say "colcon build"
(
  cd "$ROOT"
  export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
  # colcon.meta carries the per-package arguments (BUILD_TESTING=OFF, Python from the venv).
  # The Interbotix messages (the WidowX driver's) come from the robot PC's Interbotix stack; where it is
  # absent, the test-only stand-in under test/interfaces declares the same definitions.
  bases=("$ROOT/src")
  prefix=$(python -c "from ament_index_python.packages import get_package_prefix as p; print(p('interbotix_xs_msgs'))" \
           2>/dev/null || true)
  if [ -z "$prefix" ] || [ "${prefix#"$ROOT/install"}" != "$prefix" ]; then bases+=("$ROOT/test/interfaces"); fi
  colcon --log-base "$ROOT/log" build --symlink-install --metas "$ROOT/colcon.meta" \
    --base-paths "${bases[@]}" --build-base "$ROOT/build" --install-base "$ROOT/install" \
    --event-handlers console_cohesion- summary+ status- > "$ROOT/log/colcon-build.txt" 2>&1 \
    || { tail -n 60 "$ROOT/log/colcon-build.txt" >&2; die "colcon build failed (full log: log/colcon-build.txt)"; }
) || exit 1
say "ready: source scripts/env.sh to use the workspace"
