"""TensorSpecs from a served model's metadata (``GET /v2/models/NAME``): each tensor's ``name``,
``datatype`` (``FP32``, ``INT64``, ``BOOL``, ``BYTES``...) and ``shape``, where ``-1`` is a
dimension the server takes at any size."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer.backend import ModelError, ModelIncompatible, TensorSpec

__all__ = ["specs"]


def _spec(entry: Any, to_dtype: Callable[[str], Any], where: str) -> TensorSpec:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ModelError(f"{where}: a tensor without a name in the metadata: {entry!r}")
    name, datatype, shape = entry["name"], entry.get("datatype"), entry.get("shape")
    found = to_dtype(datatype) if isinstance(datatype, str) else None
    if found is None:
        raise ModelIncompatible(f"{where}: tensor {name!r} has datatype {datatype!r}, unknown here")
    if not isinstance(shape, Sequence) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in shape
    ):
        raise ModelError(f"{where}: tensor {name!r} has shape {shape!r}, not a list of ints")
    dims = tuple(None if d == -1 else d for d in shape)
    return TensorSpec(name, dims, np.dtype(found))


def specs(
    metadata: Mapping[str, Any], to_dtype: Callable[[str], Any], where: str
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """(inputs, outputs) of a model's metadata; ``ModelError`` when it is malformed."""
    found = []
    for key in ("inputs", "outputs"):
        entries = metadata.get(key)
        if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
            raise ModelError(f"{where}: the metadata has no list of {key}: {metadata!r}")
        found.append(tuple(_spec(entry, to_dtype, where) for entry in entries))
    inputs, outputs = found
    if not outputs:
        raise ModelError(f"{where}: the server declares no outputs for this model")
    return inputs, outputs
