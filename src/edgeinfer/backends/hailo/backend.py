"""Hailo backend (``hailo``): ``.hef`` models (compiled by Hailo's Dataflow Compiler) on Hailo-8,
Hailo-8L and later accelerators through HailoRT's ``InferModel`` API (``hailo_platform``).

The calls are HailoRT's Python API (``pyhailort.py``): ``VDevice(VDevice.create_params())``,
``vdevice.create_infer_model(hef_path)``, ``infer_model.set_batch_size(1)``, per stream
``name``/``shape``/``format.type`` and ``set_format_type``, ``infer_model.configure()``, then per
call ``configured.create_bindings()``, ``bindings.input(name).set_buffer(array)``,
``bindings.output(name).set_buffer(array)`` and ``configured.run([bindings], timeout_ms)``.

HailoRT's shapes are one frame's (``[h, w, c]``); edgeinfer adds a leading batch of 1. Values are
the streams' own type (uint8 for most models); ``float_io=True`` asks HailoRT for float32 in and
out (it quantises and dequantises). Options (``load(options={"hailo": {...}})``): ``timeout_ms``
(default 10000).

Not run here: no Hailo device (``tests/test_hailo.py`` marks the runtime test ``hardware``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    BackendUnavailable,
    DeviceError,
    DeviceRequest,
    ErrorRule,
    HeldSpecs,
    InferenceError,
    ModelError,
    ModelIncompatible,
    OpenOptions,
    TensorSpec,
    captured_native_stderr,
    check_options,
    installed_version,
    translate_errors,
    translated,
)
from edgeinfer.backends.hailo.probe import PACKAGE_HINT, diagnose

__all__ = ["HailoBackend"]

_OPTION_KEYS = ("timeout_ms",)
# HailoRT's exception classes (pyhailort.py), matched by name.
_OPEN_RULES = (
    ErrorRule(ModelError, names=("HailoRTInvalidHEFException",)),
    ErrorRule(ModelIncompatible, names=("HailoRTHEFNotCompatibleWithDevice",)),
    ErrorRule(DeviceError, names=("HailoRTDriverOperationFailedException", "HailoRTException")),
)
_RUN_RULES = (
    ErrorRule(DeviceError, names=("HailoRTTimeout", "HailoRTDriverOperationFailedException")),
)
_TYPES = {"UINT8": np.uint8, "UINT16": np.uint16, "FLOAT32": np.float32}


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    found = diagnose()
    if not found.usable:
        return Availability(False, found.reason, found.hint)
    version = installed_version("hailort")
    return Availability(True, f"{found.reason}; HailoRT {version}", None, version)


def _spec(stream: Any) -> TensorSpec:
    kind = getattr(stream.format.type, "name", str(stream.format.type)).rsplit(".", 1)[-1]
    if kind not in _TYPES:
        raise ModelIncompatible(f"Hailo stream {stream.name!r} has format type {kind}")
    return TensorSpec(stream.name, (1, *(int(d) for d in stream.shape)), np.dtype(_TYPES[kind]))


class HailoBackend(HeldSpecs, Backend):
    """HailoRT's InferModel behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "hailo"
    formats: ClassVar[tuple[str, ...]] = ("hailo",)
    devices: ClassVar[tuple[str, ...]] = ("npu",)
    extra: ClassVar[str | None] = "hailo"

    def __init__(
        self, vdevice: Any, infer_model: Any, configured: Any, path: Path, timeout_ms: int,
        details: dict[str, str],
    ) -> None:  # fmt: skip
        self._vdevice: Any = vdevice
        self._infer_model = infer_model
        self._configured: Any = configured
        self._path = path
        self._timeout = timeout_ms
        self._device = "npu:0"
        self._details = details
        self._inputs = tuple(_spec(stream) for stream in infer_model.inputs)
        self._outputs = tuple(_spec(stream) for stream in infer_model.outputs)
        self._lock = threading.Lock()
        self._what = f"hailo failed to run {path.name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> HailoBackend:
        extra = check_options(cls.name, options.extra, _OPTION_KEYS)
        timeout = int(extra.get("timeout_ms", 10000))
        if device.kind != "npu" or device.index not in (None, 0):
            raise DeviceError(f"hailo runs on the first Hailo device (npu:0), not {device.id!r}")
        if options.precision not in (None, "int8"):
            raise ModelIncompatible("a .hef model's precision is fixed by Hailo's compiler")
        found = diagnose()
        if not found.usable:
            raise BackendUnavailable(cls.name, found.reason, found.hint)
        try:
            with captured_native_stderr():
                from hailo_platform import FormatType, VDevice
        except Exception as error:  # ImportError, or OSError: libhailort missing
            raise BackendUnavailable(
                cls.name, f"import hailo_platform failed: {error}", PACKAGE_HINT
            ) from error
        with translate_errors(f"hailo cannot open {path.name}", _OPEN_RULES, DeviceError):
            vdevice = VDevice(VDevice.create_params())
        try:
            with translate_errors(f"hailo cannot load {path.name}", _OPEN_RULES, ModelError):
                infer_model = vdevice.create_infer_model(str(path))
                infer_model.set_batch_size(1)
                if options.float_io:
                    for stream in (*infer_model.inputs, *infer_model.outputs):
                        stream.set_format_type(FormatType.FLOAT32)
                configured = infer_model.configure()
        except Exception:
            vdevice.release()
            raise
        details = {
            "runtime": f"HailoRT {installed_version('hailort')}",
            "device": found.reason,
            "precision": "the model's own (fixed by Hailo's compiler)",
            "float_io": "float32 in and out, (de)quantised by HailoRT"
            if options.float_io
            else "off",
        }
        return cls(vdevice, infer_model, configured, path, timeout, details)

    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            configured = self._configured
            if configured is None:
                raise InferenceError(f"hailo model {self._path.name} is closed")
            try:
                bindings = configured.create_bindings()
                for spec in self._inputs:  # one frame: the leading batch of 1 dropped
                    bindings.input(spec.name).set_buffer(np.ascontiguousarray(feeds[spec.name][0]))
                outputs = {
                    spec.name: np.empty([int(d or 1) for d in (spec.shape or (1,))[1:]], spec.dtype)
                    for spec in self._outputs
                }
                for name, buffer in outputs.items():
                    bindings.output(name).set_buffer(buffer)
                configured.run([bindings], self._timeout)
            except Exception as error:
                raise translated(error, self._what, _RUN_RULES) from error
        return {name: buffer[np.newaxis] for name, buffer in outputs.items()}  # fresh each call

    def close(self) -> None:
        with self._lock:
            vdevice, self._vdevice = self._vdevice, None
            self._configured = None
        if vdevice is not None:
            vdevice.release()
