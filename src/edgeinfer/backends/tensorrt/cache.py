"""The TensorRT engine cache: which key an engine is stored under, and where.

An engine only runs on the TensorRT version and the GPU model that built it, with the options it
was built with. The key is therefore a digest of: the model's bytes (and its external data files),
the TensorRT version, the GPU's name and compute capability, and every build option. Computing it
is a pure function, so it is tested without TensorRT.

Layout under ``edgeinfer.backend.cache_dir()``::

    tensorrt/engines/<model stem>.<key[:32]>.engine    the serialized engine
    tensorrt/engines/<model stem>.<key[:32]>.json      what it was built from (for people)
    tensorrt/timing/trt<version>-<gpu>-sm<cc>.cache    the builder's timing cache
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeinfer.backend import cache_dir, key_digest

__all__ = [
    "RECIPE_VERSION",
    "engine_key",
    "engine_path",
    "timing_cache_path",
]

# Bump when the way edgeinfer builds engines changes, so that old cache entries are not reused.
RECIPE_VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def engine_key(
    model_sha256: str,
    trt_version: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    options: Mapping[str, Any],
) -> str:
    """The hex sha256 naming one engine. Stable across runs and processes; any change in any
    argument (or in a build option's value) gives another key. ``options`` must be JSON data."""
    document = {
        "recipe": RECIPE_VERSION,
        "model_sha256": model_sha256,
        "tensorrt": trt_version,
        "gpu": gpu_name,
        "compute_capability": list(compute_capability),
        "options": options,
    }
    return key_digest(document)


def _safe(text: str) -> str:
    return _SAFE.sub("_", text).strip("._") or "model"


def engine_path(model: Path, key: str, root: Path | None = None) -> Path:
    """Where the engine for ``model`` under ``key`` lives (the file may not exist)."""
    folder = (root or cache_dir()) / "tensorrt" / "engines"
    return folder / f"{_safe(model.stem)}.{key[:32]}.engine"


def timing_cache_path(
    trt_version: str, gpu_name: str, compute_capability: tuple[int, int], root: Path | None = None
) -> Path:
    """The timing cache for one TensorRT version and GPU model (TensorRT refuses others')."""
    major, minor = compute_capability
    name = f"trt{_safe(trt_version)}-{_safe(gpu_name)}-sm{major}{minor}.cache"
    return (root or cache_dir()) / "tensorrt" / "timing" / name
