"""Where an engine comes from: a user's ``.engine``/``.plan`` file, the engine cache, or a build.

For an ONNX model the cache is looked up under ``engine_key(...)`` first. An entry that does not
deserialize (truncated, or written by a TensorRT build that shares the version string) is rebuilt
and replaced rather than failing the load: the ONNX is right there. A user's own engine built by
another TensorRT cannot be rebuilt, so it is ``ModelIncompatible`` and ``load()`` falls back to
the next file or backend.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer.backend import (
    ModelError,
    ModelIncompatible,
    installed_version,
    model_digest,
    read_cached,
    write_cached,
)
from edgeinfer.backends.tensorrt.build import BuildOptions, build_engine
from edgeinfer.backends.tensorrt.cache import (
    engine_key,
    engine_path,
    timing_cache_path,
)
from edgeinfer.backends.tensorrt.precision import (
    PrecisionPlan,
    autocast_available,
    describe_precisions,
    engine_precisions,
    plan_precision,
)
from edgeinfer.backends.tensorrt.runtime import deserialize, major_version

__all__ = ["Origin", "engine_from_file", "engine_from_onnx", "layer_precisions"]

_log = logging.getLogger("edgeinfer")


@dataclass(frozen=True)
class Origin:
    """How the engine was obtained, for ``explain()``."""

    source: str  # "engine file", "engine cache", "built"
    note: str
    plan: PrecisionPlan | None = None
    timing_cache: Path | None = None


def layer_precisions(trt: Any, engine: Any, context: Any = None) -> Counter[str] | None:
    """Layers per data type, from the engine inspector; ``None`` when the engine does not say.

    An engine with dynamic shapes reports its layers' formats only for an execution context
    whose input shapes are set ("N/A due to dynamic shapes" otherwise)."""
    try:
        inspector = engine.create_engine_inspector()
        if context is not None:
            inspector.execution_context = context
        text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    except Exception:  # lean runtimes have no inspector; old engines may refuse
        return None
    return engine_precisions(str(text))


def engine_from_file(
    trt: Any, runtime: Any, path: Path, precision: str | None
) -> tuple[Any, Origin]:
    """Deserialize a user's engine; a precision request is checked where the engine records it."""
    engine = deserialize(trt, runtime, path.read_bytes(), path.name)
    note = "its precision was fixed when it was built"
    if precision is not None:
        counts = layer_precisions(trt, engine)
        if counts is not None and precision not in counts:
            raise ModelIncompatible(
                f"{path.name} runs {describe_precisions(counts)}, not the requested {precision}: "
                "a built engine cannot change precision; rebuild it, or load the ONNX model"
            )
        if counts is None:
            note += f" (requested {precision}; the engine does not record its layers' types)"
    return engine, Origin("engine file", note)


def _timing_file(options: BuildOptions, version: str, gpu: str, cc: tuple[int, int]) -> Path | None:
    if options.timing_cache is False:
        return None
    if isinstance(options.timing_cache, Path):
        return options.timing_cache
    return timing_cache_path(version, gpu, cc)


def _modelopt_version() -> str | None:
    return installed_version("nvidia-modelopt")


def engine_from_onnx(
    trt: Any,
    runtime: Any,
    logger: Any,
    path: Path,
    precision: str | None,
    options: BuildOptions,
    gpu: str,
    cc: tuple[int, int],
) -> tuple[Any, Origin]:
    """The engine for an ONNX model on this GPU: from the cache, or built (and then cached)."""
    plan = plan_precision(
        precision,
        set(trt.BuilderFlag.__members__),
        major_version(trt),
        hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"),
        autocast_available(),
    )
    version = str(trt.__version__)
    build_key = {**plan.key(), **options.key()}
    if plan.autocast:
        build_key["modelopt"] = _modelopt_version()
    digest = model_digest(path)
    key = engine_key(digest, version, gpu, cc, build_key)
    cached = engine_path(path, key) if options.engine_cache else None
    timing = _timing_file(options, version, gpu, cc)
    stale = ""
    data = read_cached(cached) if cached is not None else None
    if cached is not None and data is not None:
        try:
            engine = deserialize(trt, runtime, data, cached.name)
        except ModelError as error:
            stale = f"; the cached engine did not load and was rebuilt ({error})"
            _log.warning(
                "TensorRT engine cache entry %s did not load, rebuilding: %s", cached, error
            )
        else:
            return engine, Origin("engine cache", str(cached), plan, timing)
    _log.info(
        "building a TensorRT engine for %s (%s); this takes a while the first time",
        path.name,
        plan.summary,
    )
    started = time.perf_counter()
    serialized = build_engine(trt, logger, path, plan, options, timing)
    seconds = time.perf_counter() - started
    engine = deserialize(trt, runtime, serialized, path.name)
    note = f"from {path.name} in {seconds:.1f} s"
    if cached is not None:
        try:
            write_cached(cached, serialized)
            about = {
                "model": str(path.resolve()),
                "model_sha256": digest,
                "tensorrt": version,
                "gpu": gpu,
                "compute_capability": list(cc),
                "options": build_key,
                "built": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
            write_cached(cached.with_suffix(".json"), json.dumps(about, indent=2).encode())
            note += f", cached at {cached}"
        except OSError as error:
            _log.warning("could not write the TensorRT engine cache %s: %s", cached, error)
            note += f" (not cached: {error})"
    return engine, Origin("built", note + stale, plan, timing)
