"""LiteRT backend (``litert``): ``.tflite`` models on the CPU through the TFLite interpreter, with
XNNPACK as the runtime's default.

Options (``load(options={"litert": {...}})``):

- ``signature``: which signature to run when the model has several (default ``serving_default``,
  or the only one). Input and output names are then the signature's names.
- ``interpreters``: how many interpreters one ``Model`` may hold to serve concurrent threads
  (default: the number of CPU cores; 1 means one interpreter behind a lock).
- ``op_resolver``: ``"auto"`` (default, XNNPACK applied), ``"builtin"``, or
  ``"builtin_without_default_delegates"`` (no XNNPACK).

``float_io=True``: a quantised model takes and returns float32, (de)quantised with the model's own
scale and zero point. Outputs are copies: the next call never overwrites them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._errors import (
    ConfigurationError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._kit.contract import Backend, OpenOptions, backend_options
from edgeinfer._kit.native_stderr import captured_native_stderr
from edgeinfer._kit.quantization import dequantize, quantize
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability, TensorSpec
from edgeinfer.backends.litert import runtime as runtime_lookup
from edgeinfer.backends.litert.io import Io, read_io
from edgeinfer.backends.litert.pool import InterpreterPool, Slot, shapes_of

__all__ = ["LiteRtBackend"]

_log = logging.getLogger("edgeinfer")
_OPTION_KEYS = ("signature", "interpreters", "op_resolver")
_RESOLVERS = ("auto", "builtin", "builtin_without_default_delegates", "builtin_ref")
_UNSUPPORTED = (
    "unresolved custom op",
    "Didn't find op for builtin opcode",
    "Encountered unresolved",
    "Op builtin_code out of range",
)


class LiteRtBackend(Backend):
    """The TFLite interpreter behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "litert"
    formats: ClassVar[tuple[str, ...]] = ("tflite",)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    extra: ClassVar[str | None] = "litert"
    default_interpreters: ClassVar[int | None] = None  # None: one per CPU core

    def __init__(
        self, pool: InterpreterPool, io: Io, path: Path, device: str, details: dict[str, str]
    ) -> None:
        self._pool: InterpreterPool | None = pool
        self._io = io
        self._path = path
        self._device = device
        self._details = details

    @classmethod
    def availability(cls) -> Availability:
        return runtime_lookup.availability()

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> LiteRtBackend:
        extra = backend_options(cls.name, options.extra, cls._option_keys())
        if options.precision not in (None, "fp32"):
            raise ModelIncompatible(
                f"{cls.name} runs the model's own precision and cannot convert to "
                f"{options.precision}; give a model converted to it (e.g. an int8 .tflite)"
            )
        size = cls._pool_size(extra)
        runtime, interpreter_class, load_delegate = runtime_lookup.load_runtime(cls.name)
        delegates = cls._delegates(device, extra, load_delegate)
        resolver = cls._resolver(interpreter_class, extra)

        # Read once, shared by every interpreter of the pool (each would map the file again).
        content = path.read_bytes()
        kwargs: dict[str, Any] = {"model_content": content, "num_threads": options.threads}
        if delegates:
            kwargs["experimental_delegates"] = delegates
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver

        with cls._opening(path):
            first = _quietly(cls.name, lambda: _allocated(interpreter_class(**kwargs)))
            io = read_io(first, extra, options.float_io)
        indices = io.input_indices

        def make_slot() -> Slot:
            # Later interpreters are created inside run(): no stderr capture there (descriptor
            # 2 is process-wide and other threads may be writing to it).
            interpreter = _allocated(interpreter_class(**kwargs))
            return Slot(interpreter, tuple(tuple(interpreter.get_tensor(i).shape) for i in indices))

        first_slot = Slot(first, tuple(tuple(first.get_tensor(i).shape) for i in indices))
        details = {
            "runtime": runtime.label,
            "threads": "runtime default" if options.threads is None else str(options.threads),
            "interpreters": f"up to {size} (created as concurrent calls need them)",
            "precision": "the model's own",
            **cls._extra_details(device, extra),
        }
        if io.quantize_in or io.dequantize_out:
            details["float_io"] = "float32 in and out, (de)quantised with the model's parameters"
        pool = InterpreterPool(make_slot, first_slot, size)
        return cls(pool, io, path, cls._device_id(device), details)

    @classmethod
    def _option_keys(cls) -> tuple[str, ...]:
        return _OPTION_KEYS

    @classmethod
    def _pool_size(cls, extra: Mapping[str, Any]) -> int:
        size = extra.get("interpreters", cls.default_interpreters or os.cpu_count() or 1)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError(f"{cls.name} option interpreters must be an int >= 1")
        return size

    @classmethod
    def _delegates(
        cls, device: DeviceRequest, extra: Mapping[str, Any], load_delegate: Callable[..., Any]
    ) -> list[Any]:
        """Delegates for ``device``: none on the CPU (XNNPACK is the runtime's default)."""
        return []

    @classmethod
    def _extra_details(cls, device: DeviceRequest, extra: Mapping[str, Any]) -> dict[str, str]:
        return {
            "delegate": "XNNPACK (runtime default)"
            if extra.get("op_resolver", "auto") in ("auto", "builtin")
            else "none"
        }

    @classmethod
    def _device_id(cls, device: DeviceRequest) -> str:
        return "cpu"

    @staticmethod
    def _resolver(interpreter_class: type[Any], extra: Mapping[str, Any]) -> Any:
        name = extra.get("op_resolver", "auto")
        if name not in _RESOLVERS:
            raise ConfigurationError(f"litert op_resolver must be one of {', '.join(_RESOLVERS)}")
        if name == "auto":
            return None
        module = __import__(interpreter_class.__module__, fromlist=["OpResolverType"])
        return getattr(module.OpResolverType, name.upper())

    @classmethod
    @contextlib.contextmanager
    def _opening(cls, path: Path) -> Iterator[None]:
        try:
            yield
        except EdgeInferError:
            raise
        except Exception as error:
            message = str(error).strip()
            kind = ModelIncompatible if any(m in message for m in _UNSUPPORTED) else ModelError
            raise kind(f"{cls.name} cannot open {path.name}: {message}") from error

    # --- the contract -----------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._io.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._io.outputs_specs

    @property
    def device(self) -> str:
        return self._device

    def details(self) -> Mapping[str, str]:
        found = dict(self._details)
        if self._pool is not None:
            found["interpreters"] = f"{self._pool.created} created, up to {self._pool.size}"
        return found

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        pool, io = self._pool, self._io
        if pool is None:
            raise InferenceError(f"{self.name} interpreter for {self._path.name} is closed")
        try:
            if io.simple is not None:  # one input, one output, no conversion: the short path
                name, index, out_name, out_index = io.simple
                array = feeds[name]
                if not array.flags.c_contiguous:
                    array = np.ascontiguousarray(array)
                shapes = (array.shape,)
                slot = pool.acquire(shapes)
                try:
                    if slot.shapes != shapes:
                        slot.fit(io.input_indices, shapes)
                    interpreter = slot.interpreter
                    interpreter.set_tensor(index, array)
                    interpreter.invoke()
                    return {out_name: interpreter.get_tensor(out_index)}
                finally:
                    pool.release(slot)
            return self._run_general(pool, io, feeds)
        except EdgeInferError:
            raise
        except Exception as error:
            raise self._run_error(error) from error

    def _run_general(
        self, pool: InterpreterPool, io: Io, feeds: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        arrays = [self._prepare(name, feeds[name]) for name in io.input_names]
        shapes = shapes_of(arrays)
        slot = pool.acquire(shapes)
        try:
            slot.fit(io.input_indices, shapes)
            interpreter = slot.interpreter
            for index, array in zip(io.input_indices, arrays, strict=True):
                interpreter.set_tensor(index, array)
            interpreter.invoke()
            results = {name: interpreter.get_tensor(index) for name, index in io.outputs}
        finally:
            pool.release(slot)
        for name, spec in io.dequantize_out.items():
            results[name] = dequantize(results[name], spec.quantization)  # type: ignore[arg-type]
        return results

    def _prepare(self, name: str, array: np.ndarray) -> np.ndarray:
        spec = self._io.quantize_in.get(name)
        if spec is not None:
            return quantize(array, spec.quantization, spec.dtype)  # type: ignore[arg-type]
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)

    def _run_error(self, error: Exception) -> EdgeInferError:
        """The edgeinfer error for a failure inside the interpreter."""
        message = str(error).strip()
        if isinstance(error, ValueError) and "tensor" in message.lower():
            return InvalidInput(f"{self.name} refused the inputs of {self._path.name}: {message}")
        return InferenceError(f"{self.name} failed to run {self._path.name}: {message}")

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()


def _allocated(interpreter: Any) -> Any:
    interpreter.allocate_tensors()
    return interpreter


def _quietly(backend: str, create: Callable[[], Any]) -> Any:
    """Run ``create`` with the runtime's native stderr captured: logged at DEBUG, and added to
    the error when it fails (the runtime often explains itself only there)."""
    failure: Exception | None = None
    with captured_native_stderr() as native:
        try:
            created = create()
        except Exception as error:
            failure = error
    for line in native.lines():
        _log.debug("%s (native): %s", backend, line)
    if failure is None:
        return created
    said = " | ".join(line for line in native.lines() if "XNNPACK delegate" not in line)
    if not said:
        raise failure
    raise RuntimeError(f"{failure} [runtime said: {said}]") from failure
