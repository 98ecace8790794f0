"""Deterministic He-initialised weights for BatchNorm-folded convolutions and dense layers.

Arrays are float32 in ONNX layout (conv weights [out, in // group, kh, kw]); the TFLite writer
transposes them. The draw order of each helper (weight, then bias) is part of the contract: a
network's builder that draws in a fixed order gives the same weights for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ConvWeights", "he_conv", "he_dense", "make_divisible", "same_pads"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` without dropping more than 10%."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


@dataclass(frozen=True)
class ConvWeights:
    """One biased convolution (BatchNorm folded in), weights in ONNX layout.

    ``weight`` is float32 [out, in // group, kh, kw]; ``bias`` float32 [out]. ``group`` is 1 or
    the channel count (depthwise). ``relu6`` / ``relu`` say which activation follows (at most
    one). Unless a builder says otherwise, padding is ``k // 2`` on every side (ONNX-style).
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    group: int = 1
    relu6: bool = False
    relu: bool = False

    @property
    def out_channels(self) -> int:
        """Number of output channels."""
        return int(self.weight.shape[0])

    @property
    def kernel(self) -> int:
        """Kernel height (the size of a square kernel)."""
        return int(self.weight.shape[2])

    @property
    def kernel_hw(self) -> tuple[int, int]:
        """Kernel (height, width)."""
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    @property
    def depthwise(self) -> bool:
        """True for a depthwise convolution (one group per channel, multiplier 1)."""
        return self.group > 1

    @property
    def activation(self) -> str | None:
        """ "relu6", "relu" or ``None``."""
        return "relu6" if self.relu6 else "relu" if self.relu else None


def he_conv(
    rng: np.random.Generator,
    in_ch: int,
    out_ch: int,
    *,
    name: str,
    kernel: int | tuple[int, int] = 1,
    stride: int = 1,
    group: int = 1,
    relu6: bool = False,
    relu: bool = False,
    weight_scale: float = 1.0,
) -> ConvWeights:
    """Draw He-normal conv weights (times ``weight_scale``) and a small normal bias."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    fan_in = in_ch // group * kh * kw
    std = math.sqrt(2.0 / fan_in) * weight_scale
    weight = rng.normal(0.0, std, size=(out_ch, in_ch // group, kh, kw))
    bias = rng.normal(0.0, 0.01, size=(out_ch,))
    return ConvWeights(
        name=name,
        weight=weight.astype(np.float32),
        bias=bias.astype(np.float32),
        stride=stride,
        group=group,
        relu6=relu6,
        relu=relu,
    )


def he_dense(
    rng: np.random.Generator, in_features: int, out_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw He-normal dense weights float32 [out, in] and a small normal bias float32 [out]."""
    weight = rng.normal(0.0, math.sqrt(2.0 / in_features), size=(out_features, in_features))
    bias = rng.normal(0.0, 0.01, size=(out_features,))
    return weight.astype(np.float32), bias.astype(np.float32)


def same_pads(size: Sequence[int], kernel: Sequence[int], stride: int) -> list[int]:
    """ONNX ``pads`` [top, left, bottom, right] that reproduce TensorFlow's SAME padding.

    TF pads ``max((ceil(n / s) - 1) * s + k - n, 0)`` per axis, the odd one at the end.
    """
    totals = [
        max((-(-n // stride) - 1) * stride + k - n, 0) for n, k in zip(size, kernel, strict=True)
    ]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]
