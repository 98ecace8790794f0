"""Test models for the NCNN and MNN backends, built by code here from the workloads' weights.

NCNN networks are written directly (``edgeinfer.bench._workloads.ncnn_writer``: the ``.param``
format is text, the ``.bin`` raw weights); MNN models are converted from the ONNX models of
``onnx_models`` and the workloads with the ``mnn`` package's own converter, at test time.
"""

from __future__ import annotations

from pathlib import Path

from edgeinfer.bench._workloads import dscnn, mobilenet
from edgeinfer.bench._workloads.ncnn_writer import NcnnGraph

__all__ = ["build_mnn", "build_ncnn", "workload_onnx"]


def _write(path: Path, text: str, data: bytes) -> Path:
    path.write_text(text)
    path.with_suffix(".bin").write_bytes(data)
    return path


def _two_in_two_out() -> tuple[str, bytes]:
    """ "a" [2, 3, 4] and "b" [2, 3, 4] -> "sum" = a + b, "relu" = relu(a): a blob read twice
    (a Split), two inputs, two outputs."""
    g = NcnnGraph()
    g.layer("Input", "a", [], ["a"], p0=4, p1=3, p2=2)
    g.layer("Input", "b", [], ["b"], p0=4, p1=3, p2=2)
    g.add("a", "b", name="sum")
    g.layer("ReLU", "relu", ["a"], ["relu"])
    return g.serialize()


NCNN_BUILDERS = {
    "ds_cnn": dscnn.ncnn_model,
    "mobilenet_v2": mobilenet.ncnn_model,
    "two_in_two_out": _two_in_two_out,
}


def build_ncnn(name: str, folder: Path) -> Path:
    """``<folder>/<name>.param`` (and its ``.bin``), built once."""
    path = folder / f"{name}.param"
    if not path.exists():
        _write(path, *NCNN_BUILDERS[name]())
    return path


def workload_onnx(name: str, folder: Path) -> Path:
    """The fp32 ONNX file of workload ``name`` (the same weights as its NCNN network)."""
    from edgeinfer.bench._workloads import onnx_writer

    path = folder / f"{name}.onnx"
    if not path.exists():
        module = {"ds_cnn": dscnn, "mobilenet_v2": mobilenet}[name]
        path.write_bytes(onnx_writer.serialize(module.onnx_model()))
    return path


def build_mnn(name: str, folder: Path) -> Path:
    """``<folder>/<name>.mnn``, converted from an ONNX workload or an ``onnx_models`` model."""
    from edgeinfer.bench._workloads.mnn_convert import mnn_from_onnx

    path = folder / f"{name}.mnn"
    if path.exists():
        return path
    if name in ("ds_cnn", "mobilenet_v2"):
        source = workload_onnx(name, folder)
    else:
        import onnx_models

        source = folder / f"{name}.onnx"
        if not source.exists():
            onnx_models.ALL_BUILDERS[name](source)
    mnn_from_onnx(source, path)
    return path
