"""MobileNetV2 (Sandler et al. 2018), BatchNorm folded, He-initialised from a seed.

:func:`mobilenet_v2_weights` draws the parameters; :func:`onnx_model` and :func:`tflite_model`
write the same network from them, ONNX in NCHW and TFLite in NHWC, so for equal arguments the two
files compute the same function. The draw order (per conv: weight, then bias; stem, blocks, head,
then classifier weight and bias) is part of the contract: changing it changes every model built
from a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer.bench._workloads.weights import ConvWeights, he_conv, he_dense, make_divisible

if TYPE_CHECKING:
    import onnx

    from edgeinfer.bench._workloads.onnx_writer import Dim
    from edgeinfer.bench._workloads.tflite_writer import TfliteGraph

__all__ = [
    "MOBILENET_V2_SETTINGS",
    "InvertedResidualWeights",
    "MobileNetV2Weights",
    "mobilenet_v2_weights",
    "ncnn_model",
    "onnx_model",
    "tflite_model",
]

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


def onnx_model(
    *,
    batch: int | None = 1,
    resolution: int = 224,
    width: float = 1.0,
    num_classes: int = 1000,
    seed: int = 0,
    producer: str = "edgeinfer",
) -> onnx.ModelProto:
    """MobileNetV2: "input" float32 [batch, 3, res, res] -> "logits" float32 [batch, classes].

    ``batch=None`` gives a dynamic dim named "batch". Convolutions pad ``k // 2`` on each side.
    """
    from edgeinfer.bench._workloads.onnx_writer import OnnxGraph, make_model

    weights = mobilenet_v2_weights(width=width, num_classes=num_classes, seed=seed)
    g = OnnxGraph()
    h = g.conv("input", weights.stem)
    for block in weights.blocks:
        inner = h
        if block.expand is not None:
            inner = g.conv(inner, block.expand)
        inner = g.conv(g.conv(inner, block.depthwise), block.project)
        h = g.node("Add", [h, inner], name=f"{block.name}.add") if block.residual else inner
    h = g.node("GlobalAveragePool", [g.conv(h, weights.head)], name="head.pool")
    g.dense(
        h, weights.classifier_weight, weights.classifier_bias, name="classifier", output="logits"
    )
    batch_dim: Dim = "batch" if batch is None else batch
    graph = g.graph(
        "mobilenet_v2",
        {"input": [batch_dim, 3, resolution, resolution]},
        {"logits": [batch_dim, num_classes]},
    )
    return make_model(graph, producer=producer)


def _tflite_conv(g: TfliteGraph, x: int, conv: ConvWeights) -> int:
    """Add ``conv`` computing exactly what the ONNX Conv with symmetric ``k // 2`` pads does.

    Stride 1: TFLite SAME pads (k - 1) / 2 on each side, the same as ONNX. Stride 2 on even
    sizes: SAME would pad (0 begin, 1 end) where ONNX pads (1, 1), shifting every window, so we
    add an explicit PAD (1, 1) and use VALID, as Keras' MobileNetV2 does with ZeroPadding2D.
    """
    pad = conv.kernel // 2
    if conv.stride == 1 or pad == 0:
        return g.conv(x, conv, padding="SAME")
    padded = g.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)], name=f"{conv.name}.pad")
    return g.conv(padded, conv, padding="VALID")


def tflite_model(
    *,
    fp16: bool = False,
    resolution: int = 224,
    width: float = 1.0,
    num_classes: int = 1000,
    seed: int = 0,
    description: str = "edgeinfer model",
) -> bytes:
    """MobileNetV2: "input" float32 [1, res, res, 3] -> "logits" float32 [1, num_classes].

    The same network as :func:`onnx_model` on the transposed input. ``fp16``: float16 weights.
    """
    from edgeinfer.bench._workloads.tflite_writer import TfliteGraph

    weights = mobilenet_v2_weights(width=width, num_classes=num_classes, seed=seed)
    g = TfliteGraph(fp16_weights=fp16)
    x = g.tensor("input", (1, resolution, resolution, 3))
    h = _tflite_conv(g, x, weights.stem)
    for block in weights.blocks:
        inner = h
        if block.expand is not None:
            inner = _tflite_conv(g, inner, block.expand)
        inner = _tflite_conv(g, _tflite_conv(g, inner, block.depthwise), block.project)
        h = g.add(h, inner, name=f"{block.name}.add") if block.residual else inner
    h = g.spatial_mean(_tflite_conv(g, h, weights.head), name="head.pool")
    y = g.fully_connected(
        h, weights.classifier_weight, weights.classifier_bias, name="classifier", out_name="logits"
    )
    return g.serialize({"input": x}, {"logits": y}, description=description)


def ncnn_model(
    *, resolution: int = 224, width: float = 1.0, num_classes: int = 1000, seed: int = 0
) -> tuple[str, bytes]:
    """MobileNetV2 as an NCNN ``.param`` text and ``.bin`` bytes: "input" [3, res, res] ->
    "logits" [num_classes]; the same network and weights as :func:`onnx_model`."""
    from edgeinfer.bench._workloads.ncnn_writer import NcnnGraph

    weights = mobilenet_v2_weights(width=width, num_classes=num_classes, seed=seed)
    g = NcnnGraph()
    h = g.conv(g.input("input", 3, resolution, resolution), weights.stem)
    for block in weights.blocks:
        inner = h
        if block.expand is not None:
            inner = g.conv(inner, block.expand)
        inner = g.conv(g.conv(inner, block.depthwise), block.project)
        h = g.add(h, inner, name=f"{block.name}.add") if block.residual else inner
    h = g.global_average(g.conv(h, weights.head), name="head.pool")
    g.dense(h, weights.classifier_weight, weights.classifier_bias, name="classifier", out="logits")
    return g.serialize()
