"""Build a workload's file in memory: the float graph, then int8 quantisation where asked.

ONNX and TFLite files of one workload hold the same weights (NCHW vs NHWC), so every backend
runs the same network. int8 builds are calibrated on :func:`.catalog.reference_inputs` drawn
with :data:`CALIBRATION_SEED`, a different draw from the default seed parity checks use.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from edgeinfer._errors import BackendUnavailable
from edgeinfer.bench._workloads import dscnn, mobilenet
from edgeinfer.bench._workloads.catalog import check, reference_inputs

__all__ = ["CALIBRATION_COUNT", "CALIBRATION_SEED", "build", "missing"]

CALIBRATION_COUNT = 16
CALIBRATION_SEED = 1

# The modules a build needs, each with the pip package that brings it.
_ONNX = (("onnx", "onnx"),)
_ORT = (("onnx", "onnx"), ("onnxruntime", "onnxruntime"))
_LITERT = (("ai_edge_litert", "ai-edge-litert"), ("flatbuffers", "flatbuffers"))
_MNN = (("onnx", "onnx"), ("_tools", "mnn"))  # _tools: MNNConvert, shipped in the mnn wheel
_NEEDS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("onnx", "fp32"): _ONNX,
    ("onnx", "int8"): _ORT,
    ("tflite", "fp32"): _LITERT,
    ("tflite", "fp16"): _LITERT,
    ("tflite", "int8"): _LITERT,
    ("ncnn", "fp32"): (),
    ("mnn", "fp32"): _MNN,
    ("executorch", "fp32"): (("torch", "torch"), ("executorch", "executorch")),
}
_ONNX_BUILDERS: dict[str, Callable[[], Any]] = {
    "mobilenet_v2": mobilenet.onnx_model,
    "ds_cnn": dscnn.onnx_model,
}
_TFLITE_BUILDERS: dict[str, Callable[..., bytes]] = {
    "mobilenet_v2": mobilenet.tflite_model,
    "ds_cnn": dscnn.tflite_model,
}
_NCNN_BUILDERS: dict[str, Callable[[], tuple[str, bytes]]] = {
    "mobilenet_v2": mobilenet.ncnn_model,
    "ds_cnn": dscnn.ncnn_model,
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(fmt: str, precision: str) -> list[str]:
    """The pip packages a (format, precision) build needs and this machine lacks."""
    return [pip for module, pip in _NEEDS[(fmt, precision)] if not _installed(module)]


def _unavailable(name: str, fmt: str, precision: str, why: str) -> BackendUnavailable:
    packages = " ".join(pip for _, pip in _NEEDS[(fmt, precision)])
    return BackendUnavailable(
        "workloads",
        f"building the {precision} {fmt} file of {name!r} needs {why}",
        f"pip install {packages}",
    )


def build(name: str, fmt: str, precision: str) -> bytes | dict[str, bytes]:
    """The bytes of one variant of workload ``name`` (for a format with companion files, a dict
    of suffix -> bytes: NCNN's ``.param`` and ``.bin``); BackendUnavailable when a package
    lacks."""
    check(name, fmt, precision)
    lacking = missing(fmt, precision)
    if lacking:
        raise _unavailable(name, fmt, precision, f"{', '.join(lacking)}, not installed here")
    try:
        return _build(name, fmt, precision)
    except ImportError as exc:  # installed but broken: a missing .so, a GLIBC mismatch
        raise _unavailable(name, fmt, precision, f"a module that failed to import: {exc}") from exc


def _build(name: str, fmt: str, precision: str) -> bytes | dict[str, bytes]:
    if fmt == "ncnn":
        param, weights = _NCNN_BUILDERS[name]()
        return {".param": param.encode(), ".bin": weights}
    if fmt == "executorch":
        from edgeinfer.bench._workloads.executorch_export import pte_bytes

        return pte_bytes(name)
    if fmt == "mnn":
        from edgeinfer.bench._workloads.mnn_convert import mnn_from_onnx
        from edgeinfer.bench._workloads.onnx_writer import serialize

        return mnn_from_onnx(serialize(_ONNX_BUILDERS[name]()))
    calibration = reference_inputs(name, fmt, CALIBRATION_COUNT, CALIBRATION_SEED)
    if fmt == "onnx":
        model = _ONNX_BUILDERS[name]()
        if precision == "int8":
            from edgeinfer.optimize._recipes.onnx import onnx_int8

            return onnx_int8(model, [{"input": x} for x in calibration])
        from edgeinfer.bench._workloads.onnx_writer import serialize

        return serialize(model)
    data = _TFLITE_BUILDERS[name](fp16=precision == "fp16")
    if precision == "int8":
        from edgeinfer.optimize._recipes.tflite import tflite_int8

        return tflite_int8(data, [[x] for x in calibration])
    return data
