"""OpenVINO backend (``openvino``): IR (``.xml`` + ``.bin``) and ``.onnx`` on Intel CPUs, GPUs and
NPUs, with OpenVINO's own ``AUTO`` device when edgeinfer's ``device="auto"`` allows several.

Options (``load(options={"openvino": {...}})``):

- ``performance_hint``: ``"LATENCY"`` (default), ``"THROUGHPUT"`` or ``"CUMULATIVE_THROUGHPUT"``.
- ``config``: any other OpenVINO properties for ``compile_model``, passed through.

Precision never surprises: ``precision=`` maps to ``INFERENCE_PRECISION_HINT`` (``"fp32"``,
``"fp16"``, ``"bf16"``; ``"int8"`` for models that are already quantised), and the precision the
compiled model really uses is read back, shown by ``explain()``, and logged as a warning when
OpenVINO's default lowered it (bf16 on CPUs with AMX or AVX512-BF16).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import queue
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._errors import (
    BackendUnavailable,
    DeviceError,
    EdgeInferError,
    InferenceError,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._kit.contract import Backend, HeldSpecs, OpenOptions, backend_options
from edgeinfer._kit.native_stderr import captured_native_stderr
from edgeinfer._kit.onnx_scan import check_onnx_file
from edgeinfer._kit.versions import installed_version
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability, TensorSpec
from edgeinfer.backends.openvino.config import (
    OPTION_KEYS,
    compile_config,
    edgeinfer_precision,
    openvino_device,
)

__all__ = ["OpenVinoBackend"]

_log = logging.getLogger("edgeinfer")
_HINT = "pip install 'edgeinfer[openvino]'"
_QUANTISED_OPS = {"FakeQuantize", "FakeConvert"}
# Read failures that mean "a valid model with operators OpenVINO cannot convert", not "broken".
_NO_CONVERSION = ("No conversion rule found", "OpConversionFailure", "is not supported")
_UNSUPPORTED = ("Cannot create", "not supported", "Unsupported", "is not implemented")


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("openvino") is None:
        return Availability(False, "openvino is not installed", _HINT)
    found = installed_version("openvino")
    return Availability(True, f"openvino {found or '(unknown version)'} is installed", None, found)


def _spec(port: Any) -> TensorSpec:
    shape = port.get_partial_shape()
    dims = (
        None
        if shape.rank.is_dynamic
        else tuple(None if dim.is_dynamic else dim.get_length() for dim in shape)
    )
    return TensorSpec(port.get_any_name(), dims, np.dtype(port.get_element_type().to_dtype()))


@contextlib.contextmanager
def _translated(path: Path, stage: str) -> Iterator[None]:
    """OpenVINO raises RuntimeError for everything: read the message to choose our error."""
    try:
        yield
    except EdgeInferError:
        raise
    except Exception as error:
        message = str(error).strip()
        if stage == "read":
            kind = ModelIncompatible if any(m in message for m in _NO_CONVERSION) else ModelError
            raise kind(f"openvino cannot read {path.name}: {message}") from error
        if any(marker in message for marker in _UNSUPPORTED):
            raise ModelIncompatible(f"openvino cannot compile {path.name}: {message}") from error
        if "Cannot load library" in message or "plugin" in message.lower():
            raise DeviceError(f"openvino's device plugin failed: {message}") from error
        raise ModelIncompatible(f"openvino cannot compile {path.name}: {message}") from error


class OpenVinoBackend(HeldSpecs, Backend):
    """OpenVINO behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "openvino"
    formats: ClassVar[tuple[str, ...]] = ("openvino", "onnx")
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "openvino"
    chooses_device: ClassVar[bool] = True
    operator_profiling: ClassVar[bool] = True

    def __init__(self, compiled: Any, path: Path, device: str, details: dict[str, str]) -> None:
        self._compiled: Any = compiled
        self._path = path
        self._device = device
        self._details = details
        self._inputs = tuple(_spec(port) for port in compiled.inputs)
        self._outputs = tuple(_spec(port) for port in compiled.outputs)
        self._output_names = [spec.name for spec in self._outputs]
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # infer requests, one per caller
        self._profiled: Any = None  # compiles a copy with performance counters, on demand

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> OpenVinoBackend:
        extra = backend_options(cls.name, options.extra, OPTION_KEYS)
        if path.suffix.lower() != ".xml":
            check_onnx_file(path)  # refuse unsafe external data before OpenVINO reads the file
        try:
            with captured_native_stderr():
                import openvino
        except Exception as error:
            raise BackendUnavailable(cls.name, f"import openvino failed: {error}", _HINT) from error
        core = openvino.Core()
        device_name = openvino_device(device, core.available_devices)
        with _translated(path, "read"):
            model = core.read_model(str(path))
        _check_int8(model, options.precision, path)
        config = compile_config(options.threads, options.precision, extra, device_name)
        with _translated(path, "compile"), captured_native_stderr() as native:
            compiled = core.compile_model(model, device_name, config)
        for line in native.lines():
            _log.debug("openvino (native): %s", line)
        instance = cls(compiled, path, *_what_runs(compiled, device, device_name, options, path))
        instance._profiled = lambda: core.compile_model(
            model, device_name, {**config, "PERF_COUNT": True}
        )
        return instance

    # --- the contract -----------------------------------------------------------------------
    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        compiled = self._compiled
        if compiled is None:
            raise InferenceError(f"openvino model {self._path.name} is closed")
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = compiled.create_infer_request()
        try:
            # share_outputs=False: results are copies, never buffers the next call overwrites.
            results = request.infer(dict(feeds), share_inputs=True, share_outputs=False)
            arrays = results.to_tuple()
        except Exception as error:
            raise InferenceError(f"openvino failed to run {self._path.name}: {error}") from error
        finally:
            self._idle.put(request)
        return dict(zip(self._output_names, arrays, strict=True))

    def operator_events(self, feeds: Mapping[str, np.ndarray], runs: int) -> list[Any]:
        """Per-node times from OpenVINO's performance counters (a copy compiled with
        ``PERF_COUNT``). OpenVINO gives durations, not start times: nodes are laid end to end."""
        from edgeinfer._model.profile import OperatorEvent

        request = self._profiled().create_infer_request()
        events: list[OperatorEvent] = []
        clock = 0.0
        for run in range(runs):
            request.infer(dict(feeds))
            for info in request.profiling_info:
                if str(info.status).endswith("NOT_RUN"):
                    continue
                duration = info.real_time.total_seconds() * 1e6
                events.append(
                    OperatorEvent(
                        info.node_name, info.node_type, clock, duration, run, info.exec_type
                    )
                )
                clock += duration
        return events

    def close(self) -> None:
        self._compiled = None
        self._profiled = None
        self._idle = queue.SimpleQueue()


