"""CUDA through cuda-python's runtime bindings: the device, a stream, device buffers and copies.

Every cudart call returns a tuple ``(error, *results)``; ``call`` checks the error and turns it
into an edgeinfer error that names it (``cudaErrorInsufficientDriver: ...``). A machine without a
usable driver or GPU gives ``BackendUnavailable``; any other CUDA failure is a ``DeviceError``.

Import order: ``cuda.bindings.runtime`` (cuda-python 12.6 and later; the only one in 13.x), then
``cuda.cudart`` (older cuda-python, removed in 13.0).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from edgeinfer._errors import BackendUnavailable, DeviceError, EdgeInferError

__all__ = ["DeviceBuffer", "call", "error_name", "import_cudart", "select_device"]

HINT = "pip install 'cuda-python>=12' (the version matching your CUDA driver)"

# Errors that mean "no usable NVIDIA GPU or driver here", as opposed to a failing device.
_NO_DEVICE = {
    "cudaErrorNoDevice": "no CUDA-capable GPU was found",
    "cudaErrorInsufficientDriver": "the NVIDIA driver is too old for this CUDA runtime",
    "cudaErrorSystemDriverMismatch": "the NVIDIA driver and its kernel module do not match",
    "cudaErrorCompatNotSupportedOnDevice": "CUDA forward compatibility is not supported here",
}
_DRIVER_HINT = (
    "install or update the NVIDIA driver (nvidia-smi must list the GPU; on Jetson the driver "
    "comes with JetPack), or use device='cpu'"
)


def import_cudart(backend: str) -> Any:
    """cuda-python's runtime module. Raises ``BackendUnavailable`` naming why it cannot load."""
    problems = []
    for module in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(module)
        except Exception as error:  # ImportError, or OSError from a missing libcuda/libcudart
            problems.append(f"import {module} failed: {type(error).__name__}: {error}")
    raise BackendUnavailable(backend, "; ".join(problems), HINT)


def error_name(cudart: Any, error: Any) -> str:
    """``cudaErrorX: description`` for a cudart error value."""
    name = getattr(error, "name", None)
    if not isinstance(name, str):
        try:
            raw = cudart.cudaGetErrorName(error)[1]
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
        except Exception:
            name = f"CUDA error {int(error)}"
    try:
        raw = cudart.cudaGetErrorString(error)[1]
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
    except Exception:
        return name
    return f"{name}: {text}" if text and text != name else name


def call(cudart: Any, result: Any, what: str, backend: str = "tensorrt") -> Any:
    """Check a cudart result tuple: its single value, a tuple of values, or ``None``."""
    error, values = result[0], tuple(result[1:])
    if int(error) != 0:
        raise _translate(cudart, error, what, backend)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _translate(cudart: Any, error: Any, what: str, backend: str) -> EdgeInferError:
    described = error_name(cudart, error)
    for name, meaning in _NO_DEVICE.items():
        if described.startswith(name):
            return BackendUnavailable(backend, f"{meaning} ({what}: {described})", _DRIVER_HINT)
    return DeviceError(f"CUDA failed in {what}: {described}")


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value).strip()


def select_device(cudart: Any, index: int | None) -> tuple[int, str, tuple[int, int]]:
    """Make device ``index`` (default 0) current: ``(index, GPU name, compute capability)``."""
    chosen = 0 if index is None else index
    count = call(cudart, cudart.cudaGetDeviceCount(), "cudaGetDeviceCount")
    if count == 0:
        raise BackendUnavailable("tensorrt", "no CUDA-capable GPU was found", _DRIVER_HINT)
    if chosen >= count:
        raise DeviceError(
            f"gpu:{chosen} was asked for, but CUDA sees {count} GPU(s): gpu:0..gpu:{count - 1} "
            "(CUDA counts NVIDIA GPUs only; CUDA_VISIBLE_DEVICES may hide some)"
        )
    call(cudart, cudart.cudaSetDevice(chosen), f"cudaSetDevice({chosen})")
    props = call(cudart, cudart.cudaGetDeviceProperties(chosen), "cudaGetDeviceProperties")
    return chosen, _decode(props.name), (int(props.major), int(props.minor))


class DeviceBuffer:
    """One device allocation, kept across calls and replaced only when a call needs more."""

    __slots__ = ("_call", "_cudart", "nbytes", "ptr")

    def __init__(self, cudart: Any, check: Callable[..., Any] = call) -> None:
        self._cudart = cudart
        self._call = check
        self.ptr = 0
        self.nbytes = 0

    def ensure(self, nbytes: int) -> bool:
        """Make room for ``nbytes``; True when the address changed (it must be set again)."""
        if nbytes <= self.nbytes and self.ptr:
            return False
        self.free()
        size = max(nbytes, 1)  # TensorRT wants a valid address even for an empty tensor
        self.ptr = int(self._call(self._cudart, self._cudart.cudaMalloc(size), "cudaMalloc"))
        self.nbytes = size
        return True

    def free(self) -> None:
        if self.ptr:
            ptr, self.ptr, self.nbytes = self.ptr, 0, 0
            self._call(self._cudart, self._cudart.cudaFree(ptr), "cudaFree")
