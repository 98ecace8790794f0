"""ONNX Runtime backend (``onnxruntime``): ``.onnx`` on the CPU and on whatever execution
providers the installed onnxruntime build offers (CUDA, DirectML, CoreML, OpenVINO, QNN, ...).

Options (``load(options={"onnxruntime": {...}})``):

- ``session_options``: SessionOptions attributes, e.g. ``{"graph_optimization_level": 99}``.
- ``session_config``: ``add_session_config_entry`` key/values.
- ``provider_options``: options for the accelerator's execution provider (merged over ours).
- ``providers``: an explicit list of provider names to use instead of the device mapping.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._backend import Backend, OpenOptions
from edgeinfer._device import DeviceRequest
from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._onnx_scan import check_onnx_file
from edgeinfer._types import Availability, TensorSpec

from ._ort_providers import CPU, PROVIDERS_BY_DEVICE, install_hint_for, provider_options

__all__ = ["OnnxRuntimeBackend"]

_HINT = "pip install 'edgeinfer[onnx]'"
_OPTION_KEYS = ("session_options", "session_config", "provider_options", "providers")
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
def _opening(path: Path) -> Iterator[None]:
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
        raise kind(f"onnxruntime cannot open {path.name}: {message}") from error


def _run_error(error: Exception, path: Path) -> EdgeInferError:
    """The edgeinfer error for an exception raised by ``InferenceSession.run``."""
    kind = _RUN_ERRORS.get(type(error).__name__, InferenceError)
    error_out = kind(f"onnxruntime failed to run {path.name}: {str(error).strip()}")
    error_out.__cause__ = error
    return error_out


@functools.lru_cache(maxsize=1)
def _installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for distribution in _DISTRIBUTIONS:
        with contextlib.suppress(PackageNotFoundError):
            return version(distribution)
    return None


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


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "onnxruntime"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "onnx"

    def __init__(self, session: Any, path: Path, device: str, threads: int | None) -> None:
        self._session: Any = session
        self._path = path
        self._device = device
        self._threads = threads
        self._inputs = tuple(_spec(arg) for arg in session.get_inputs())
        self._outputs = tuple(_spec(arg) for arg in session.get_outputs())
        self._output_names = [spec.name for spec in self._outputs]
        self._dim_names = {
            arg.name: tuple(d if isinstance(d, str) and d else None for d in arg.shape or ())
            for arg in session.get_inputs()
        }

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> OnnxRuntimeBackend:
        extra = dict(options.extra)
        unknown = sorted(set(extra) - set(_OPTION_KEYS))
        if unknown:
            raise ConfigurationError(
                f"unknown onnxruntime option(s) {unknown}; valid: {', '.join(_OPTION_KEYS)}"
            )
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
        providers = cls._providers(ort, device, extra)
        session_options = cls._session_options(ort, options.threads, extra)
        with _opening(path):
            session = ort.InferenceSession(
                str(path), sess_options=session_options, providers=providers
            )
        wanted = providers[0][0]
        if wanted not in session.get_providers():
            raise DeviceError(
                f"onnxruntime created the session without {wanted} (it got "
                f"{', '.join(session.get_providers())}): the provider failed to initialise, "
                "usually a missing driver or CUDA/cuDNN library. Set options {'onnxruntime': "
                "{'session_options': {'log_severity_level': 0}}} to see onnxruntime's reason"
            )
        with _opening(path):
            return cls(session, path, device.id, options.threads)

    @staticmethod
    def _providers(
        ort: Any, device: DeviceRequest, extra: Mapping[str, Any]
    ) -> list[tuple[str, dict[str, str]]]:
        compiled_in = ort.get_available_providers()
        names = list(extra.get("providers") or PROVIDERS_BY_DEVICE[device.kind])
        chosen = next((name for name in names if name in compiled_in), None)
        if chosen is None:
            raise BackendUnavailable(
                OnnxRuntimeBackend.name,
                f"this onnxruntime build has no execution provider for {device.kind} (it has "
                f"{', '.join(compiled_in)}; wanted one of {', '.join(names) or 'none'})",
                install_hint_for(device.kind),
            )
        ours = provider_options(chosen, device)
        ours.update({k: str(v) for k, v in dict(extra.get("provider_options") or {}).items()})
        providers = [(chosen, ours)]
        if chosen != CPU:
            providers.append((CPU, {}))  # for the nodes the accelerator does not take
        return providers

    @staticmethod
    def _session_options(ort: Any, threads: int | None, extra: Mapping[str, Any]) -> Any:
        session_options = ort.SessionOptions()
        session_options.log_severity_level = 3  # errors only; warnings reach users as our errors
        if threads is not None:
            session_options.intra_op_num_threads = threads
        for key, value in dict(extra.get("session_options") or {}).items():
            if key.startswith("_") or not hasattr(session_options, key):
                raise ConfigurationError(f"onnxruntime SessionOptions has no attribute {key!r}")
            try:
                setattr(session_options, key, value)
            except (TypeError, AttributeError) as error:
                raise ConfigurationError(
                    f"onnxruntime session option {key}={value!r}: {error}"
                ) from error
        for key, value in dict(extra.get("session_config") or {}).items():
            session_options.add_session_config_entry(str(key), str(value))
        return session_options

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    @property
    def device(self) -> str:
        return self._device

    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        return self._dim_names

    def details(self) -> Mapping[str, str]:
        session = self._session
        providers = session.get_providers() if session is not None else []
        found = {
            "runtime": f"onnxruntime {_installed_version()}",
            "providers": ", ".join(providers),
            "threads": "runtime default" if self._threads is None else str(self._threads),
        }
        return found

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._session
        if session is None:
            raise InferenceError(f"onnxruntime session for {self._path.name} is closed")
        try:
            results = session.run(self._output_names, feeds)
        except Exception as error:
            raise _run_error(error, self._path) from error
        return dict(zip(self._output_names, results, strict=True))

    def close(self) -> None:
        self._session = None
