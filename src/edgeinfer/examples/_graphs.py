"""Small ONNX graphs of the documentation, written with ``onnx.helper``; each returns bytes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["custom_op", "detector", "linear", "multi_io"]


def _model(graph: onnx.GraphProto, **metadata: str) -> bytes:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeinfer-examples"
    )
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def linear() -> bytes:
    """``y = x @ W + b``: ``x`` float32 [batch, 8] -> ``y`` float32 [batch, 4]."""
    rng = np.random.default_rng(1)
    weight = rng.normal(0.0, 0.5, size=(8, 4)).astype(np.float32)
    bias = rng.normal(0.0, 0.1, size=(4,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "weight"], ["xw"]),
            helper.make_node("Add", ["xw", "bias"], ["y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            numpy_helper.from_array(weight, "weight"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    return _model(graph)


def multi_io() -> bytes:
    """Inputs ``image`` float32 [1,3,4,4], ``mask`` bool [1,4], ``ids`` int64 [1,4], ``scale``
    float16 [1]; outputs ``pooled`` float32 [1,3], ``masked_ids`` int64 [1,4], ``scaled``
    float16 [1], ``any_set`` bool [1]."""
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("Where", ["mask", "ids", "zero"], ["masked_ids"]),
        helper.make_node("Mul", ["scale", "two"], ["scaled"]),
        helper.make_node("Cast", ["mask"], ["mask_i32"], to=TensorProto.INT32),
        helper.make_node("ReduceMax", ["mask_i32"], ["any_i32"], axes=[1], keepdims=0),
        helper.make_node("Cast", ["any_i32"], ["any_set"], to=TensorProto.BOOL),
    ]
    graph = helper.make_graph(
        nodes,
        "multi_io",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, [1, 4]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT16, [1]),
        ],
        [
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 3]),
            helper.make_tensor_value_info("masked_ids", TensorProto.INT64, [1, 4]),
            helper.make_tensor_value_info("scaled", TensorProto.FLOAT16, [1]),
            helper.make_tensor_value_info("any_set", TensorProto.BOOL, [1]),
        ],
        initializer=[
            numpy_helper.from_array(np.array(0, np.int64), "zero"),
            numpy_helper.from_array(np.array([2.0], np.float16), "two"),
        ],
    )
    return _model(graph)


def detector() -> bytes:
    """A detector-like net: ``images`` float32 [batch, 3, height, width] -> ``scores`` [batch,
    1, height/32, width/32] and ``heatmap`` [batch, 1, height, width], where a strided branch
    is resized back and added to a full-resolution one, so height and width must be multiples
    of 32 (like YOLO's). ``imgsz`` metadata says 320x320, as Ultralytics exports say theirs."""
    rng = np.random.default_rng(2)
    weight = rng.normal(0.0, 0.2, size=(1, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["full"]),
        helper.make_node("MaxPool", ["full"], ["scores"], kernel_shape=[32, 32], strides=[32, 32]),
        helper.make_node("Resize", ["scores", "", "up"], ["coarse"], mode="nearest"),
        helper.make_node("Add", ["full", "coarse"], ["heatmap"]),
    ]
    graph = helper.make_graph(
        nodes,
        "detector",
        [
            helper.make_tensor_value_info(
                "images", TensorProto.FLOAT, ["batch", 3, "height", "width"]
            )
        ],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 1, "h32", "w32"]),
            helper.make_tensor_value_info(
                "heatmap", TensorProto.FLOAT, ["batch", 1, "height", "width"]
            ),
        ],
        initializer=[
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(np.array([1.0, 1.0, 32.0, 32.0], np.float32), "up"),
        ],
    )
    return _model(graph, imgsz="[320, 320]", stride="32", task="detect")


def custom_op() -> bytes:
    """A model whose one operator, ``com.example:Frobnicate``, no runtime implements."""
    graph = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
        producer_name="edgeinfer-examples",
    )
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data
