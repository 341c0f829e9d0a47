"""Point the ROS 2 wheels' cmake exports at this venv's Python and numpy headers.

The ros-kilted-* wheels are built on a manylinux host; their `share/**/*.cmake` files name that host's
include directories (`/opt/python/cp311-cp311/include/python3.11` and its numpy), which do not exist
here, so any interface package build fails with "Imported target ... includes non-existent path".
Idempotent: running it twice changes nothing the second time.

Usage: python fix_wheel_cmake_paths.py VENV
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

PYTHON_INCLUDE = re.compile(r"/opt/python/cp\d+-cp\d+/include/python3\.\d+")
NUMPY_INCLUDE = re.compile(r"/opt/python/cp\d+-cp\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include")


def rewrite(venv: Path) -> int:
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    if not Path(python_include, "Python.h").is_file():
        raise SystemExit(f"Python headers not found at {python_include} (Debian/Ubuntu: apt-get install python3-dev)")
    changed = 0
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text()
        if "/opt/python/" not in text:
            continue
        new = NUMPY_INCLUDE.sub(numpy_include, text)
        new = PYTHON_INCLUDE.sub(python_include, new)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    n = rewrite(Path(sys.argv[1]))
    print(f"tmrl setup: rewrote include paths in {n} cmake file(s)")
