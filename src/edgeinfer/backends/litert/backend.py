"""LiteRT backend (``litert``): ``.tflite`` models on the CPU through the TFLite interpreter, with
XNNPACK as the runtime's default.

Options (``load(options={"litert": {...}})``):

- ``signature``: which signature to run when the model has several (default ``serving_default``,
  or the only one). Input and output names are then the signature's names.
- ``interpreters``: the most interpreters one ``Model`` may hold to serve concurrent threads
  (default: the number of CPU cores; 1 means one interpreter behind a lock). It starts with one
  and creates another only when a call finds every existing one busy (``pool.py``).
- ``op_resolver``: ``"auto"`` (default, XNNPACK applied), ``"builtin"``,
  ``"builtin_without_default_delegates"`` (no XNNPACK) or ``"builtin_ref"``.

``threads=`` is each interpreter's ``num_threads``. Unset, it is 1: LiteRT's ``Interpreter``
passes ``int(num_threads or 1)`` to its C++ side (``ai_edge_litert/interpreter.py``, and
TensorFlow's ``tensorflow/lite/python/interpreter.py`` alike), so "the runtime's default" is one
thread. edgeinfer passes the number explicitly, so every runtime it may pick uses exactly the
number that ``explain()`` shows.

``float_io=True``: a quantised model takes and returns float32, (de)quantised with the model's own
scale and zero point. Outputs are copies: the next call never overwrites them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    ConfigurationError,
    DeviceRequest,
    EdgeInferError,
    ErrorRule,
    InferenceError,
    ModelError,
    ModelIncompatible,
    OpenOptions,
    Placement,
    TensorSpec,
    captured_native_stderr,
    check_options,
    dequantize,
    quantize,
    translate_errors,
    translated,
)
from edgeinfer.backends.litert import runtime as runtime_lookup
from edgeinfer.backends.litert.errors import (
    OPEN_RULES,
    RESIZE_RULES,
    RUN_RULES,
    with_native_output,
)
from edgeinfer.backends.litert.io import Io, read_io
from edgeinfer.backends.litert.pool import InterpreterPool, Shapes, Slot, shapes_of

__all__ = ["LiteRtBackend", "Plan"]

_log = logging.getLogger("edgeinfer")


@dataclass
class Plan:
    """What a subclass adds to each interpreter: ``delegates()`` is called for every interpreter
    the pool creates (it may hand out the same delegate each time where the delegate library
    allows that: see ``edgetpu/backend.py``), ``details`` go to ``explain()``."""

    delegates: Callable[[], list[Any]] = list
    details: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"


class LiteRtBackend(Backend):
    """The TFLite interpreter behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "litert"
    formats: ClassVar[tuple[str, ...]] = ("tflite",)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    extra: ClassVar[str | None] = "litert"
    option_keys: ClassVar[tuple[str, ...]] = ("signature", "interpreters", "op_resolver")
    default_interpreters: ClassVar[int | None] = None  # None: one per CPU core, at most
    allow_tensorflow: ClassVar[bool] = True  # tensorflow.lite as the last resort
    open_rules: ClassVar[tuple[ErrorRule, ...]] = OPEN_RULES
    run_rules: ClassVar[tuple[ErrorRule, ...]] = RUN_RULES
    run_error: ClassVar[type[EdgeInferError]] = InferenceError  # a failure on valid input
    placement_report: ClassVar[bool] = True

    def __init__(
        self, pool: InterpreterPool, io: Io, path: Path, device: str, details: dict[str, str]
    ) -> None:
        self._pool: InterpreterPool | None = pool
        self._io = io
        self._path = path
        self._device = device
        self._details = details
        self._what = f"{self.name} cannot run {path.name}"
        self._delegate: str | None = None  # the default delegate the interpreters apply

    @classmethod
    def availability(cls) -> Availability:
        return runtime_lookup.availability()

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> LiteRtBackend:
        extra = check_options(cls.name, options.extra, cls.option_keys)
        if options.precision not in (None, "fp32"):
            raise ModelIncompatible(
                f"{cls.name} runs the model's own precision and cannot convert to "
                f"{options.precision}; give a model converted to it (e.g. an int8 .tflite)"
            )
        size = cls._pool_size(extra)
        runtime, interpreter_class, load_delegate = runtime_lookup.load_runtime(
            cls.name, cls.allow_tensorflow
        )
        kwargs: dict[str, Any] = {
            # Read once, shared by every interpreter of the pool (each would map the file again).
            "model_content": path.read_bytes(),
            "num_threads": options.threads or 1,
        }
        resolver = runtime_lookup.op_resolver(interpreter_class, extra.get("op_resolver", "auto"))
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver
        plan = cls._plan(path, device, extra, runtime, load_delegate)

        def create() -> Any:
            delegates = plan.delegates()
            interpreter = interpreter_class(**kwargs, experimental_delegates=delegates or None)
            interpreter.allocate_tensors()
            return interpreter

        first = cls._create_first(path, create)
        with translate_errors(f"{cls.name} cannot read {path.name}", default=ModelError):
            io = read_io(first, extra, options.float_io)
        indices = io.input_indices

        def make_slot() -> Slot:
            # Later interpreters are created inside run(): no stderr capture there (descriptor
            # 2 is process-wide and other threads may be writing to it).
            interpreter = create()
            return Slot(interpreter, tuple(tuple(interpreter.get_tensor(i).shape) for i in indices))

        first_slot = Slot(first, tuple(tuple(first.get_tensor(i).shape) for i in indices))
        details = {
            "runtime": runtime.label,
            "threads": f"{kwargs['num_threads']} per interpreter"
            + (" (threads unset: the interpreter's own default, 1)" if not options.threads else ""),
            "interpreters": f"1, up to {size} (another only while every one is busy)",
            "precision": "the model's own",
            "delegate": "XNNPACK (runtime default)"
            if extra.get("op_resolver", "auto") in ("auto", "builtin")
            else "none",
            **plan.details,
        }
        if io.quantize_in or io.dequantize_out:
            details["float_io"] = "float32 in and out, (de)quantised with the model's parameters"
        pool = InterpreterPool(make_slot, first_slot, size)
        opened = cls(pool, io, path, plan.device, details)
        if extra.get("op_resolver", "auto") in ("auto", "builtin"):
            opened._delegate = "XNNPACK"  # applied at allocate_tensors, after plan.delegates
        return opened

    @classmethod
    def _pool_size(cls, extra: Mapping[str, Any]) -> int:
        size = extra.get("interpreters", cls.default_interpreters or os.cpu_count() or 1)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError(f"{cls.name} option interpreters must be an int >= 1")
        return size

    @classmethod
    def _plan(
        cls,
        path: Path,
        device: DeviceRequest,
        extra: Mapping[str, Any],
        runtime: runtime_lookup.Runtime,
        load_delegate: Callable[..., Any],
    ) -> Plan:
        """Delegates and details for ``device``: none on the CPU (XNNPACK is the default)."""
        return Plan()

    @classmethod
    def _create_first(cls, path: Path, create: Callable[[], Any]) -> Any:
        """The first interpreter, with the runtime's native stderr captured: logged at DEBUG, and
        added to the error when it fails (the runtime often explains itself only there)."""
        failure: Exception | None = None
        with captured_native_stderr() as native:
            try:
                created = create()
            except Exception as error:
                failure = error
        lines = native.lines()
        for line in lines:
            _log.debug("%s (native): %s", cls.name, line)
        if failure is None:
            return created
        said = " | ".join(line for line in lines if "XNNPACK delegate" not in line)
        raise translated(
            with_native_output(failure, said) if said else failure,
            f"{cls.name} cannot open {path.name}",
            cls.open_rules,
            ModelError,
        )

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
        pool = self._pool
        if pool is not None:
            found["interpreters"] = f"{pool.created} created, up to {pool.size}" + (
                f" (stopped growing: {pool.stopped})" if pool.stopped else ""
            )
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
                        self._fit(slot, shapes)
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
            raise translated(error, self._what, self.run_rules, self.run_error) from error

    def _run_general(
        self, pool: InterpreterPool, io: Io, feeds: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        arrays = [self._prepare(name, feeds[name]) for name in io.input_names]
        shapes = shapes_of(arrays)
        slot = pool.acquire(shapes)
        try:
            if slot.shapes != shapes:
                self._fit(slot, shapes)
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

    def _fit(self, slot: Slot, shapes: Shapes) -> None:
        """Resize ``slot`` for this call: a refusal is the caller's shapes (``InvalidInput``)."""
        listed = ", ".join(str(tuple(shape)) for shape in shapes)
        what = f"{self.name} cannot run {self._path.name} on inputs of shapes {listed}"
        with translate_errors(what, RESIZE_RULES):
            slot.fit(self._io.input_indices, shapes)

    def _prepare(self, name: str, array: np.ndarray) -> np.ndarray:
        spec = self._io.quantize_in.get(name)
        if spec is not None:
            return quantize(array, spec.quantization, spec.dtype)  # type: ignore[arg-type]
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """The nodes the delegates took (Edge TPU segments, XNNPACK partitions) and the rest."""
        from edgeinfer.backends.litert.placement import pool_placement

        if self._pool is None:
            raise InferenceError(f"{self.name} interpreter for {self._path.name} is closed")
        runtime = self._details["runtime"]
        return pool_placement(self.name, self._device, self._pool, self._delegate, runtime)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()
