"""CUDA through cuda-python's runtime bindings: the device, a stream, device buffers and copies.

Every cudart call returns a tuple ``(error, *results)``; ``call`` checks the error and turns it
into an edgeinfer error that names it (``cudaErrorMemoryAllocation: out of memory``) through the
rules in ``errors.py``. A machine without a usable driver or GPU gives ``BackendUnavailable``;
any other CUDA failure is a ``DeviceError`` (``OutOfMemory`` when memory ran out).

Without any NVIDIA driver the CUDA runtime answers ``cudaErrorInsufficientDriver`` ("CUDA driver
version is insufficient for CUDA runtime version"), the same status as for a driver older than
the runtime. ``cudaDriverGetVersion`` tells the two apart: it reports 0 when no driver is
installed (CUDA Runtime API reference, Version Management); the error says which case it is.

Import order: ``cuda.bindings.runtime`` (cuda-python 12.6 and later; the only one in 13.x), then
``cuda.cudart`` (older cuda-python, removed in 13.0).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from edgeinfer.backend import (
    BackendUnavailable,
    DeviceError,
    EdgeInferError,
    installed_version,
    translated,
)
from edgeinfer.backends.tensorrt.errors import CUDA_RULES, NO_DRIVER, NO_GPU, CudaError

__all__ = ["DeviceBuffer", "call", "error_name", "import_cudart", "select_device"]

HINT = (
    "pip install 'cuda-python>=13,<14' for a CUDA 13 driver (580 or later) or "
    "'cuda-python>=12,<13' for a CUDA 12 driver (525 or later), the CUDA major of your TensorRT "
    "(tensorrt-cu13 or tensorrt-cu12; edgeinfer's 'tensorrt-cu13' and 'tensorrt-cu12' extras "
    "install both)"
)
_DRIVER_HINT = (
    "install or update the NVIDIA driver (nvidia-smi must list the GPU; on Jetson the driver "
    "comes with JetPack), or use device='cpu'"
)
_OLD_DRIVER_HINT = (
    "install the NVIDIA driver (nvidia-smi must list the GPU and the CUDA version it supports; "
    "on Jetson the driver comes with JetPack); a driver for CUDA 12 (525 or later) runs the "
    "CUDA 12 builds: pip install tensorrt-cu12 'cuda-python>=12,<13' --extra-index-url "
    "https://pypi.nvidia.com (edgeinfer's 'tensorrt-cu12' extra); or use device='cpu'"
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
    status = described.split(":", 1)[0]
    if status == NO_DRIVER:
        return _no_driver(cudart, f"{what}: {described}", backend)
    if status in NO_GPU:
        return BackendUnavailable(backend, f"{NO_GPU[status]} ({what}: {described})", _DRIVER_HINT)
    return translated(CudaError(described), f"CUDA failed in {what}", CUDA_RULES, DeviceError)


def _cuda_version(cudart: Any, function: str) -> int | None:
    """``cudaDriverGetVersion`` / ``cudaRuntimeGetVersion`` (1000 * major + 10 * minor), or
    ``None`` when it cannot be read (a call that fails too, an old binding without it)."""
    try:
        result = getattr(cudart, function)()
        return int(result[1]) if int(result[0]) == 0 else None
    except Exception:
        return None


def _cuda_text(version: int) -> str:
    return f"CUDA {version // 1000}.{version % 1000 // 10}"


def _no_driver(cudart: Any, said: str, backend: str) -> BackendUnavailable:
    """``cudaErrorInsufficientDriver``: no driver at all, or one older than the runtime."""
    runtime = _cuda_version(cudart, "cudaRuntimeGetVersion")
    if runtime:
        needs = _cuda_text(runtime)
    else:  # the runtime's version may need the driver too: say what cuda-python was built for
        bindings = installed_version("cuda-bindings", "cuda-python")
        needs = f"CUDA {bindings.split('.', 1)[0]}" if bindings else "this cuda-python's CUDA"
    driver = _cuda_version(cudart, "cudaDriverGetVersion")
    if driver:  # a driver answered: it is too old for this runtime
        reason = (
            f"the NVIDIA driver supports {_cuda_text(driver)}, older than {needs} that "
            f"cuda-python's runtime needs"
        )
    else:  # 0: no driver installed (or nothing could be asked)
        reason = f"no NVIDIA driver is loaded (or it is older than {needs} needs)"
    return BackendUnavailable(backend, f"{reason} [{said}]", _OLD_DRIVER_HINT)


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value).strip()


def select_device(cudart: Any, index: int | None) -> tuple[int, str, tuple[int, int]]:
    """Make device ``index`` (default 0) current: ``(index, GPU name, compute capability)``."""
    chosen = 0 if index is None else index
    count = call(cudart, cudart.cudaGetDeviceCount(), "cudaGetDeviceCount")
    if count == 0:
        raise BackendUnavailable("tensorrt", NO_GPU["cudaErrorNoDevice"], _DRIVER_HINT)
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
