"""The device fingerprint: what machine and software produced a set of numbers.

Two results are only comparable when they come from the same CPU, OS and runtime versions; the
fingerprint says which, and its ``id`` (a short hash of the fields that change performance) lets
``--compare`` warn when two files come from different setups. No host name, user or serial number
is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from edgeinfer._system.machine import cpu_name

__all__ = ["differences", "fingerprint"]

# The fields whose change makes numbers incomparable; the id hashes them.
_IDENTITY = ("cpu", "cores_logical", "machine", "system", "python", "runtimes", "threads")


def _governor() -> str | None:
    path = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _physical_cores() -> int | None:
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except Exception:
        return None
    return int(cores) if cores else None


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        return None


def fingerprint(threads: int | None = None) -> dict[str, Any]:
    """CPU, cores, memory, OS, Python, numpy, edgeinfer, every runtime's version, the devices
    found, and ``id``: a 12-hex-digit hash of the fields that change performance."""
    import numpy as np

    from edgeinfer import __version__, backends, devices

    infos = backends()
    document: dict[str, Any] = {
        "cpu": cpu_name(),
        "cores_logical": os.cpu_count(),
        "cores_physical": _physical_cores(),
        "memory_bytes": _memory_total(),
        "governor": _governor(),
        "system": platform.system(),
        "release": platform.release(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "edgeinfer": __version__,
        "threads": threads,
        "runtimes": {info.name: info.version for info in infos if info.available},
        "backends": [
            {
                "name": info.name,
                "available": info.available,
                "version": info.version,
                "reason": info.reason,
                "hint": info.hint,
            }
            for info in infos
        ],
        "devices": [{"id": d.id, "kind": d.kind, "name": d.name} for d in devices()],
    }
    identity = {key: document[key] for key in _IDENTITY}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    document["id"] = digest[:12]
    return document


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, among the fields that change performance."""
    found = []
    for key in _IDENTITY:
        if old.get(key) != new.get(key):
            found.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    return found
