"""scripts/setup.sh fails loudly, before creating anything, when a prerequisite is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SETUP = REPO / "scripts" / "setup.sh"


def _toolbox(tmp_path: Path, tools: list[str]) -> Path:
    """A PATH folder with only the named tools (plus what bash needs to run the script's checks)."""
    box = tmp_path / "bin"
    box.mkdir()
    for tool in ["bash", "dirname", "env", "cat", "grep", "sha256sum", "cut", *tools]:
        found = shutil.which(tool)
        if found:
            (box / tool).symlink_to(found)
    return box


def _run(tmp_path: Path, path: Path, python: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(path), "HOME": str(tmp_path), "PYTHON": python, "TMRL_VENV": str(tmp_path / "venv"),
           "TMRL_FORCE_WHEELS": "1"}
    return subprocess.run([shutil.which("bash"), str(SETUP)], env=env, capture_output=True, text=True, timeout=60)


def _python3() -> str:
    return os.path.realpath(shutil.which("python3"))


def test_old_python_is_refused(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text('#!/bin/sh\n# answers like a Python 3.9 interpreter\ncase "$2" in\n'
                    '  *version_info\\ \\>=*) exit 1;;\n  *) echo 3.9.18;;\nesac\n')
    fake.chmod(0o755)
    result = _run(tmp_path, _toolbox(tmp_path, ["cc", "c++", "cmake"]), str(fake))
    assert result.returncode != 0
    assert "Python >= 3.10 is required" in result.stderr and "3.9.18" in result.stderr
    assert not (tmp_path / "venv").exists(), "nothing is created when a prerequisite is missing"


@pytest.mark.parametrize("missing, words", [("cmake", "cmake not found"), ("cc", "no C compiler")])
def test_missing_build_tool_is_named(tmp_path, missing, words):
    tools = [t for t in ["cc", "c++", "cmake"] if t != missing]
    result = _run(tmp_path, _toolbox(tmp_path, tools), _python3())
    assert result.returncode != 0, result.stdout
    assert words in result.stderr
    assert not (tmp_path / "venv").exists()


def test_missing_python_is_named(tmp_path):
    result = _run(tmp_path, _toolbox(tmp_path, ["cc", "c++", "cmake"]), "python-does-not-exist")
    assert result.returncode != 0 and "no Python interpreter 'python-does-not-exist'" in result.stderr
