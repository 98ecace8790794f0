"""The data a run feeds: sizes for dynamic inputs (``--shape``), the user's arrays
(``--inputs``), and the model's own integer tensors for quantised inputs.

Quantised models run on their native integer tensors, as the raw runtime would: the float
references are quantised once by the model's own parameters and outputs dequantised for parity
only, so no (de)quantisation is inside the measured loop. An array the user gives in the
tensor's own integer type is fed as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import ConfigurationError
from edgeinfer._types import TensorSpec

if TYPE_CHECKING:
    from edgeinfer._model.model import Model

__all__ = [
    "Feeds",
    "dynamic_batch",
    "float_specs",
    "floats",
    "native",
    "shaped_specs",
    "user_feeds",
]

Feeds = dict[str, np.ndarray]


def _dims(dims: Sequence[int]) -> str:
    return "x".join(map(str, dims))


def shaped_specs(
    specs: Sequence[TensorSpec], shapes: Sequence[tuple[str | None, tuple[int, ...]]]
) -> list[TensorSpec]:
    """``specs`` with the ``--shape`` sizes in place of their dynamic dimensions;
    ``ConfigurationError`` when a shape names no input or contradicts a fixed size."""
    by_name = {spec.name: spec for spec in specs}
    sized: dict[str, TensorSpec] = {}
    for name, dims in shapes:
        if name is None:
            if len(specs) != 1:
                raise ConfigurationError(
                    f"--shape {_dims(dims)} names no input and the model has {len(specs)} "
                    f"({', '.join(by_name)})"
                )
            name = specs[0].name
        spec = by_name.get(name)
        if spec is None:
            raise ConfigurationError(
                f"--shape {name}: the model has no input {name!r} (its inputs: "
                f"{', '.join(by_name)})"
            )
        if spec.shape is not None:
            fixed = [(a, b) for a, b in zip(spec.shape, dims, strict=False) if a is not None]
            if len(spec.shape) != len(dims) or any(a != b for a, b in fixed):
                shown = _dims(["?" if a is None else a for a in spec.shape])  # type: ignore[misc]
                raise ConfigurationError(
                    f"--shape {name}:{_dims(dims)} does not fit the model's {name} [{shown}]"
                )
        sized[name] = dataclasses.replace(spec, shape=tuple(dims))
    return [sized.get(spec.name, spec) for spec in specs]


def _fit(array: np.ndarray, spec: TensorSpec, where: str, own: Any = None) -> np.ndarray:
    """``array`` as ``spec``'s dtype when the kind agrees (float64 -> float32, int64 -> int32);
    ``own``: the tensor's native dtype, also taken as it is (a quantised input's integers)."""
    want = spec.dtype
    if array.dtype == want or (own is not None and array.dtype == own):
        return array
    if array.dtype.kind == want.kind or (array.dtype.kind in "iu" and want.kind in "iu"):
        return array.astype(want)
    raise ConfigurationError(
        f"--inputs {where}: {spec.name} holds {array.dtype}, the model takes {want}"
    )


def user_feeds(
    specs: Sequence[TensorSpec],
    queries: Sequence[Mapping[str | None, Any]],
    own: Sequence[TensorSpec] | None = None,
) -> list[Feeds]:
    """The ``--inputs`` queries named and ordered as ``specs``, each array in the spec's dtype;
    ``own``: the model's native specs (a quantised input may be given as its own integers)."""
    dtypes = {spec.name: spec.dtype for spec in own or ()}
    feeds: list[Feeds] = []
    names = [spec.name for spec in specs]
    for index, query in enumerate(queries):
        where = f"file {index + 1}"
        if None in query:
            if len(specs) != 1:
                raise ConfigurationError(
                    f"--inputs {where} is a .npy (one array) and the model has {len(specs)} "
                    f"inputs ({', '.join(names)}): give a .npz"
                )
            query = {names[0]: query[None]}
        missing = [name for name in names if name not in query]
        if missing:
            raise ConfigurationError(
                f"--inputs {where} lacks {', '.join(missing)} (the model takes {', '.join(names)})"
            )
        feeds.append(
            {
                spec.name: _fit(np.asarray(query[spec.name]), spec, where, dtypes.get(spec.name))
                for spec in specs
            }
        )
    return feeds


def dynamic_batch(specs: Sequence[TensorSpec]) -> bool:
    """Whether every input's first dimension is dynamic (a batch the caller chooses)."""
    return bool(specs) and all(spec.shape and spec.shape[0] is None for spec in specs)


def float_specs(specs: Sequence[TensorSpec]) -> list[TensorSpec]:
    """The specs a caller feeding floats sees: quantised tensors as float32."""
    from edgeinfer._kit.quantization import float_spec, is_quantized

    return [float_spec(spec) if is_quantized(spec) else spec for spec in specs]


def native(model: Model, feed: Feeds) -> Feeds:
    """``feed`` with float arrays for quantised inputs quantised by the model's own parameters."""
    from edgeinfer._kit.quantization import is_quantized, quantize

    return {
        spec.name: quantize(feed[spec.name], spec.quantization, spec.dtype)  # type: ignore[arg-type]
        if is_quantized(spec) and feed[spec.name].dtype.kind == "f"
        else feed[spec.name]
        for spec in model.inputs
    }


def floats(model: Model, outputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs in order, quantised ones dequantised by the model's own parameters."""
    from edgeinfer._kit.quantization import dequantize, is_quantized

    return [
        dequantize(outputs[spec.name], spec.quantization)  # type: ignore[arg-type]
        if is_quantized(spec)
        else outputs[spec.name]
        for spec in model.outputs
    ]
