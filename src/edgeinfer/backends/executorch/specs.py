"""An ExecuTorch method's metadata -> edgeinfer's ``TensorSpec``.

``Method.metadata`` (``MethodMeta``) gives ``num_inputs()``/``num_outputs()`` and, per tensor,
``input_tensor_meta(i)``/``output_tensor_meta(i)`` with ``sizes()`` and ``dtype()`` (a c10
``ScalarType`` number). A ``.pte`` program keeps no tensor names: inputs are ``input_0``,
``input_1``..., outputs ``output_0``... in the method's order. Sizes are the program's (for a
dynamic dimension, its upper bound); edgeinfer reports them as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.backend import ModelIncompatible, TensorSpec

__all__ = ["SCALAR_TYPES", "method_specs"]

# c10::ScalarType numbers (c10/core/ScalarType.h), the ones numpy can hold.
SCALAR_TYPES: dict[int, np.dtype[Any]] = {
    0: np.dtype(np.uint8),
    1: np.dtype(np.int8),
    2: np.dtype(np.int16),
    3: np.dtype(np.int32),
    4: np.dtype(np.int64),
    5: np.dtype(np.float16),
    6: np.dtype(np.float32),
    7: np.dtype(np.float64),
    11: np.dtype(np.bool_),
}


def _spec(name: str, meta: Any) -> TensorSpec:
    code = int(meta.dtype())
    if code not in SCALAR_TYPES:
        raise ModelIncompatible(
            f"{name} has ExecuTorch scalar type {code} (bfloat16, complex, quantised...), which "
            "numpy cannot hold"
        )
    return TensorSpec(name, tuple(int(d) for d in meta.sizes()), SCALAR_TYPES[code])


def method_specs(meta: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The input and output specs of a method; ``ModelIncompatible`` for non-tensor values."""

    def read(kind: str, count: int, lookup: Any) -> tuple[TensorSpec, ...]:
        specs = []
        for index in range(count):
            try:
                tensor = lookup(index)
            except Exception as error:  # not a tensor (an int, a list...): no TensorInfo
                raise ModelIncompatible(
                    f"the method's {kind} {index} is not a tensor ({error}); edgeinfer runs "
                    "methods whose inputs and outputs are tensors"
                ) from error
            specs.append(_spec(f"{kind}_{index}", tensor))
        return tuple(specs)

    inputs = read("input", int(meta.num_inputs()), meta.input_tensor_meta)
    outputs = read("output", int(meta.num_outputs()), meta.output_tensor_meta)
    return inputs, outputs
