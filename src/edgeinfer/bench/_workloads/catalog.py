"""The reference workloads: what each one is, which files it comes in, and its inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer._errors import ConfigurationError
from edgeinfer._types import _ToDict

__all__ = ["PRECISIONS", "WORKLOADS", "Workload", "check", "reference_inputs"]


@dataclass(frozen=True, slots=True)
class Workload(_ToDict):
    """A network edgeinfer builds itself, with random weights, for benchmarks and parity checks.

    ``onnx_shape`` is the input in NCHW, ``tflite_shape`` the same input in NHWC.
    """

    name: str
    description: str
    task: str  # "image-classification" | "keyword-spotting"
    classes: int
    onnx_shape: tuple[int, ...]
    tflite_shape: tuple[int, ...]


def _workload(
    name: str, description: str, task: str, classes: int, chw: tuple[int, ...]
) -> Workload:
    """A workload with batch-1 input ``chw`` (channels, height, width)."""
    c, h, w = chw
    return Workload(name, description, task, classes, (1, c, h, w), (1, h, w, c))


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        _workload(
            "mobilenet_v2",
            "MobileNetV2 1.0 (BatchNorm folded), 224x224 RGB in, 1000 classes; "
            "He-initialised random weights, seed 0",
            "image-classification",
            1000,
            (3, 224, 224),
        ),
        _workload(
            "ds_cnn",
            "DS-CNN, the MLPerf Tiny keyword-spotting reference network (BatchNorm folded), "
            "49x10 MFCC in, 12 classes; He-initialised random weights, seed 0",
            "keyword-spotting",
            12,
            (1, 49, 10),
        ),
    )
}

# Per format, the precisions a workload is built in, in the order variants() lists them. NCNN
# networks are written directly (no converter: the only one, pnnx, needs torch); MNN models are
# converted from the ONNX file with the mnn package's converter; both hold the fp32 weights
# (NCNN's fp16 and MNN's low precision are run-time options, not files). ExecuTorch programs
# are exported with torch, where torch and executorch are installed.
PRECISIONS: dict[str, tuple[str, ...]] = {
    "onnx": ("fp32", "int8"),
    "tflite": ("fp32", "fp16", "int8"),
    "ncnn": ("fp32",),
    "mnn": ("fp32",),
    "executorch": ("fp32",),
}


def check(name: str, fmt: str, precision: str = "fp32") -> Workload:
    """The workload ``name``; ConfigurationError for an unknown name, format or precision."""
    workload = WORKLOADS.get(name)
    if workload is None:
        raise ConfigurationError(
            f"unknown workload {name!r}; known workloads: {', '.join(WORKLOADS)}"
        )
    if fmt not in PRECISIONS:
        raise ConfigurationError(
            f"unknown workload format {fmt!r}; formats: {', '.join(PRECISIONS)}"
        )
    if precision not in PRECISIONS[fmt]:
        raise ConfigurationError(
            f"no {precision!r} {fmt} build of a workload; "
            f"{fmt} precisions: {', '.join(PRECISIONS[fmt])}"
        )
    return workload


def reference_inputs(name: str, fmt: str, count: int = 8, seed: int = 0) -> list[np.ndarray]:
    """``count`` standard-normal float32 inputs in ``fmt``'s layout (NHWC tflite, NCHW the others:
    NCNN's and MNN's files take the ONNX model's layout).

    The values do not depend on the layout: the NHWC arrays are the NCHW ones transposed.
    """
    workload = check(name, fmt)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(workload.onnx_shape).astype(np.float32) for _ in range(count)]
    if fmt == "tflite":
        arrays = [np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in arrays]
    return arrays
