"""DS-CNN, the MLPerf Tiny keyword-spotting reference network, BatchNorm folded, He-initialised.

The layout follows ``create_model``'s ``ds_cnn`` branch in MLCommons Tiny's
``benchmark/training/keyword_spotting/keras_model.py`` (github.com/mlcommons/tiny), itself from
"Hello Edge" (Zhang et al., arXiv:1711.07128): a 49x10x1 MFCC input; Conv2D 64 filters 10x4,
stride 2, SAME padding; four times DepthwiseConv2D 3x3 SAME then Conv2D 64 1x1, each followed by
BatchNormalization and ReLU; AveragePooling2D with ``pool_size = (int(49 / 2), int(10 / 2))``,
i.e. (24, 5) on the 25x5 feature map (VALID, so the last row is not pooled); Flatten; Dense 12.
Here BatchNorm is folded into each conv's bias, dropout (a training layer) is left out, and the
output is the 12 logits without the final softmax, like the MobileNetV2 workload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer.bench._workloads.weights import ConvWeights, he_conv, he_dense

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DS_CNN_INPUT",
    "DsCnnWeights",
    "ds_cnn_weights",
    "ncnn_model",
    "onnx_model",
    "tflite_model",
]

DS_CNN_INPUT = (49, 10)  # MFCC frames x coefficients, for 1 s of 16 kHz audio
FILTERS = 64
BLOCKS = 4
CLASSES = 12
STEM_KERNEL = (10, 4)
POOL = (DS_CNN_INPUT[0] // 2, DS_CNN_INPUT[1] // 2)  # (24, 5): the reference's final_pool_size


@dataclass(frozen=True)
class DsCnnWeights:
    """All parameters of a BatchNorm-folded DS-CNN."""

    stem: ConvWeights
    blocks: tuple[tuple[ConvWeights, ConvWeights], ...]  # (depthwise 3x3, pointwise 1x1)
    fc_weight: np.ndarray  # float32 [classes, filters]
    fc_bias: np.ndarray  # float32 [classes]


def ds_cnn_weights(*, seed: int = 0) -> DsCnnWeights:
    """Draw He-initialised weights from ``np.random.default_rng(seed)`` in layer order."""
    rng = np.random.default_rng(seed)
    stem = he_conv(rng, 1, FILTERS, kernel=STEM_KERNEL, stride=2, name="stem.conv", relu=True)
    blocks = tuple(
        (
            he_conv(rng, FILTERS, FILTERS, kernel=3, group=FILTERS, name=f"ds{i}.dw", relu=True),
            he_conv(rng, FILTERS, FILTERS, name=f"ds{i}.pw", relu=True),
        )
        for i in range(BLOCKS)
    )
    fc_w, fc_b = he_dense(rng, FILTERS, CLASSES)
    return DsCnnWeights(stem, blocks, fc_w, fc_b)


def onnx_model(*, seed: int = 0, producer: str = "edgeinfer") -> onnx.ModelProto:
    """DS-CNN: "input" float32 [1, 1, 49, 10] (NCHW) -> "logits" float32 [1, 12]."""
    from edgeinfer.bench._workloads.onnx_writer import OnnxGraph, make_model, same_pads

    weights = ds_cnn_weights(seed=seed)
    g = OnnxGraph()
    h = g.conv("input", weights.stem, pads=same_pads(DS_CNN_INPUT, STEM_KERNEL, 2))
    for depthwise, pointwise in weights.blocks:
        h = g.conv(g.conv(h, depthwise), pointwise)
    h = g.node("AveragePool", [h], name="pool", kernel_shape=list(POOL), strides=list(POOL))
    g.dense(h, weights.fc_weight, weights.fc_bias, name="fc", output="logits")
    graph = g.graph("ds_cnn", {"input": [1, 1, *DS_CNN_INPUT]}, {"logits": [1, CLASSES]})
    return make_model(graph, producer=producer)


def tflite_model(*, fp16: bool = False, seed: int = 0) -> bytes:
    """DS-CNN: "input" float32 [1, 49, 10, 1] (NHWC) -> "logits" float32 [1, 12].

    The same network as :func:`onnx_model`: TFLite's SAME padding is TensorFlow's, which the ONNX
    model spells out as explicit pads. ``fp16``: float16 weights.
    """
    from edgeinfer.bench._workloads.tflite_writer import TfliteGraph

    weights = ds_cnn_weights(seed=seed)
    g = TfliteGraph(fp16_weights=fp16)
    x = g.tensor("input", (1, *DS_CNN_INPUT, 1))
    h = g.conv(x, weights.stem, padding="SAME")
    for depthwise, pointwise in weights.blocks:
        h = g.conv(g.conv(h, depthwise, padding="SAME"), pointwise, padding="VALID")
    h = g.reshape(g.average_pool(h, POOL, name="pool"), (1, FILTERS), name="flatten")
    y = g.fully_connected(h, weights.fc_weight, weights.fc_bias, name="fc", out_name="logits")
    return g.serialize({"input": x}, {"logits": y})


def ncnn_model(*, seed: int = 0) -> tuple[str, bytes]:
    """DS-CNN as an NCNN ``.param`` text and ``.bin`` bytes: "input" [1, 49, 10] -> "logits"
    [12]; the same network and weights as :func:`onnx_model` (its SAME pads spelled out)."""
    from edgeinfer.bench._workloads.ncnn_writer import NcnnGraph
    from edgeinfer.bench._workloads.weights import same_pads

    weights = ds_cnn_weights(seed=seed)
    g = NcnnGraph()
    top, left, bottom, right = same_pads(DS_CNN_INPUT, STEM_KERNEL, 2)
    h = g.conv(g.input("input", 1, *DS_CNN_INPUT), weights.stem, pads=(top, left, bottom, right))
    for depthwise, pointwise in weights.blocks:
        h = g.conv(g.conv(h, depthwise), pointwise)
    h = g.average_pool(h, POOL, name="pool")
    g.dense(h, weights.fc_weight, weights.fc_bias, name="fc", out="logits")
    return g.serialize()
