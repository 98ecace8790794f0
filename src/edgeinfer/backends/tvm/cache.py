"""The TVM module cache: which key a compiled module is stored under, and where.

A module runs only on the TVM version that built it, for the target it was built for, compiled
with the options it was built with: the key is a digest of the model's bytes (with its external
data), the TVM version, the target (CPU model and features included), the tuning budget and
the inputs' fixed sizes.
Computing it is a pure function, tested without TVM.

Layout under ``edgeinfer.backend.cache_dir()``::

    tvm/modules/<model stem>.<key[:32]>.so      the exported module
    tvm/modules/<model stem>.<key[:32]>.json    its sidecar (specs, target, how it was built)
    tvm/tuning/<model stem>.<key[:32]>/         MetaSchedule's tuning records, kept for reuse
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer.backend import cache_dir, key_digest

__all__ = ["RECIPE_VERSION", "module_key", "module_path", "tuning_dir"]

# Bump when the way edgeinfer compiles modules changes, so that old cache entries are not reused.
RECIPE_VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def module_key(
    model_sha256: str,
    tvm_version: str,
    target: Mapping[str, Any],
    tune_trials: int,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """The hex sha256 naming one compiled module; any change in any argument gives another key.
    ``target`` must be JSON data (a TVM target dict); ``shapes`` the inputs' fixed sizes."""
    document = {
        "recipe": RECIPE_VERSION,
        "model_sha256": model_sha256,
        "tvm": tvm_version,
        "target": target,
        "tune_trials": tune_trials,
        "shapes": {name: list(dims) for name, dims in (shapes or {}).items()},
    }
    return key_digest(document)


def _safe(text: str) -> str:
    return _SAFE.sub("_", text).strip("._") or "model"


def module_path(model: Path, key: str, root: Path | None = None) -> Path:
    """Where the module for ``model`` under ``key`` lives (the file may not exist)."""
    return (root or cache_dir()) / "tvm" / "modules" / f"{_safe(model.stem)}.{key[:32]}.so"


def tuning_dir(model: Path, key: str, root: Path | None = None) -> Path:
    """The folder of MetaSchedule's records for ``model`` under ``key``."""
    return (root or cache_dir()) / "tvm" / "tuning" / f"{_safe(model.stem)}.{key[:32]}"
