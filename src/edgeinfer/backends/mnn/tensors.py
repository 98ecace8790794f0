"""Arrays in and out of MNN session tensors, through host tensors in the session tensor's own
layout (``copyFromHostTensor`` / ``copyToHostTensor`` convert MNN's internal NC4HW4 and move data
off a GPU). MNN tensors hold float32, int32, uint8, int64 or double; an ONNX model's int64 and
bool inputs become int32 when ``mnnconvert`` converts it, and MNN's specs say so."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.backend import ModelIncompatible, TensorSpec

__all__ = ["HOST_LAYOUT", "dtype_of", "host_layout", "read", "spec_of", "write"]

CAFFE_C4 = 2  # Tensor::CAFFE_C4 (NC4HW4): hosts use plain NCHW (CAFFE, 1) instead
HOST_LAYOUT = {0: 0, 1: 1, CAFFE_C4: 1}


def dtype_of(mnn: Any, tensor: Any) -> np.dtype[Any]:
    kind = tensor.getDataType()
    for name, dtype in (
        ("Halide_Type_Float", np.float32),
        ("Halide_Type_Int", np.int32),
        ("Halide_Type_Uint8", np.uint8),
        ("Halide_Type_Int64", np.int64),
        ("Halide_Type_Double", np.float64),
    ):
        if kind is getattr(mnn, name, None) or kind == getattr(mnn, name, None):
            return np.dtype(dtype)
    raise ModelIncompatible(f"an MNN tensor has a data type edgeinfer does not map ({kind!r})")


def host_layout(tensor: Any) -> int:
    return HOST_LAYOUT.get(int(tensor.getDimensionType()), 1)


def spec_of(mnn: Any, name: str, tensor: Any) -> TensorSpec:
    shape = tuple(int(d) if int(d) > 0 else None for d in tensor.getShape())
    return TensorSpec(name, shape, dtype_of(mnn, tensor))


def _halide(mnn: Any, dtype: np.dtype[Any]) -> Any:
    names = {
        np.dtype(np.float32): "Halide_Type_Float",
        np.dtype(np.int32): "Halide_Type_Int",
        np.dtype(np.uint8): "Halide_Type_Uint8",
        np.dtype(np.int64): "Halide_Type_Int64",
        np.dtype(np.float64): "Halide_Type_Double",
    }
    return getattr(mnn, names[dtype])


def write(mnn: Any, tensor: Any, array: np.ndarray) -> None:
    """Copy ``array`` into session tensor ``tensor`` (layout and device conversions by MNN)."""
    data = np.ascontiguousarray(array)
    host = mnn.Tensor(tuple(data.shape), _halide(mnn, data.dtype), data, host_layout(tensor))
    tensor.copyFrom(host)


def read(mnn: Any, tensor: Any, dtype: np.dtype[Any]) -> np.ndarray:
    """A copy of session tensor ``tensor``'s values (never MNN's own memory)."""
    host = mnn.Tensor(tensor, host_layout(tensor))
    tensor.copyToHostTensor(host)
    # getNumpyData() is a view of the host tensor's memory without a reference to it: copy now.
    return np.array(host.getNumpyData(), dtype=dtype, copy=True).reshape(tuple(host.getShape()))
