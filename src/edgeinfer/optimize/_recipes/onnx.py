"""ONNX recipes, all through onnxruntime's own tools; inputs and outputs of every result stay
float32, so a variant takes the same arrays as the float original.

- ``onnx_int8``: ``quantize_static`` in QDQ format, per-channel int8 weights, calibrated on
  given samples (MinMax). Activations int8 (S8S8, the default, and what the bench's reference
  workloads use) or uint8 with 7-bit weights (U8S8 + ``reduce_range``: onnxruntime's advice for
  x86-64 CPUs, whose AVX2 ``vpmaddubsw`` can saturate int16 sums without VNNI).
- ``onnx_dynamic_int8``: ``quantize_dynamic`` of MatMul and Gemm only: int8 weights, activations
  quantised at run time. It suits MatMul-heavy graphs; convolutions would become ConvInteger,
  which made MobileNetV2 about 10x slower here, so they are left float.
- ``onnx_fp16``: onnxruntime's ``transformers/float16.py`` converter with ``keep_io_types``:
  float16 weights and compute, a Cast at each float32 input and output.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.optimize._recipes.quiet import quiet

if TYPE_CHECKING:
    import onnx

__all__ = [
    "QUANTISED_OPS",
    "WEIGHT_OPS",
    "onnx_dynamic_int8",
    "onnx_fp16",
    "onnx_int8",
    "weights_by_op",
]

# Operators that mark a graph as quantised already.
QUANTISED_OPS = frozenset(
    {
        "QuantizeLinear",
        "DequantizeLinear",
        "DynamicQuantizeLinear",
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
        "MatMulNBits",
        "QGemm",
    }
)
# Operators whose weights quantisation shrinks and whose kernels it can speed up.
WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


def onnx_int8(
    model: onnx.ModelProto,
    samples: Sequence[Mapping[str, np.ndarray]],
    *,
    activations: str = "int8",
    reduce_range: bool = False,
) -> bytes:
    """Quantise float ``model`` statically (QDQ, per-channel int8 weights) calibrated on
    ``samples``; ``activations`` is ``"int8"`` or ``"uint8"``; ``reduce_range`` stores weights in
    7 bits.

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
    if activations not in ("int8", "uint8"):
        raise ValueError(f"activations must be 'int8' or 'uint8', got {activations!r}")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-quant-") as folder:
        output = Path(folder) / "model.int8.onnx"
        with quiet("onnxruntime quantize_static"):
            quantize_static(
                model,
                output,
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=reduce_range,
                activation_type=QuantType.QInt8 if activations == "int8" else QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
        return output.read_bytes()


def onnx_dynamic_int8(model: onnx.ModelProto) -> bytes:
    """Quantise the weights of ``model``'s MatMul and Gemm nodes to int8 (per tensor); their
    activations are quantised at run time. Convolutions stay float."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="edgeinfer-quant-") as folder:
        output = Path(folder) / "model.int8-dynamic.onnx"
        with quiet("onnxruntime quantize_dynamic"):
            quantize_dynamic(
                model,
                output,
                op_types_to_quantize=["MatMul", "Gemm"],
                weight_type=QuantType.QInt8,
            )
        return output.read_bytes()


def _float16_module() -> ModuleType:
    """onnxruntime's ``transformers/float16.py``, loaded from its file.

    It ships in the onnxruntime wheel, but importing it as ``onnxruntime.transformers.float16``
    runs that package's ``__init__``, which appends its folder to ``sys.path`` (a folder of
    modules named ``benchmark``, ``metrics``, ``profiler``...) for the whole process. The file
    itself needs only numpy, onnx and packaging.
    """
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        raise ImportError("onnxruntime is not installed")
    path = Path(spec.origin).parent / "transformers" / "float16.py"
    if not path.is_file():
        raise ImportError(f"this onnxruntime has no float16 converter ({path} is missing)")
    loader = importlib.util.spec_from_file_location("_edgeinfer_ort_float16", path)
    if loader is None or loader.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def onnx_fp16(model: onnx.ModelProto) -> bytes:
    """``model`` with float16 weights and compute; its float32 inputs and outputs stay float32
    (a Cast after each input and before each output). Operators the converter knows to be
    unsafe in float16 (its ``DEFAULT_OP_BLOCK_LIST``) stay float32."""
    converter: Any = _float16_module()
    with quiet("onnxruntime float16 converter"):
        converted = converter.convert_float_to_float16(model, keep_io_types=True)
    data: bytes = converted.SerializeToString()
    return data


def weights_by_op(model: onnx.ModelProto) -> dict[str, int]:
    """Elements of constant weights consumed by each op type among ``WEIGHT_OPS`` (the main
    graph): where a network keeps its parameters, Conv or MatMul/Gemm."""
    sizes = {
        tensor.name: int(np.prod(tensor.dims, dtype=np.int64)) for tensor in model.graph.initializer
    }
    found: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS:
            count = sum(sizes.get(name, 0) for name in node.input[1:2])  # the weight input
            found[node.op_type] = found.get(node.op_type, 0) + count
    return found
