"""TensorRT backend (``tensorrt``): serialized engines (``.engine``/``.plan``) and ONNX models,
built into an engine for this GPU and cached, on NVIDIA GPUs (desktop, server, Jetson).

Options (``load(options={"tensorrt": {...}})``):

- ``workspace``: the builder's workspace limit in bytes (default: TensorRT's, the GPU's memory).
- ``timing_cache``: ``True`` (default, kept in the cache folder), ``False``, or a file path.
- ``engine_cache``: ``True`` (default) keeps built engines in the cache folder; ``False`` builds
  on every load and writes no engine.
- ``shapes``: ``{input: (min, opt, max)}`` for dynamic inputs (default: each dynamic dimension
  1..32, optimised for 1).
- ``optimization_level``: the builder optimization level, 0..5 (TensorRT's default is 3).

Precision: ``None``/``"fp32"``/``"fp16"``/``"bf16"``/``"int8"``; what each means on TensorRT 10.x
and 11 is in ``_trt_precision`` and docs/tensorrt.md. ``explain()`` reports the precision the
engine's layers really run in, from TensorRT's engine inspector.

Sources this backend is written against (checked, not guessed): NVIDIA/TensorRT
``python/src/infer/pyCore.cpp``, ``pyGraph.cpp`` and ``python/src/parsers/pyOnnx.cpp`` (the
Python bindings of TensorRT 10.x), ``samples/python/common_runtime.py`` (cuda-python usage:
``cudaMalloc``, ``cudaMemcpyAsync(dst, src, nbytes, kind, stream)``, ``execute_async_v3``),
``samples/python/strongly_type_autocast/sample.py`` (``STRONGLY_TYPED`` and ModelOpt AutoCast),
NVIDIA's "Migrating from TensorRT 10.x to 11.x" pages (Python API reference and patterns: removed
``BuilderFlag.FP16/BF16/INT8``, strong typing required, IEngineInspector JSON changes), and the
TensorRT 10 Python API reference (``EXPLICIT_BATCH`` ignored since 10.0). docs/tensorrt.md lists
them with links.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    DeviceError,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelIncompatible,
    OpenOptions,
    Placement,
    check_onnx_file,
    formats,
    translate_errors,
    translated,
)
from edgeinfer.backends.tensorrt import runtime as runtime_lookup
from edgeinfer.backends.tensorrt.build import parse_options
from edgeinfer.backends.tensorrt.cuda import import_cudart, select_device
from edgeinfer.backends.tensorrt.engine import (
    Origin,
    engine_from_file,
    engine_from_onnx,
    layer_precisions,
)
from edgeinfer.backends.tensorrt.errors import CONTEXT_RULES, OPEN_RULES, TensorRtError
from edgeinfer.backends.tensorrt.io import Executor, Tensor, read_tensors
from edgeinfer.backends.tensorrt.logger import Capture, process_logger
from edgeinfer.backends.tensorrt.precision import describe_precisions

__all__ = ["TensorRtBackend"]


def _is_engine(path: Path) -> bool:
    """A serialized engine (by its name or TensorRT's magic bytes, as load() told them apart),
    else ONNX."""
    engine = next(fmt for fmt in formats() if fmt.name == "tensorrt")
    if path.suffix.lower() in engine.suffixes:
        return True
    with path.open("rb") as handle:
        head = handle.read(4096)
    return engine.sniff is not None and engine.sniff(head, path)


def _context(engine: Any) -> Any:
    """An execution context; ``create_execution_context`` returns ``None`` and logs why."""
    with Capture() as heard:
        context = engine.create_execution_context()
    if context is None:
        failure = TensorRtError(heard.text() or "no reason given")
        what = "TensorRT could not create an execution context"
        raise translated(failure, what, CONTEXT_RULES, DeviceError) from failure
    return context


def _ranges(tensors: list[Tensor]) -> str:
    parts = []
    for tensor in tensors:
        if tensor.profile is None:
            continue
        low, opt, high = tensor.profile
        dims = ", ".join(
            str(lo) if lo == hi else f"{lo}..{hi} (opt {o})"
            for lo, o, hi in zip(low, opt, high, strict=True)
        )
        parts.append(f"{tensor.name}: [{dims}]")
    return "; ".join(parts)


class TensorRtBackend(HeldSpecs, Backend):
    """NVIDIA TensorRT behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "tensorrt"
    formats: ClassVar[tuple[str, ...]] = ("tensorrt", "onnx")
    devices: ClassVar[tuple[str, ...]] = ("gpu",)
    extra: ClassVar[str | None] = "tensorrt"
    placement_report: ClassVar[bool] = True

    def __init__(
        self,
        trt: Any,
        handles: tuple[Any, Any, Any],
        executor: Executor,
        tensors: tuple[list[Tensor], list[Tensor]],
        origin: Origin,
        device: str,
        details: dict[str, str],
    ) -> None:
        self._trt = trt
        self._handles: tuple[Any, Any, Any] | None = handles  # runtime, engine, context
        self._executor = executor
        self._inputs = tuple(t.spec for t in tensors[0])
        self._outputs = tuple(t.spec for t in tensors[1])
        self._origin = origin
        self._device = device
        self._details = details
        self._measured: str | None = None  # the layers' precisions, once the inspector says

    @classmethod
    def availability(cls) -> Availability:
        return runtime_lookup.availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> TensorRtBackend:
        build = parse_options(options.extra)
        onnx = not _is_engine(path)
        if onnx:
            check_onnx_file(path)  # unsafe external data is refused before any runtime reads it
        trt = runtime_lookup.load_tensorrt(cls.name)
        cudart = import_cudart(cls.name)
        index, gpu, cc = select_device(cudart, device.index)
        logger = process_logger(trt)  # one per process: TensorRT keeps the first it is given
        what = f"TensorRT cannot open {path.name}"
        with translate_errors(what, OPEN_RULES, ModelIncompatible), Capture():
            runtime = trt.Runtime(logger)
            if onnx:
                engine, origin = engine_from_onnx(
                    trt, runtime, logger, path, options.precision, build, gpu, cc
                )
            else:
                engine, origin = engine_from_file(trt, runtime, path, options.precision)
            context = _context(engine)
            inputs, outputs = read_tensors(trt, engine, cudart)
            executor = Executor(trt, cudart, context, inputs, outputs, index)
        details = cls._describe(trt, origin, gpu, cc, index, inputs, build.workspace)
        handles = (runtime, engine, context)
        return cls(trt, handles, executor, (inputs, outputs), origin, f"gpu:{index}", details)

    @staticmethod
    def _describe(
        trt: Any,
        origin: Origin,
        gpu: str,
        cc: tuple[int, int],
        index: int,
        inputs: list[Tensor],
        workspace: int | None,
    ) -> dict[str, str]:
        found = {
            "runtime": f"TensorRT {trt.__version__}",
            "gpu": f"{gpu} (compute capability {cc[0]}.{cc[1]}, CUDA device {index})",
            "precision": origin.plan.summary if origin.plan else "as the engine was built",
            "engine": f"{origin.source}: {origin.note}",
        }
        if origin.source != "engine file":
            found["workspace"] = "TensorRT default" if workspace is None else f"{workspace} bytes"
            found["timing cache"] = str(origin.timing_cache) if origin.timing_cache else "off"
        ranges = _ranges(inputs)
        if ranges:
            found["optimization profile"] = ranges
        return found

    # --- the contract -----------------------------------------------------------------------
    @property
    def allocations(self) -> int:
        """How many device buffers were allocated so far (they are reused across calls)."""
        return self._executor.allocations

    def _precision(self) -> str:
        """The layers' real precisions (engine inspector), with what was asked for."""
        handles, origin = self._handles, self._origin
        if self._measured is None and handles is not None:
            engine = handles[1]
            counts = self._executor.with_context(
                lambda context: layer_precisions(self._trt, engine, context)
            )
            self._measured = describe_precisions(counts)
        asked = self._details["precision"]
        if self._measured is None:
            return asked
        if origin.plan is not None:
            return f"{self._measured} (engine inspector); built as: {asked}"
        return f"{self._measured} (engine inspector)"

    def details(self) -> Mapping[str, str]:
        found = dict(self._details)
        found["precision"] = self._precision()
        found["device buffers"] = f"{self._executor.allocations} allocation(s), reused across calls"
        return found

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """The engine's layers from its inspector (unverified here: see docs/placement.md)."""
        from edgeinfer.backends.tensorrt.placement import inspector_json, placement_report

        handles = self._handles
        if handles is None:
            raise InferenceError("the TensorRT engine is closed")
        engine = handles[1]
        text = self._executor.with_context(
            lambda context: inspector_json(self._trt, engine, context)
        )
        return placement_report(self.name, self._device, text)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._handles is None:
            raise InferenceError("the TensorRT engine is closed")
        return self._executor.run(feeds)

    def close(self) -> None:
        handles, self._handles = self._handles, None
        if handles is not None:
            self._executor.close()
            del handles  # context, engine, then runtime are released with their last reference
