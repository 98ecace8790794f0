"""Full-integer post-training quantisation of a float TFLite model with LiteRT's own calibrator
and quantiser (the C++ code TensorFlow's converter calls): int8 activations, int8 per-channel
weights, int32 biases. Inputs and outputs are int8 too, or stay float32 (``float_io=True``: the
model then quantises its input and dequantises its output itself, so it takes the same arrays as
the float original).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeinfer.optimize._recipes.quiet import quiet

__all__ = ["tflite_int8"]


def tflite_int8(
    model: bytes, samples: Sequence[Sequence[np.ndarray]], *, float_io: bool = False
) -> bytes:
    """Calibrate float ``model`` on ``samples`` and quantise it to full integer.

    Each sample is a list of arrays, one per model input in the graph's input order. This is
    the call sequence of TensorFlow's ``tensorflow/lite/python/optimize/calibrator.py`` with
    ``resize_input=True``: one ``Prepare`` with the sample shapes, then ``FeedTensor`` per
    sample, then ``QuantizeModel``. Raises ``RuntimeError`` (from LiteRT) when an operator
    cannot be quantised: full integer allows no float fallback.
    """
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as cw

    if not samples:
        raise ValueError("int8 quantisation needs at least one calibration sample")
    int8, int32 = np.dtype(np.int8).num, np.dtype(np.int32).num
    edge = np.dtype(np.float32).num if float_io else int8
    with quiet("LiteRT calibrator"):
        calibrator = cw.CalibrationWrapper(model, [], [])
        calibrator.Prepare([list(array.shape) for array in samples[0]])
        for sample in samples:
            calibrator.FeedTensor([np.ascontiguousarray(array) for array in sample])
        quantized = calibrator.QuantizeModel(
            edge,  # input_type
            edge,  # output_type
            False,  # allow_float: full integer, fail if an op cannot be quantised
            int8,  # activations_type
            int32,  # bias_type
            False,  # disable_per_channel
            False,  # disable_per_channel_quantization_for_dense_layers
        )
    return bytes(quantized)
