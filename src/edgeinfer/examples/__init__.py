"""The example models of the documentation, built by code: no download, nothing to trust.

``python -m edgeinfer.examples [FOLDER]`` (or ``edgeinfer.examples.build(folder)``) writes, into
FOLDER (default: the current one), every model the docs use:

- ``mobilenet.onnx``: a MobileNetV2-class classifier (the bench's reference workload; random
  weights): ``input`` float32 [1, 3, 224, 224] -> ``logits`` float32 [1, 1000]
- ``mobilenet.tflite``: the same network and weights as TFLite (NHWC input)
- ``mobilenet_int8.tflite``: a full-int8 TFLite of it (int8 input and output)
- ``mobilenet.xml`` + ``.bin``: OpenVINO IR of it (only when OpenVINO is installed)
- ``mobilenet_ncnn.param`` + ``.bin``: an NCNN network of it (written directly, no converter)
- ``mobilenet.mnn``: an MNN model of it (only when mnn, whose converter writes it, is installed)
- ``models/``: a folder of variants of one model: ``mobilenet.onnx``, ``mobilenet.tflite``,
  ``mobilenet_int8.tflite``
- ``coral/``: ``model_edgetpu.tflite`` (named as the Edge TPU compiler names its output) beside
  ``model.tflite``, its CPU fallback
- ``kws.onnx``: the MLPerf Tiny keyword-spotting DS-CNN: ``input`` [1, 1, 49, 10]
- ``linear.onnx``: ``y = x @ W + b``: ``x`` float32 [batch, 8] -> ``y`` [batch, 4]
- ``multi_io.onnx``: four inputs of four dtypes, four outputs
- ``detector.onnx``: a detector-like net with fully dynamic input ``images`` [batch, 3, height,
  width] whose strides need H and W multiples of 32, and ``imgsz`` metadata as Ultralytics
  writes it
- ``custom_op.onnx``: a model with an operator no runtime knows

Builders need the ``bench`` extra's packages (onnx, ai-edge-litert, flatbuffers); a file whose
builder cannot run here is left out with the reason (``build`` returns what it wrote and why
not the rest).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["EXAMPLES", "build"]


def _workload(name: str, fmt: str, precision: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        from edgeinfer.bench._workloads import ensure

        shutil.copyfile(ensure(name, fmt, precision), target)

    return write


def _ir(target: Path) -> None:
    import openvino

    from edgeinfer.bench._workloads import ensure

    core = openvino.Core()
    openvino.save_model(core.read_model(str(ensure("mobilenet_v2", "onnx", "fp32"))), str(target))


def _ncnn(target: Path) -> None:
    from edgeinfer.bench._workloads import ensure

    param = ensure("mobilenet_v2", "ncnn", "fp32")
    shutil.copyfile(param.with_suffix(".bin"), target.with_suffix(".bin"))  # the weights first
    shutil.copyfile(param, target)


def _graph(name: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        from edgeinfer.examples import _graphs

        target.write_bytes(getattr(_graphs, name)())

    return write


def _folder(files: dict[str, Callable[[Path], None]]) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        target.mkdir(exist_ok=True)
        for name, builder in files.items():
            builder(target / name)

    return write


# file or folder name -> how to write it, in the order of the table above
EXAMPLES: dict[str, Callable[[Path], None]] = {
    "mobilenet.onnx": _workload("mobilenet_v2", "onnx", "fp32"),
    "mobilenet.tflite": _workload("mobilenet_v2", "tflite", "fp32"),
    "mobilenet_int8.tflite": _workload("mobilenet_v2", "tflite", "int8"),
    "mobilenet.xml": _ir,
    "mobilenet_ncnn.param": _ncnn,
    "mobilenet.mnn": _workload("mobilenet_v2", "mnn", "fp32"),
    "models": _folder(
        {
            "mobilenet.onnx": _workload("mobilenet_v2", "onnx", "fp32"),
            "mobilenet.tflite": _workload("mobilenet_v2", "tflite", "fp32"),
            "mobilenet_int8.tflite": _workload("mobilenet_v2", "tflite", "int8"),
        }
    ),
    "coral": _folder(
        {
            "model_edgetpu.tflite": _workload("ds_cnn", "tflite", "int8"),
            "model.tflite": _workload("ds_cnn", "tflite", "int8"),
        }
    ),
    "kws.onnx": _workload("ds_cnn", "onnx", "fp32"),
    "linear.onnx": _graph("linear"),
    "multi_io.onnx": _graph("multi_io"),
    "detector.onnx": _graph("detector"),
    "custom_op.onnx": _graph("custom_op"),
}


def build(folder: str | Path = ".") -> tuple[list[Path], dict[str, str]]:
    """Write every example into ``folder`` (made if missing); existing files are kept.

    Returns the paths written or already there, and ``{name: why not}`` for the examples this
    machine cannot build (a package missing).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: dict[str, str] = {}
    for name, builder in EXAMPLES.items():
        target = root / name
        if target.exists():
            written.append(target)
            continue
        try:
            builder(target)
        except ImportError as error:  # BackendUnavailable is one: a builder's package is missing
            skipped[name] = f"{type(error).__name__}: {error}"
            if target.is_dir():  # a folder half made is not an example
                shutil.rmtree(target)
            continue
        written.append(target)
    return written, skipped
