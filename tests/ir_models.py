"""OpenVINO IR (.xml + .bin) test models, converted from the ONNX builders by OpenVINO itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

import onnx_models


def to_ir(build_onnx: Callable[[Path], Path], xml: Path) -> Path:
    """Build the ONNX model next to ``xml`` and save it as IR with fp32 weights."""
    import openvino

    source = build_onnx(xml.with_name(f"{xml.stem}.source.onnx"))
    model = openvino.Core().read_model(str(source))
    openvino.save_model(model, str(xml), compress_to_fp16=False)  # keep fp32 weights
    return xml


def build_mobilenet_v2_ir(xml: Path) -> Path:
    return to_ir(onnx_models.build_mobilenet_v2, xml)


def build_dynamic_batch_ir(xml: Path) -> Path:
    return to_ir(onnx_models.build_dynamic_batch, xml)


def build_qdq_relu(path: Path) -> Path:
    """A quantised ONNX model (QuantizeLinear/DequantizeLinear around a Relu): x [1, 16] -> y."""
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q"]),
            helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
            helper.make_node("Relu", ["dq"], ["y"]),
        ],
        "qdq",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])],
        [
            numpy_helper.from_array(np.array(0.05, np.float32), "scale"),
            numpy_helper.from_array(np.array(128, np.uint8), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path
