"""Affine (de)quantisation with a tensor's own parameters: what ``float_io=True`` does.

``real = scale * (q - zero_point)``; per-channel parameters broadcast along their axis. Rounding
is half away from zero, as TFLite's own ``Quantize`` kernel does (``TfLiteRound``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer._types import Quantization, TensorSpec

__all__ = ["dequantize", "float_spec", "is_quantized", "quantize"]


def is_quantized(spec: TensorSpec) -> bool:
    """True for an integer tensor that carries quantisation parameters."""
    return spec.quantization is not None and spec.dtype.kind in "iu"


def _parameters(q: Quantization, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray(q.scale, dtype=np.float32)
    zero = np.asarray(q.zero_point, dtype=np.float32)
    if q.axis is not None and scale.size > 1 and ndim > 0:
        shape = [1] * ndim
        shape[q.axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    elif scale.size == 1:
        scale, zero = scale.reshape(()), zero.reshape(())
    return scale, zero


def quantize(values: np.ndarray, q: Quantization, dtype: np.dtype[Any]) -> np.ndarray:
    """Float values -> integers of ``dtype``, saturating at the type's range."""
    scale, zero = _parameters(q, values.ndim)
    info = np.iinfo(dtype)
    ratio = values.astype(np.float32, copy=False) / scale
    ratio += np.copysign(np.float32(0.5), ratio)  # half away from zero: add 0.5, truncate
    np.trunc(ratio, out=ratio)
    ratio += zero
    np.clip(ratio, info.min, info.max, out=ratio)
    result: np.ndarray = ratio.astype(dtype)
    return result


def dequantize(values: np.ndarray, q: Quantization) -> np.ndarray:
    """Integers -> float32 values."""
    scale, zero = _parameters(q, values.ndim)
    result: np.ndarray = ((values.astype(np.float32) - zero) * scale).astype(np.float32)
    return result


def float_spec(spec: TensorSpec) -> TensorSpec:
    """The spec a caller sees under ``float_io``: float32, same name and shape."""
    return TensorSpec(spec.name, spec.shape, np.dtype(np.float32), None)
