"""ONNX Runtime backend (``onnxruntime``): ``.onnx`` on the CPU and on whatever execution
providers the installed onnxruntime build offers (CUDA, DirectML, CoreML, OpenVINO, QNN, ...).

Options (``load(options={"onnxruntime": {...}})``):

- ``session_options``: SessionOptions settings, e.g. ``{"graph_optimization_level":
  "ORT_ENABLE_BASIC"}`` (enum settings take the member's name or its int value).
- ``session_config``: ``add_session_config_entry`` key/values.
- ``provider_options``: options for the chosen execution provider (merged over ours).
- ``providers``: the accelerator's execution providers in the order to try them; only providers
  that serve the requested device kind are allowed.

ONNX models carry no quantisation parameters on their inputs and outputs (quantised ONNX models
use QuantizeLinear/DequantizeLinear inside the graph), so ``float_io`` has nothing to convert here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._errors import (
    BackendUnavailable,
    DeviceError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._kit.contract import Backend, HeldSpecs, OpenOptions, backend_options
from edgeinfer._kit.onnx_scan import check_onnx_file
from edgeinfer._kit.versions import installed_version
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability, TensorSpec
from edgeinfer.backends.onnxruntime.config import (
    CPU,
    OPTION_KEYS,
    choose_providers,
    session_options,
)

__all__ = ["OnnxRuntimeBackend"]

_HINT = "pip install 'edgeinfer[onnx]'"
_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-qnn",
    "onnxruntime-silicon",
    "onnxruntime-rocm",
)
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}
# Native error class name -> edgeinfer error, when opening and when running.
_OPEN_ERRORS: dict[str, type[EdgeInferError]] = {
    "NotImplemented": ModelIncompatible,
    "EPFail": DeviceError,
    "DeviceReset": DeviceError,
    "ModelRequiresCompilation": ModelIncompatible,
}
# Messages of ``Fail`` that mean "a valid model this build cannot run", not "a broken file".
_UNSUPPORTED_MARKERS = (
    "is not a registered function/op",
    "ValidateOpsetForDomain",
    "is under development",
    "NOT_IMPLEMENTED",
    "Could not find an implementation",
)
_RUN_ERRORS: dict[str, type[EdgeInferError]] = {
    "InvalidArgument": InvalidInput,
    "EPFail": DeviceError,
    "DeviceReset": DeviceError,
}


@contextlib.contextmanager
def _opening(path: Path, provider: str = CPU) -> Iterator[None]:
    """Map onnxruntime's exceptions while opening to edgeinfer's, keeping the original chained."""
    try:
        yield
    except EdgeInferError:
        raise
    except Exception as error:
        message = str(error).strip()
        kind = _OPEN_ERRORS.get(type(error).__name__, ModelError)
        if kind is ModelError and any(marker in message for marker in _UNSUPPORTED_MARKERS):
            kind = ModelIncompatible  # valid ONNX that this onnxruntime cannot run
        elif provider != CPU and provider.removesuffix("ExecutionProvider") in message:
            kind = DeviceError  # the accelerator's provider failed to initialise
        raise kind(f"onnxruntime cannot open {path.name}: {message}") from error


def _run_error(error: Exception, path: Path) -> EdgeInferError:
    """The edgeinfer error for an exception raised by ``InferenceSession.run``."""
    kind = _RUN_ERRORS.get(type(error).__name__, InferenceError)
    error_out = kind(f"onnxruntime failed to run {path.name}: {str(error).strip()}")
    error_out.__cause__ = error
    return error_out


@functools.lru_cache(maxsize=1)
def _installed_version() -> str | None:
    return installed_version(*_DISTRIBUTIONS)


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("onnxruntime") is None:
        return Availability(False, "onnxruntime is not installed", _HINT)
    version = _installed_version()
    return Availability(
        True, f"onnxruntime {version or '(unknown version)'} is installed", None, version
    )


def _spec(arg: Any) -> TensorSpec:
    dtype = _DTYPES.get(arg.type)
    if dtype is None:
        raise ModelIncompatible(
            f"tensor {arg.name!r} has type {arg.type}; edgeinfer handles numeric, bool and string "
            "tensors only"
        )
    shape = arg.shape
    dims = (
        None
        if shape is None
        else tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
    )
    return TensorSpec(arg.name, dims, np.dtype(dtype))


class OnnxRuntimeBackend(HeldSpecs, Backend):
    """ONNX Runtime behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "onnxruntime"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "onnx"
    operator_profiling: ClassVar[bool] = True

    def __init__(
        self,
        session: Any,
        path: Path,
        device: str,
        options: OpenOptions,
        providers: list[tuple[str, dict[str, str]]] | None = None,
    ) -> None:
        self._session: Any = session
        self._path = path
        self._device = device
        self._options = options
        self._providers = providers or [("CPUExecutionProvider", {})]
        self._threads = options.threads
        self._float_io = options.float_io
        self._inputs = tuple(_spec(arg) for arg in session.get_inputs())
        self._outputs = tuple(_spec(arg) for arg in session.get_outputs())
        self._output_names = [spec.name for spec in self._outputs]
        self._single_output = self._output_names[0] if len(self._output_names) == 1 else None
        self._dim_names = {
            arg.name: tuple(d if isinstance(d, str) and d else None for d in arg.shape or ())
            for arg in session.get_inputs()
        }

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> OnnxRuntimeBackend:
        extra = backend_options(cls.name, options.extra, OPTION_KEYS)
        if options.precision not in (None, "fp32"):
            raise ModelIncompatible(
                f"onnxruntime runs the model's own precision and cannot convert to "
                f"{options.precision}; give an already converted model, or another backend"
            )
        check_onnx_file(path)
        try:
            import onnxruntime as ort
        except Exception as error:  # ImportError, or an OSError from a missing .so on boards
            raise BackendUnavailable(
                cls.name, f"import onnxruntime failed: {error}", _HINT
            ) from error
        providers = choose_providers(ort.get_available_providers(), device, extra)
        settings = session_options(ort, options.threads, extra)
        wanted = providers[0][0]
        with _opening(path, wanted):
            # enable_fallback=0: onnxruntime would otherwise retry on the CPU silently (printing
            # to stdout) when a provider fails, at creation and at run time.
            session = ort.InferenceSession(
                str(path), sess_options=settings, providers=providers, enable_fallback=0
            )
            session.disable_fallback()
        if wanted not in session.get_providers():
            raise DeviceError(
                f"onnxruntime created the session without {wanted} (it got "
                f"{', '.join(session.get_providers())}): the provider failed to initialise, "
                "usually a missing driver or CUDA/cuDNN library. Set options {'onnxruntime': "
                "{'session_options': {'log_severity_level': 0}}} to see onnxruntime's reason"
            )
        with _opening(path):
            return cls(session, path, device.id, options, providers)

    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        return self._dim_names

    def details(self) -> Mapping[str, str]:
        session = self._session
        providers = session.get_providers() if session is not None else []
        found = {
            "runtime": f"onnxruntime {_installed_version()}",
            "providers": ", ".join(providers),
            "threads": "runtime default" if self._threads is None else str(self._threads),
            "precision": "the model's own",
        }
        if self._float_io:
            found["float_io"] = "nothing to convert: ONNX inputs and outputs carry no quantisation"
        return found

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._session
        if session is None:
            raise InferenceError(f"onnxruntime session for {self._path.name} is closed")
        try:
            results = session.run(self._output_names, feeds)
        except Exception as error:
            raise _run_error(error, self._path) from error
        if self._single_output is not None:
            return {self._single_output: results[0]}
        return dict(zip(self._output_names, results))  # noqa: B905 - one result per name

    def operator_events(self, feeds: Mapping[str, np.ndarray], runs: int) -> list[Any]:
        """Per-node times from onnxruntime's own profiler, on a separate profiling session."""
        from edgeinfer.backends.onnxruntime.profile import operator_events

        return operator_events(self._path, self._providers, self._options, feeds, runs)

    def close(self) -> None:
        self._session = None
