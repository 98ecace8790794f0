"""Deterministic random weights shared by the ONNX and TFLite test-model builders.

Both ``onnx_models.build_mobilenet_v2`` and ``tflite_models.build_mobilenet_v2`` take their
weights from :func:`mobilenet_v2_weights`, so for equal arguments the two files compute the same
network (up to layout: ONNX is NCHW, TFLite NHWC). Arrays are float32 in ONNX layout; the TFLite
builder transposes them.

The draw order (per conv: weight, then bias; stem, blocks, head, then classifier weight and
bias) is part of the contract: changing it changes every model built from a given seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# (expansion t, output channels c, repeats n, first stride s) from the MobileNetV2 paper, Table 2.
MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` without dropping more than 10%."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


@dataclass(frozen=True)
class ConvWeights:
    """One biased convolution (BatchNorm folded in), weights in ONNX layout.

    ``weight`` is float32 [out, in // group, k, k]; ``bias`` float32 [out]. ``group`` is 1 or
    the channel count (depthwise). ``relu6`` says whether a ReLU6 follows; padding is ``k // 2``
    on every side (ONNX-style, symmetric).
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    group: int = 1
    relu6: bool = False

    @property
    def out_channels(self) -> int:
        """Number of output channels."""
        return int(self.weight.shape[0])

    @property
    def kernel(self) -> int:
        """Square kernel size."""
        return int(self.weight.shape[2])

    @property
    def depthwise(self) -> bool:
        """True for a depthwise convolution (one group per channel, multiplier 1)."""
        return self.group > 1


@dataclass(frozen=True)
class InvertedResidualWeights:
    """One MobileNetV2 block: optional 1x1 expansion, 3x3 depthwise, linear 1x1 projection."""

    name: str
    expand: ConvWeights | None
    depthwise: ConvWeights
    project: ConvWeights
    residual: bool


@dataclass(frozen=True)
class MobileNetV2Weights:
    """All parameters of a BatchNorm-folded MobileNetV2 classifier."""

    stem: ConvWeights
    blocks: tuple[InvertedResidualWeights, ...]
    head: ConvWeights
    classifier_weight: np.ndarray  # float32 [num_classes, last_channels]
    classifier_bias: np.ndarray  # float32 [num_classes]


def he_conv(
    rng: np.random.Generator,
    in_ch: int,
    out_ch: int,
    *,
    name: str,
    kernel: int = 1,
    stride: int = 1,
    group: int = 1,
    relu6: bool = False,
    weight_scale: float = 1.0,
) -> ConvWeights:
    """Draw He-normal conv weights (times ``weight_scale``) and a small normal bias."""
    fan_in = in_ch // group * kernel * kernel
    std = math.sqrt(2.0 / fan_in) * weight_scale
    weight = rng.normal(0.0, std, size=(out_ch, in_ch // group, kernel, kernel))
    bias = rng.normal(0.0, 0.01, size=(out_ch,))
    return ConvWeights(
        name=name,
        weight=weight.astype(np.float32),
        bias=bias.astype(np.float32),
        stride=stride,
        group=group,
        relu6=relu6,
    )


def he_dense(
    rng: np.random.Generator, in_features: int, out_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw He-normal dense weights float32 [out, in] and a small normal bias float32 [out]."""
    weight = rng.normal(0.0, math.sqrt(2.0 / in_features), size=(out_features, in_features))
    bias = rng.normal(0.0, 0.01, size=(out_features,))
    return weight.astype(np.float32), bias.astype(np.float32)


def _inverted_residual(
    rng: np.random.Generator, in_ch: int, out_ch: int, *, stride: int, expand: int, name: str
) -> InvertedResidualWeights:
    """Draw one inverted-residual block's weights."""
    hidden = in_ch * expand
    expand_conv = None
    if expand != 1:
        expand_conv = he_conv(rng, in_ch, hidden, name=f"{name}.expand", relu6=True)
    dw = he_conv(
        rng, hidden, hidden, kernel=3, stride=stride, group=hidden, name=f"{name}.dw", relu6=True
    )
    residual = stride == 1 and in_ch == out_ch
    # The projection is linear (no activation). Residual branches get their projection weights
    # scaled by 0.5 so the residual stream's variance grows more slowly across the 10 residual
    # Adds. Measured logits std for a standard-normal input (seed 0): ~2.8 with this scaling,
    # ~3.0 without; the ReLU6 clamps already bound most of the growth.
    project = he_conv(
        rng, hidden, out_ch, name=f"{name}.project", weight_scale=0.5 if residual else 1.0
    )
    return InvertedResidualWeights(name, expand_conv, dw, project, residual)


def mobilenet_v2_weights(
    *, width: float = 1.0, num_classes: int = 1000, seed: int = 0
) -> MobileNetV2Weights:
    """Draw He-initialised MobileNetV2 weights from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    in_ch = make_divisible(32 * width)
    last_ch = make_divisible(1280 * max(1.0, width))

    stem = he_conv(rng, 3, in_ch, kernel=3, stride=2, name="stem.conv", relu6=True)
    blocks: list[InvertedResidualWeights] = []
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        out_ch = make_divisible(c * width)
        for i in range(n):
            blocks.append(
                _inverted_residual(
                    rng,
                    in_ch,
                    out_ch,
                    stride=s if i == 0 else 1,
                    expand=t,
                    name=f"block{len(blocks)}",
                )
            )
            in_ch = out_ch
    head = he_conv(rng, in_ch, last_ch, name="head.conv", relu6=True)
    fc_w, fc_b = he_dense(rng, last_ch, num_classes)
    return MobileNetV2Weights(stem, tuple(blocks), head, fc_w, fc_b)
