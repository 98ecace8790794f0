"""Running an engine: its I/O tensors as specs, device buffers, copies and ``execute_async_v3``.

The name-based API of TensorRT 10/11: ``engine.num_io_tensors`` / ``get_tensor_name`` /
``get_tensor_mode`` / ``get_tensor_dtype`` / ``get_tensor_shape`` (-1 is dynamic) and
``get_tensor_profile_shape(name, 0)`` for the (min, opt, max) of profile 0; per call
``context.set_input_shape`` (dynamic inputs), ``set_tensor_address``, ``execute_async_v3(stream)``
between ``cudaMemcpyAsync`` copies, then ``cudaStreamSynchronize``.

Device buffers are allocated once and grow only when a dynamic input needs more; addresses are set
on the context only when they change. Every output is a fresh numpy array, the copy's target.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from edgeinfer.backend import (
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelIncompatible,
    TensorSpec,
    translated,
)
from edgeinfer.backends.tensorrt.cuda import DeviceBuffer, call
from edgeinfer.backends.tensorrt.errors import RUN_RULES, TensorRtError
from edgeinfer.backends.tensorrt.logger import Capture

__all__ = ["Executor", "Tensor", "read_tensors"]

Shape = tuple[int, ...]
T = TypeVar("T")

# TensorRT DataType member name -> numpy dtype. BF16, FP8, INT4, FP4 have no numpy type.
_DTYPES: dict[str, type[Any]] = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
}


@dataclass
class Tensor:
    """One I/O tensor of the engine and its device buffer."""

    name: str
    spec: TensorSpec
    engine_shape: Shape  # -1 where dynamic
    profile: tuple[Shape, Shape, Shape] | None  # inputs with dynamic dims: profile 0
    buffer: DeviceBuffer
    shape: Shape | None = None  # inputs: the shape set on the context; outputs: the last shape
    itemsize: int = field(init=False)

    def __post_init__(self) -> None:
        self.itemsize = self.spec.dtype.itemsize

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.engine_shape)


def _dtype(trt_type: Any, name: str) -> np.dtype[Any]:
    type_name = getattr(trt_type, "name", str(trt_type)).rsplit(".", 1)[-1]
    dtype = _DTYPES.get(type_name)
    if dtype is None:
        raise ModelIncompatible(
            f"tensor {name!r} has TensorRT type {type_name}, which numpy cannot hold; edgeinfer "
            f"feeds and returns {', '.join(_DTYPES)} tensors"
        )
    return np.dtype(dtype)


def read_tensors(trt: Any, engine: Any, cudart: Any) -> tuple[list[Tensor], list[Tensor]]:
    """The engine's inputs and outputs, in the engine's order."""
    inputs: list[Tensor] = []
    outputs: list[Tensor] = []
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        if engine.get_tensor_location(name) == trt.TensorLocation.HOST:
            raise ModelIncompatible(
                f"tensor {name!r} lives in host memory (a shape tensor); edgeinfer's TensorRT "
                "backend feeds device tensors only"
            )
        dims = tuple(int(d) for d in engine.get_tensor_shape(name))
        spec = TensorSpec(
            name,
            tuple(d if d >= 0 else None for d in dims),
            _dtype(engine.get_tensor_dtype(name), name),
        )
        profile = None
        if is_input and any(d < 0 for d in dims):
            low, opt, high = engine.get_tensor_profile_shape(name, 0)
            profile = (
                tuple(int(d) for d in low),
                tuple(int(d) for d in opt),
                tuple(int(d) for d in high),
            )
        tensor = Tensor(name, spec, dims, profile, DeviceBuffer(cudart))
        (inputs if is_input else outputs).append(tensor)
    return inputs, outputs


def _volume(shape: Shape) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


class Executor:
    """Runs one execution context: one call at a time (a lock), buffers reused across calls."""

    def __init__(
        self,
        trt: Any,
        cudart: Any,
        context: Any,
        inputs: list[Tensor],
        outputs: list[Tensor],
        device: int,
    ) -> None:
        self._cudart = cudart
        self._heard = Capture()  # what TensorRT logs during a call (one call at a time: the lock)
        self._context = context
        self._inputs = inputs
        self._outputs = outputs
        self._device = device
        self._lock = threading.Lock()
        self._h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._stream = call(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")
        self._stream_handle = int(self._stream)
        self._closed = False
        self.allocations = 0  # how many times a buffer was (re)allocated: tests and explain()
        try:
            for tensor in (*inputs, *outputs):
                if not tensor.dynamic:  # static shapes: allocate now, so no memory shows at load
                    tensor.shape = tensor.engine_shape
                    self._place(tensor, _volume(tensor.engine_shape) * tensor.itemsize)
        except BaseException:
            self.close()
            raise

    def _place(self, tensor: Tensor, nbytes: int) -> None:
        if tensor.buffer.ensure(nbytes):
            self.allocations += 1
            if not self._context.set_tensor_address(tensor.name, tensor.buffer.ptr):
                raise InferenceError(f"TensorRT refused the address of tensor {tensor.name!r}")

    def _set_shape(self, tensor: Tensor, shape: Shape) -> None:
        assert tensor.profile is not None
        low, _, high = tensor.profile
        if len(shape) != len(low) or any(
            not lo <= d <= hi for d, lo, hi in zip(shape, low, high, strict=True)
        ):
            ranges = ", ".join(
                str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in zip(low, high, strict=True)
            )
            raise InvalidInput(
                f"input {tensor.name!r} has shape {list(shape)}, outside the engine's optimization "
                f"profile [{ranges}]; rebuild with options={{'tensorrt': {{'shapes': "
                f"{{{tensor.name!r}: (min, opt, max)}}}}}}"
            )
        if not self._context.set_input_shape(tensor.name, shape):
            raise InvalidInput(f"TensorRT refused shape {list(shape)} for input {tensor.name!r}")
        tensor.shape = shape

    def with_context(self, use: Callable[[Any], T]) -> T | None:
        """``use(context)`` while no call runs; ``None`` once closed."""
        with self._lock:
            return None if self._closed else use(self._context)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            if self._closed:
                raise InferenceError("the TensorRT engine is closed")
            try:
                return self._run(feeds)
            except EdgeInferError:
                self._drain()
                raise
            except Exception as error:
                self._drain()
                raise translated(error, "TensorRT failed", RUN_RULES) from error

    def _drain(self) -> None:
        """After a failed call: let copies already queued finish before their arrays go."""
        with contextlib.suppress(Exception):
            self._cudart.cudaStreamSynchronize(self._stream)

    def _run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart, stream = self._cudart, self._stream
        call(cudart, cudart.cudaSetDevice(self._device), "cudaSetDevice")
        held = []  # the host arrays must outlive the asynchronous copies
        reshaped = False
        for tensor in self._inputs:
            array = np.ascontiguousarray(feeds[tensor.name])
            held.append(array)
            if tensor.dynamic and array.shape != tensor.shape:
                self._set_shape(tensor, array.shape)
                reshaped = True
            self._place(tensor, array.nbytes)
            result = cudart.cudaMemcpyAsync(
                tensor.buffer.ptr, array.ctypes.data, array.nbytes, self._h2d, stream
            )
            call(cudart, result, f"cudaMemcpyAsync to input {tensor.name!r}")
        for tensor in self._outputs:
            if tensor.dynamic and (reshaped or tensor.shape is None):
                shape = tuple(int(d) for d in self._context.get_tensor_shape(tensor.name))
                if any(d < 0 for d in shape):
                    raise InferenceError(
                        f"output {tensor.name!r} has a data-dependent shape {list(shape)}; "
                        "edgeinfer's TensorRT backend needs output shapes known from the inputs"
                    )
                tensor.shape = shape
                self._place(tensor, _volume(shape) * tensor.itemsize)
        with self._heard as heard:
            ran = self._context.execute_async_v3(self._stream_handle)
        if not ran:
            failure = TensorRtError(heard.text() or "no reason given")
            raise translated(failure, "TensorRT's execute_async_v3 failed", RUN_RULES) from failure
        results: dict[str, np.ndarray] = {}
        for tensor in self._outputs:
            out = np.empty(tensor.shape or (), tensor.spec.dtype)
            result = cudart.cudaMemcpyAsync(
                out.ctypes.data, tensor.buffer.ptr, out.nbytes, self._d2h, stream
            )
            call(cudart, result, f"cudaMemcpyAsync from output {tensor.name!r}")
            results[tensor.name] = out
        call(cudart, cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
        del held
        return results

    def close(self) -> None:
        """Free the buffers and the stream. Idempotent; errors while freeing are not raised."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            cudart = self._cudart
            cudart.cudaSetDevice(self._device)
            for tensor in (*self._inputs, *self._outputs):
                with contextlib.suppress(EdgeInferError):
                    tensor.buffer.free()
            cudart.cudaStreamDestroy(self._stream)
            self._context = None
