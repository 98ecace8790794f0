"""Post-training full-int8 quantisation of a float model, calibrated on given samples.

- TFLite: LiteRT's own calibrator and quantiser (the C++ code TensorFlow's converter calls):
  int8 activations, int8 per-channel weights, int32 biases, int8 input and output tensors.
- ONNX: onnxruntime's ``quantize_static`` in QDQ format with int8 activations and per-channel
  int8 weights; inputs and outputs stay float32.

Both print progress and advice (native stderr, the root logger); that is kept from the user and
logged at DEBUG on the ``edgeinfer`` logger instead.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer._kit.native_stderr import captured_native_stderr

if TYPE_CHECKING:
    import onnx

__all__ = ["onnx_int8", "tflite_int8"]

_log = logging.getLogger("edgeinfer")


@contextlib.contextmanager
def _quiet(what: str) -> Iterator[None]:
    """Keep native stderr and onnxruntime's root-logger records away from the user."""

    def divert(record: logging.LogRecord) -> bool:
        if "onnxruntime" not in record.pathname:
            return True
        _log.debug("%s: %s", what, record.getMessage())
        return False

    root = logging.getLogger()
    placeholder = None
    if not root.handlers:  # logging.warning() would call basicConfig() and print to stderr
        placeholder = logging.NullHandler()
        root.addHandler(placeholder)
    root.addFilter(divert)
    try:
        with captured_native_stderr() as native:
            yield
    finally:
        root.removeFilter(divert)
        if placeholder is not None:
            root.removeHandler(placeholder)
        for line in native.lines():
            _log.debug("%s: %s", what, line)


def tflite_int8(model: bytes, samples: Sequence[Sequence[np.ndarray]]) -> bytes:
    """Calibrate float ``model`` on ``samples`` and quantise it to full integer (int8 I/O).

    Each sample is a list of arrays, one per model input in input order. This is the call
    sequence of TensorFlow's ``tensorflow/lite/python/optimize/calibrator.py`` with
    ``resize_input=True``: one ``Prepare`` with the sample shapes, then ``FeedTensor`` per sample,
    then ``QuantizeModel``.
    """
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as cw

    if not samples:
        raise ValueError("int8 quantisation needs at least one calibration sample")
    int8, int32 = np.dtype(np.int8).num, np.dtype(np.int32).num
    with _quiet("LiteRT calibrator"):
        calibrator = cw.CalibrationWrapper(model, [], [])
        calibrator.Prepare([list(array.shape) for array in samples[0]])
        for sample in samples:
            calibrator.FeedTensor([np.ascontiguousarray(array) for array in sample])
        quantized = calibrator.QuantizeModel(
            int8,  # input_type
            int8,  # output_type
            False,  # allow_float: full integer, fail if an op cannot be quantised
            int8,  # activations_type
            int32,  # bias_type
            False,  # disable_per_channel
            False,  # disable_per_channel_quantization_for_dense_layers
        )
    return bytes(quantized)


def onnx_int8(model: onnx.ModelProto, samples: Sequence[Mapping[str, np.ndarray]]) -> bytes:
    """Quantise float ``model`` statically (QDQ, per-channel int8) calibrated on ``samples``.

    Each sample maps input names to arrays. Inputs and outputs of the result stay float32.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        """One feed dict per ``get_next`` call, then ``None``."""

        def __init__(self) -> None:
            self._feeds = iter(samples)

        def get_next(self) -> dict[str, np.ndarray] | None:
            feed = next(self._feeds, None)
            return None if feed is None else dict(feed)

    if not samples:
        raise ValueError("int8 quantisation needs at least one calibration sample")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-quant-") as folder:
        output = Path(folder) / "model.int8.onnx"
        with _quiet("onnxruntime quantize_static"):
            quantize_static(
                model,
                output,
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
        return output.read_bytes()
