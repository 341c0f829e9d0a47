"""What the CPU can do, for settings that are a win on one machine and a loss on another.

bf16 autocast is ~1.7x faster than fp32 for CSP training on a CPU with native bf16 dot products
(AVX-512 BF16 or AMX; measured on an AMD EPYC with avx512_bf16) and ~20x slower on one without
(oneDNN emulates it; measured on an AVX2-only EPYC). torch reports only whether oneDNN *accepts*
bf16, not whether it is native, so the CPU flags decide.
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

_NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # x86 (Linux /proc/cpuinfo names)


@cache
def native_bf16() -> bool:
    """True when the CPU has bf16 dot-product instructions (x86 AVX-512 BF16 / AMX, Arm BF16)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: be conservative
        return False
    words = set(text.split())
    if platform.machine() in ("aarch64", "arm64"):
        return "bf16" in words
    return bool(words & _NATIVE_BF16_FLAGS)


def resolve_bf16(setting: bool | str) -> bool:
    """A config's bf16 setting (true, false or "auto") -> whether to autocast."""
    if setting == "auto":
        return native_bf16()
    if isinstance(setting, bool):
        return setting
    raise ValueError(f"bf16 must be true, false or 'auto', got {setting!r}")
