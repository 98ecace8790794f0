"""Deterministic random weights shared by the ONNX and TFLite test-model builders.

The code lives in the package (``edgeinfer.bench._workloads``), which builds the same networks as
benchmark workloads; this module keeps the names the test builders have always imported.
``mobilenet_v2_weights`` gives ``onnx_models.build_mobilenet_v2`` and
``tflite_models.build_mobilenet_v2`` the same weights, so for equal arguments the two files compute
the same network (up to layout: ONNX is NCHW, TFLite NHWC).
"""

from __future__ import annotations

from edgeinfer.bench._workloads.mobilenet import (
    MOBILENET_V2_SETTINGS,
    InvertedResidualWeights,
    MobileNetV2Weights,
    mobilenet_v2_weights,
)
from edgeinfer.bench._workloads.weights import ConvWeights, he_conv, he_dense, make_divisible

__all__ = [
    "MOBILENET_V2_SETTINGS",
    "ConvWeights",
    "InvertedResidualWeights",
    "MobileNetV2Weights",
    "he_conv",
    "he_dense",
    "make_divisible",
    "mobilenet_v2_weights",
]
