"""The cache of measured selections: a choice made once is reused until something that could
change it changes.

The key hashes the model (every file of the plan, external data included), the machine (CPU
model, cores, architecture, accelerators found), the runtime version of every backend in the
plan, edgeinfer's version, and the load options that change what runs (devices, backend pins,
threads, precision, float_io, per-backend options, the accuracy limit). The entry is a small
JSON file in ``<cache folder>/selection/``; a load that finds it takes no trial time.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer._kit.cache import cache_dir, read_cached, write_cached
from edgeinfer._kit.digest import model_digest
from edgeinfer._planning.plan import Candidate
from edgeinfer._planning.registry import backend_class, safe_availability
from edgeinfer._system.machine import cpu_name

__all__ = ["SCHEMA", "candidate_id", "read_choice", "selection_key", "write_choice"]

SCHEMA = 1


def candidate_id(candidate: Candidate) -> str:
    """``backend|device|file``: how a cached choice names its candidate."""
    return f"{candidate.backend}|{candidate.device.id}|{candidate.file}"


def _runtime_version(name: str) -> str | None:
    try:
        return safe_availability(name, backend_class(name)).version
    except Exception:  # an unavailable plugin: its version is unknown, which is fine
        return None


def selection_key(
    candidates: Sequence[Candidate],
    devices: Sequence[str],
    options: Mapping[str, Any],
) -> str:
    """The hex sha256 naming one selection: model, machine, runtimes, options."""
    from edgeinfer import __version__
    from edgeinfer._planning.detect import devices as detected

    files = sorted({str(candidate.file) for candidate in candidates})
    document = {
        "schema": SCHEMA,
        "edgeinfer": __version__,
        "models": {name: model_digest(Path(name)) for name in files},
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "arch": platform.machine(),
            "accelerators": sorted(device.id for device in detected()),
        },
        "runtimes": {
            name: _runtime_version(name)
            for name in sorted({candidate.backend for candidate in candidates})
        },
        "candidates": [candidate_id(candidate) for candidate in candidates],
        "devices": list(devices),
        "options": options,
    }
    text = json.dumps(document, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / "selection" / f"{key[:32]}.json"


def read_choice(key: str) -> dict[str, Any] | None:
    """The stored selection for ``key``, or ``None`` (missing, unreadable, another key)."""
    data = read_cached(_path(key))
    if data is None:
        return None
    try:
        entry = json.loads(data)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "chosen" not in entry:
        return None
    return entry


def write_choice(
    key: str, chosen: str, trials: Sequence[Mapping[str, Any]], reference: str | None = None
) -> Path:
    """Store a selection; returns the file written."""
    entry = {
        "schema": SCHEMA,
        "key": key,
        "chosen": chosen,
        "reference": reference,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "trials": list(trials),
    }
    path = _path(key)
    write_cached(path, json.dumps(entry, indent=1).encode("utf-8"))
    return path
