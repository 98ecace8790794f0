"""OpenVINO's ports -> edgeinfer's ``TensorSpec``, under the names of the model file.

A compiled model's ports can carry merged alias names, and ``get_any_name()`` may return an
internal one (``F0::If_0_then_branch__Inline_0__/ReduceMean_output_0`` for an ONNX output named
``output``), so one file would have other names here than on ONNX Runtime. For an ONNX file,
each port takes the name from its name set that the ONNX graph declares (read by edgeinfer's
ONNX scan); for IR, the port's first name in sorted order, so it does not change between runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeinfer.backend import OnnxFacts, TensorSpec

__all__ = ["port_specs"]


def _name(port: Any, declared: Sequence[str]) -> str:
    names = set(port.get_names())
    for name in declared:
        if name in names:
            return name
    return sorted(names)[0] if names else str(port.get_any_name())


def _spec(port: Any, name: str) -> TensorSpec:
    shape = port.get_partial_shape()
    dims = (
        None
        if shape.rank.is_dynamic
        else tuple(None if dim.is_dynamic else dim.get_length() for dim in shape)
    )
    return TensorSpec(name, dims, np.dtype(port.get_element_type().to_dtype()))


def port_specs(
    ports: Sequence[Any], facts: OnnxFacts | None, outputs: bool
) -> tuple[TensorSpec, ...]:
    """The specs of ``compiled.inputs`` (or ``outputs``), named as the file names them."""
    declared: Sequence[str] = ()
    if facts is not None:
        declared = [value.name for value in (facts.outputs if outputs else facts.inputs)]
    return tuple(_spec(port, _name(port, declared)) for port in ports)
