"""Building a TensorRT engine from ONNX: the options, the optimization profile, the timing cache.

The build follows NVIDIA's Python samples for TensorRT 10/11: ``Builder.create_network(flags)``,
``OnnxParser.parse_from_file``, an ``IBuilderConfig`` with ``set_memory_pool_limit(WORKSPACE)``,
``set_flag``, one optimization profile for dynamic inputs, a timing cache from
``create_timing_cache`` / ``set_timing_cache(cache, ignore_mismatch=False)``, then
``build_serialized_network``, which returns ``None`` (with the reason in the log) on failure.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.backend import (
    ConfigurationError,
    ModelIncompatible,
    check_options,
    read_cached,
    translate_errors,
    translated,
    write_cached,
)
from edgeinfer.backends.tensorrt.errors import BUILD_RULES, PARSE_RULES, TensorRtError
from edgeinfer.backends.tensorrt.logger import Capture
from edgeinfer.backends.tensorrt.precision import PrecisionPlan, has_qdq

__all__ = ["OPTION_KEYS", "BuildOptions", "build_engine", "parse_options"]

_log = logging.getLogger("edgeinfer")

OPTION_KEYS = ("workspace", "timing_cache", "engine_cache", "shapes", "optimization_level")
# A dynamic dimension with no `shapes` option gets this (min, opt, max) range.
DEFAULT_DYNAMIC_RANGE = (1, 1, 32)

Shape = tuple[int, ...]


@dataclass(frozen=True)
class BuildOptions:
    """``load(options={"tensorrt": {...}})``, checked."""

    workspace: int | None = None  # bytes; None: TensorRT's default (the device's memory)
    timing_cache: bool | Path = True  # True: in the cache folder; a Path: that file
    engine_cache: bool = True
    shapes: Mapping[str, tuple[Shape, Shape, Shape]] = field(default_factory=dict)
    optimization_level: int | None = None  # builder_optimization_level 0..5

    def key(self) -> dict[str, Any]:
        """The options that change the engine (for the cache key)."""
        return {
            "workspace": self.workspace,
            "shapes": {name: [list(s) for s in triple] for name, triple in self.shapes.items()},
            "default_dynamic_range": list(DEFAULT_DYNAMIC_RANGE),
            "optimization_level": self.optimization_level,
        }


def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"tensorrt option {name} must be an int >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigurationError(f"tensorrt option {name} must be <= {high}, got {value!r}")
    return value


def _shape(value: Any, name: str) -> Shape:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ConfigurationError(f"tensorrt option shapes[{name!r}]: each shape is a list of ints")
    return tuple(_int(v, f"shapes[{name!r}]", 1) for v in value)


def _shapes(value: Any) -> dict[str, tuple[Shape, Shape, Shape]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "tensorrt option shapes must map input names to (min, opt, max) shapes, e.g. "
            "{'x': [[1, 8], [4, 8], [16, 8]]}"
        )
    result = {}
    for name, triple in value.items():
        if isinstance(triple, Mapping):
            triple = [triple.get("min"), triple.get("opt"), triple.get("max")]
        if not isinstance(triple, Sequence) or len(triple) != 3:
            raise ConfigurationError(f"tensorrt option shapes[{name!r}] needs (min, opt, max)")
        low, opt, high = (_shape(s, str(name)) for s in triple)
        ordered = all(a <= b <= c for a, b, c in zip(low, opt, high, strict=False))
        if not (len(low) == len(opt) == len(high)) or not ordered:
            raise ConfigurationError(
                f"tensorrt option shapes[{name!r}]: min <= opt <= max, of one rank, dim by dim"
            )
        result[str(name)] = (low, opt, high)
    return result


def parse_options(extra: Mapping[str, Any]) -> BuildOptions:
    """Check ``load(options=...)`` for this backend. Raises ``ConfigurationError``."""
    check_options("tensorrt", extra, OPTION_KEYS)
    workspace = extra.get("workspace")
    timing = extra.get("timing_cache", True)
    if not isinstance(timing, (bool, str, Path)):
        raise ConfigurationError("tensorrt option timing_cache must be True, False or a file path")
    engine_cache = extra.get("engine_cache", True)
    if not isinstance(engine_cache, bool):
        raise ConfigurationError("tensorrt option engine_cache must be True or False")
    level = extra.get("optimization_level")
    return BuildOptions(
        workspace=None if workspace is None else _int(workspace, "workspace", 1),
        timing_cache=Path(timing).expanduser() if isinstance(timing, str) else timing,
        engine_cache=engine_cache,
        shapes=_shapes(extra.get("shapes", {})),
        optimization_level=None if level is None else _int(level, "optimization_level", 0, 5),
    )


def _profile_range(name: str, dims: Shape, options: BuildOptions) -> tuple[Shape, Shape, Shape]:
    given = options.shapes.get(name)
    if given is None:
        low, opt, high = (
            tuple(d if d >= 0 else value for d in dims) for value in DEFAULT_DYNAMIC_RANGE
        )
        return low, opt, high
    for shape in given:
        fixed_ok = all(d < 0 or d == s for d, s in zip(dims, shape, strict=False))
        if len(shape) != len(dims) or not fixed_ok:
            raise ConfigurationError(
                f"tensorrt option shapes[{name!r}] = {[list(s) for s in given]} does not fit the "
                f"input's shape {list(dims)} (-1 is dynamic)"
            )
    return given


def _autocast(path: Path, low: str) -> bytes:
    """The ONNX converted to mixed precision by ModelOpt AutoCast (inputs/outputs kept)."""
    what = f"ModelOpt AutoCast could not convert {path.name} to {low}"
    with translate_errors(what, default=ModelIncompatible):
        module = importlib.import_module("modelopt.onnx.autocast")
        model = module.convert_to_mixed_precision(
            onnx_path=str(path), low_precision_type=low, keep_io_types=True
        )
        data: bytes = model.SerializeToString()
    return data


def _parse(
    trt: Any, logger: Any, network: Any, path: Path, data: bytes | None, heard: Capture
) -> Any:
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(data, str(path)) if data is not None else parser.parse_from_file(str(path))
    if ok:
        return parser
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    said = "; ".join(str(e) for e in errors) or heard.text() or "no reason given"
    codes = " ".join(str(e.code()) for e in errors if hasattr(e, "code"))
    failure = TensorRtError(f"{said} [{codes}]" if codes else said)
    what = f"TensorRT's ONNX parser rejected {path.name}"
    raise translated(failure, what, PARSE_RULES, ModelIncompatible) from failure


def _add_profile(trt: Any, builder: Any, config: Any, network: Any, options: BuildOptions) -> None:
    profile = None
    dynamic = []
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        dims = tuple(int(d) for d in tensor.shape)
        if all(d >= 0 for d in dims):
            continue
        dynamic.append(tensor.name)
        if getattr(tensor, "is_shape_tensor", False):
            raise ModelIncompatible(
                f"input {tensor.name!r} is a shape tensor; edgeinfer's TensorRT backend does not "
                "feed shape tensors"
            )
        profile = profile or builder.create_optimization_profile()
        low, opt, high = _profile_range(tensor.name, dims, options)
        profile.set_shape(tensor.name, low, opt, high)
    unknown = sorted(set(options.shapes) - set(dynamic))
    if unknown:
        raise ConfigurationError(
            f"tensorrt option shapes names {unknown}, which are not dynamic inputs of the model "
            f"(its dynamic inputs: {', '.join(dynamic) or 'none'})"
        )
    if profile is not None:
        config.add_optimization_profile(profile)


def _use_timing_cache(config: Any, file: Path | None) -> None:
    data = read_cached(file) if file is not None else None
    cache = None
    if data:
        try:
            cache = config.create_timing_cache(data)
        except Exception as error:  # corrupt or from another TensorRT: start afresh
            _log.info("ignoring timing cache %s: %s", file, error)
    # set_timing_cache returns False for a cache from another device or TensorRT: start afresh.
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


def build_engine(
    trt: Any,
    logger: Any,
    path: Path,
    plan: PrecisionPlan,
    options: BuildOptions,
    timing_file: Path | None,
) -> Any:
    """Build ``path`` (ONNX) into a serialized engine (``IHostMemory``) for the current device."""
    data = _autocast(path, plan.autocast) if plan.autocast else None
    with Capture() as heard:
        serialized = _build(trt, logger, path, plan, options, timing_file, data, heard)
    if serialized is None:
        failure = TensorRtError(heard.text() or "no reason given")
        what = f"TensorRT could not build an engine from {path.name}"
        raise translated(failure, what, BUILD_RULES, ModelIncompatible) from failure
    return serialized


def _build(
    trt: Any,
    logger: Any,
    path: Path,
    plan: PrecisionPlan,
    options: BuildOptions,
    timing_file: Path | None,
    data: bytes | None,
    heard: Capture,
) -> Any:
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan.strongly_typed else 0
    network = builder.create_network(flags)
    parser = _parse(trt, logger, network, path, data, heard)
    if plan.needs_qdq and not has_qdq(trt, network):
        raise ModelIncompatible(
            f"precision='int8' needs an explicitly quantized model (QuantizeLinear/"
            f"DequantizeLinear nodes) and {path.name} has none; edgeinfer does not calibrate. "
            "Quantize it first (e.g. NVIDIA ModelOpt), or give a prebuilt int8 .engine"
        )
    config = builder.create_builder_config()
    if options.workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace)
    if options.optimization_level is not None:
        config.builder_optimization_level = options.optimization_level
    for name in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    if plan.clear_tf32:
        config.clear_flag(trt.BuilderFlag.TF32)
    if hasattr(trt, "ProfilingVerbosity"):  # lets the inspector report each layer's precision
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    _add_profile(trt, builder, config, network, options)
    _use_timing_cache(config, timing_file)
    serialized = builder.build_serialized_network(network, config)
    del parser
    if serialized is not None and timing_file is not None:
        try:
            write_cached(timing_file, config.get_timing_cache().serialize())
        except OSError as error:
            _log.warning("could not save the TensorRT timing cache %s: %s", timing_file, error)
    return serialized