def _check_int8(model: Any, precision: str | None, path: Path) -> None:
    if precision != "int8":
        return
    kinds = {op.get_type_name() for op in model.get_ordered_ops()}
    if not kinds & _QUANTISED_OPS:
        raise ModelIncompatible(
            f"openvino runs int8 only for models already quantised (FakeQuantize nodes, e.g. from "
            f"NNCF or a QDQ ONNX model); {path.name} has none"
        )


def _what_runs(
    compiled: Any, device: DeviceRequest, device_name: str, options: OpenOptions, path: Path
) -> tuple[str, dict[str, str]]:
    """The device string and the details to show, read back from the compiled model."""
    executing = [str(name) for name in compiled.get_property("EXECUTION_DEVICES")]
    try:
        precision = edgeinfer_precision(compiled.get_property("INFERENCE_PRECISION_HINT"))
    except RuntimeError:  # AUTO does not report it: each device it uses has its own
        precision = options.precision or "per device (chosen by AUTO)"
    if options.precision in ("fp16", "bf16", "fp32") and precision not in (
        options.precision,
        "per device (chosen by AUTO)",
    ):
        raise ModelIncompatible(
            f"asked for precision {options.precision}, but {device_name} runs {precision}"
        )
    source = "as asked" if options.precision else "OpenVINO's default on this device"
    if options.precision is None and precision in ("bf16", "fp16"):
        _log.warning(
            "openvino runs %s in %s (%s); results can differ from fp32 by about 1e-2 relative. "
            "Pass precision='fp32' for full precision.",
            path.name,
            precision,
            source,
        )
    kind = executing[0].split(".")[0].lower() if executing else device.kind
    runs_on = kind if device.kind == "auto" else device.id
    details = {
        "runtime": f"openvino {_availability().version}",
        "device": f"{device_name}, executing on {', '.join(executing) or 'unknown'}",
        "precision": f"{precision} ({source})",
        "performance hint": str(compiled.get_property("PERFORMANCE_HINT")),
        "threads": "runtime default" if options.threads is None else str(options.threads),
    }
    return runs_on, details
