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

import functools
import importlib.util
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    BackendUnavailable,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelError,
    ModelIncompatible,
    OnnxFacts,
    OpenOptions,
    OperatorEvent,
    Placement,
    captured_native_stderr,
    check_onnx_file,
    check_options,
    installed_version,
    translate_errors,
    translated,
)
from edgeinfer.backends.openvino.config import (
    OPTION_KEYS,
    compile_config,
    edgeinfer_precision,
    openvino_device,
)
from edgeinfer.backends.openvino.errors import COMPILE_RULES, READ_RULES, RUN_RULES
from edgeinfer.backends.openvino.ports import port_specs

__all__ = ["OpenVinoBackend"]

_log = logging.getLogger("edgeinfer")
_HINT = "pip install openvino (what edgeinfer's 'openvino' extra installs)"
_QUANTISED_OPS = {"FakeQuantize", "FakeConvert"}


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("openvino") is None:
        return Availability(False, "openvino is not installed", _HINT)
    found = installed_version("openvino")
    return Availability(True, f"openvino {found or '(unknown version)'} is installed", None, found)


class OpenVinoBackend(HeldSpecs, Backend):
    """OpenVINO behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "openvino"
    formats: ClassVar[tuple[str, ...]] = ("openvino", "onnx")
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "openvino"
    chooses_device: ClassVar[bool] = True
    operator_profiling: ClassVar[bool] = True
    placement_report: ClassVar[bool] = True

    def __init__(
        self,
        compiled: Any,
        path: Path,
        device: str,
        details: dict[str, str],
        facts: OnnxFacts | None = None,
    ) -> None:
        self._compiled: Any = compiled
        self._path = path
        self._device = device
        self._details = details
        self._inputs = port_specs(compiled.inputs, facts, outputs=False)
        self._outputs = port_specs(compiled.outputs, facts, outputs=True)
        self._output_names = [spec.name for spec in self._outputs]
        # Inputs are fed by port index, so our names never meet OpenVINO's name lookup.
        self._index = {spec.name: index for index, spec in enumerate(self._inputs)}
        self._metadata = dict(facts.metadata) if facts is not None else {}
        # Infer requests, one per concurrent caller; they belong to one compiled model.
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._recompile: Any = None  # compiles the model again (after a failed call)
        self._profiled: Any = None  # compiles a copy with performance counters, on demand
        self._stale = False
        self._lock = threading.Lock()
        self._what = f"openvino failed to run {path.name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> OpenVinoBackend:
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        facts = None
        if path.suffix.lower() != ".xml":  # refuse unsafe ONNX before OpenVINO reads the file
            facts = check_onnx_file(path)
        try:
            with captured_native_stderr():
                import openvino
        except Exception as error:
            raise BackendUnavailable(cls.name, f"import openvino failed: {error}", _HINT) from error
        core = openvino.Core()
        device_name = openvino_device(device, core.available_devices)
        with translate_errors(f"openvino cannot read {path.name}", READ_RULES, ModelError):
            model = core.read_model(str(path))
        _check_int8(model, options.precision, path)
        config = compile_config(options.threads, options.precision, extra, device_name)
        what = f"openvino cannot compile {path.name}"
        with translate_errors(what, COMPILE_RULES), captured_native_stderr() as native:
            compiled = core.compile_model(model, device_name, config)
        for line in native.lines():
            _log.debug("openvino (native): %s", line)
        runs_on, details = _what_runs(compiled, device, device_name, options, path)
        instance = cls(compiled, path, runs_on, details, facts)
        instance._recompile = lambda: core.compile_model(model, device_name, config)
        instance._profiled = lambda: core.compile_model(
            model, device_name, {**config, "PERF_COUNT": True}
        )
        return instance

    # --- the contract -----------------------------------------------------------------------
    def details(self) -> Mapping[str, str]:
        return self._details

    def metadata(self) -> Mapping[str, str]:
        return self._metadata

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._stale:
            self._renew()
        compiled, idle = self._compiled, self._idle
        if compiled is None:
            raise InferenceError(f"openvino model {self._path.name} is closed")
        try:
            request = idle.get_nowait()
        except queue.Empty:
            request = compiled.create_infer_request()
        index = self._index
        # share_inputs=True reads the caller's arrays in place; OpenVINO refuses read-only
        # ones (a 0-d array from np.array(3.0) is), so those are copied.
        inputs = {
            index[name]: array if array.flags.writeable else np.array(array)
            for name, array in feeds.items()
        }
        try:
            # share_outputs=False: results are copies, never buffers the next call overwrites.
            results = request.infer(inputs, share_inputs=True, share_outputs=False)
            arrays = results.to_tuple()
        except Exception as error:
            # After a failed call OpenVINO's CPU plugin can keep failing good inputs, on every
            # request of that compiled model (an empty OCR line poisons its shape caches): the
            # model is compiled again before the next call.
            self._stale = True
            raise translated(error, self._what, RUN_RULES) from error
        idle.put(request)
        return dict(zip(self._output_names, arrays, strict=True))

    def _renew(self) -> None:
        with self._lock:
            if not self._stale or self._recompile is None:
                return
            with translate_errors(f"openvino cannot compile {self._path.name} again"):
                compiled = self._recompile()
            self._compiled, self._idle = compiled, queue.SimpleQueue()
            self._stale = False
            _log.info("openvino compiled %s again after a failed call", self._path.name)

    def operator_events(
        self, feeds: Mapping[str, np.ndarray], runs: int
    ) -> Sequence[OperatorEvent]:
        """Per-node times from OpenVINO's performance counters (a copy compiled with
        ``PERF_COUNT``). OpenVINO gives durations, not start times: nodes are laid end to end."""
        request = self._profiled().create_infer_request()
        events: list[OperatorEvent] = []
        clock = 0.0
        inputs = {self._index[name]: np.array(array) for name, array in feeds.items()}
        for run in range(runs):
            request.infer(inputs)
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

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """The executed layers with their device and runtime precision; with ``feeds``, each
        group's share of the time from a copy compiled with performance counters."""
        from edgeinfer.backends.openvino.placement import placement_report

        compiled = self._compiled
        if compiled is None:
            raise InferenceError(f"openvino model {self._path.name} is closed")
        inputs = None
        if feeds is not None:
            inputs = {self._index[name]: np.array(array) for name, array in feeds.items()}
        with translate_errors(f"openvino cannot report the placement of {self._path.name}"):
            return placement_report(self.name, self._device, compiled, self._profiled, inputs)

    def close(self) -> None:
        self._compiled = None
        self._profiled = self._recompile = None
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
