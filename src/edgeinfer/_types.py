"""Small frozen value types shared by every module; each turns into JSON through ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "Attempt",
    "Availability",
    "BackendInfo",
    "Device",
    "OperatorEvent",
    "Quantization",
    "TensorSpec",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.dtype):
        return value.name
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class _ToDict:
    """Mixin: ``to_dict()`` of a dataclass, with dtypes as names and tuples as lists."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Quantization(_ToDict):
    """Affine quantisation of a tensor: ``real = scale * (q - zero_point)``.

    ``axis`` is the channel axis of per-channel quantisation, ``None`` for per-tensor.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None


@dataclass(frozen=True, slots=True)
class TensorSpec(_ToDict):
    """Name, shape and dtype of one model input or output.

    A ``None`` in ``shape`` is a dynamic dimension; ``shape`` itself is ``None`` when even the rank
    is unknown (``()`` is a scalar). ``quantization`` is set for quantised tensors. ``kind`` is
    ``"tensor"``, or for ONNX Runtime's container types ``"sequence"`` (a list of arrays, each of
    ``dtype`` and ``shape``), ``"optional"`` (an array or ``None``) or ``"optional sequence"``.
    """

    name: str
    shape: tuple[int | None, ...] | None
    dtype: np.dtype[Any]
    quantization: Quantization | None = None
    kind: str = "tensor"

    @property
    def is_dynamic(self) -> bool:
        """True when the rank or any dimension is only known at run time."""
        return self.shape is None or any(d is None for d in self.shape)

    def __str__(self) -> str:
        if self.shape is None:
            dims = "?"
        else:
            dims = "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
        if self.kind != "tensor":
            return f"{self.name}: {self.kind} of {self.dtype.name}{dims}"
        return f"{self.name}: {self.dtype.name}{dims}"


@dataclass(frozen=True, slots=True)
class Device(_ToDict):
    """An accelerator (or the CPU) found on this machine.

    ``kind`` is one of ``cpu``, ``gpu``, ``npu``, ``edgetpu``; ``id`` is the string to pass as
    ``device=`` (``"gpu:0"``, ``"edgetpu:usb:0"``); ``source`` says how it was found.
    """

    kind: str
    index: int
    name: str
    id: str
    source: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Availability(_ToDict):
    """Whether a backend can be tried here, cheaply decided without importing its runtime.

    ``available`` means "installed and worth trying", not "proven to work": only opening a model
    proves that. When unavailable, ``reason`` says why and ``hint`` how to fix it.
    """

    available: bool
    reason: str
    hint: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class BackendInfo(_ToDict):
    """One row of ``edgeinfer.backends()``."""

    name: str
    available: bool
    reason: str
    hint: str | None
    formats: tuple[str, ...]
    devices: tuple[str, ...]
    version: str | None = None
    source: str = "builtin"


@dataclass(frozen=True, slots=True)
class Attempt(_ToDict):
    """One candidate that ``load()`` considered: which backend, device and file, and what happened.

    ``error`` is the exception type name (``None`` for the candidate that opened); ``reason`` is
    the message a person reads; ``hint`` how to fix it, when known.
    """

    backend: str
    device: str
    file: str
    ok: bool
    reason: str
    error: str | None = None
    hint: str | None = None
    seconds: float | None = field(default=None, compare=False)

    def describe(self) -> str:
        """One line for people: ``onnxruntime on gpu (model.onnx): failed (...): <reason>``."""
        status = "opened" if self.ok else f"failed ({self.error})" if self.error else "skipped"
        fix = f". Fix: {self.hint}" if self.hint else ""
        who = self.backend if self.backend != "-" else "no backend"
        return f"{who} on {self.device} ({self.file}): {status}: {self.reason}{fix}"


@dataclass(frozen=True, slots=True)
class OperatorEvent(_ToDict):
    """One operator execution: ``start`` and ``duration`` in microseconds, ``run`` its call."""

    name: str
    op_type: str
    start: float
    duration: float
    run: int = 0
    device: str = ""
