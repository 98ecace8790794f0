"""What machine this is, for fingerprints: the CPU's name (never a host name or serial)."""

from __future__ import annotations

import functools
import platform
import sys
from pathlib import Path

__all__ = ["cpu_name"]


@functools.cache
def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo, sysctl on macOS), else what platform says."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            return value.strip()
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"
