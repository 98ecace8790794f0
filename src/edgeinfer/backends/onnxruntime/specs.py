"""ONNX Runtime's view of a model's inputs and outputs -> edgeinfer's ``TensorSpec``.

ONNX Runtime names types as strings (``tensor(float)``, ``seq(tensor(int64))``,
``optional(tensor(float))``). Tensors, sequences of tensors and optionals map to a ``TensorSpec``
of that ``kind``; maps and sparse tensors are refused with ``ModelIncompatible``. The file's own
declaration (read by edgeinfer's ONNX scan) tells an input with no declared shape (unknown rank,
``shape=None``) from a scalar: ONNX Runtime reports both as ``[]``. Dimension names follow the
runtime's rules: only a real shared name ties two dimensions; ``?`` and empty names tie nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeinfer.backend import ModelIncompatible, OnnxFacts, TensorSpec

__all__ = ["dim_names", "specs"]

_ELEMENTS = {
    "float": np.float32,
    "float16": np.float16,
    "double": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
    "string": np.object_,
}
_CONTAINERS = (
    ("optional(seq(tensor(", "optional sequence"),
    ("seq(tensor(", "sequence"),
    ("optional(tensor(", "optional"),
    ("tensor(", "tensor"),
)


def _kind_and_dtype(name: str, type_name: str) -> tuple[str, np.dtype[Any]]:
    for prefix, kind in _CONTAINERS:
        if type_name.startswith(prefix):
            element = type_name[len(prefix) :].rstrip(")")
            if element in _ELEMENTS:
                return kind, np.dtype(_ELEMENTS[element])
            break
    raise ModelIncompatible(
        f"tensor {name!r} has type {type_name}; edgeinfer handles tensors, sequences of tensors "
        "and optionals of numeric, bool and string elements (not maps or sparse tensors)"
    )


def _spec(arg: Any, declared_rank: Mapping[str, bool]) -> TensorSpec:
    kind, dtype = _kind_and_dtype(arg.name, arg.type)
    shape = arg.shape
    if shape is None or (kind != "tensor" and not shape) or declared_rank.get(arg.name) is False:
        dims = None  # no declared shape: unknown rank, which is not rank 0
    else:
        dims = tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
    return TensorSpec(arg.name, dims, dtype, None, kind)


def specs(args: Any, facts: OnnxFacts | None) -> tuple[TensorSpec, ...]:
    """The specs of ``session.get_inputs()`` or ``get_outputs()``; ``facts`` from the scan."""
    declared = {}
    if facts is not None:
        declared = {value.name: value.dims is not None for value in (*facts.inputs, *facts.outputs)}
    return tuple(_spec(arg, declared) for arg in args)


def dim_names(args: Any) -> dict[str, tuple[str | None, ...]]:
    """Each input's named dynamic dimensions; ``?``, empty and unnamed ones are ``None``."""
    return {
        arg.name: tuple(
            d if isinstance(d, str) and d and d != "?" else None for d in arg.shape or ()
        )
        for arg in args
    }
