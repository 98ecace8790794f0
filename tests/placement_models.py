"""Models built by code for the placement tests: where each runtime puts each operation.

- ``build_edgetpu_compiled``: a ``.tflite`` laid out the way ``edgetpu_compiler`` writes one:
  ``edgetpu-custom-op`` nodes (the compiled segments; their custom options stand in for the
  compiled executable, which nothing here runs) with ordinary TFLite operators before, between
  or after them, which the compiler left to the CPU. It is read, never run: without an Edge TPU
  the custom op is unresolved, so only the node list is looked at.
- ``build_tflite_partial``: ADD -> SIGN -> MUL in float32. XNNPACK takes ADD and MUL and leaves
  SIGN, which it has no kernel for, to the interpreter's own kernels (seen with ai-edge-litert
  2.3.0: two XNNPACK partitions around SIGN).
- ``build_onnx_det`` / ``build_onnx_rounding``: Relu -> Det -> Abs -> Neg and Relu -> Round ->
  Abs on [4, 4] float32. OpenVINO's execution provider for onnxruntime leaves Det (and what its
  partitioner then finds too small to take) to the CPU provider; it takes all of the second.
- ``build_onnx_qdq_conv``: a QDQ-quantised convolution (QuantizeLinear/DequantizeLinear around
  an int8 weight) then Relu and Softmax: OpenVINO runs the convolution in 8 bits, the rest in
  float.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "build_edgetpu_compiled",
    "build_onnx_det",
    "build_onnx_qdq_conv",
    "build_onnx_rounding",
    "build_tflite_partial",
]


def _custom_op(graph: Any, inputs: Sequence[int], outputs: Sequence[int], code: str) -> None:
    """Append a custom operator (``CUSTOM`` builtin code and its name) to a ``TfliteGraph``."""
    from ai_edge_litert import schema_py_generated as schema

    opcodes = graph.operator_codes
    index = next(
        (i for i, op in enumerate(opcodes) if getattr(op, "customCode", None) == code), None
    )
    if index is None:
        opcode = schema.OperatorCodeT()
        opcode.builtinCode = schema.BuiltinOperator.CUSTOM
        opcode.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        opcode.customCode = code
        opcode.version = 1
        opcodes.append(opcode)
        index = len(opcodes) - 1
    operator = schema.OperatorT()
    operator.opcodeIndex = index
    operator.inputs = list(inputs)
    operator.outputs = list(outputs)
    operator.customOptions = list(b"edgeinfer test: no compiled executable")
    graph.operators.append(operator)


def _quantised(graph: Any, tensor: int) -> int:
    from ai_edge_litert import schema_py_generated as schema

    parameters = schema.QuantizationParametersT()
    parameters.scale = [0.05]
    parameters.zeroPoint = [0]
    graph.tensors[tensor].quantization = parameters
    return tensor


def build_edgetpu_compiled(
    path: Path,
    *,
    before: Sequence[str] = (),
    between: Sequence[str] = (),
    after: Sequence[str] = ("DEQUANTIZE", "SOFTMAX"),
    segments: int = 1,
) -> Path:
    """A compiled-looking Edge TPU model: int8 [1, 16] in, ``segments`` ``edgetpu-custom-op``
    nodes, and CPU operators ``before`` the first, ``between`` segments and ``after`` the last.
    CPU operators are chosen from RELU (int8), DEQUANTIZE (int8 -> float32), SOFTMAX and LOGISTIC
    (float32); the model ends in float32 when ``after`` dequantises."""
    from ai_edge_litert import schema_py_generated as schema

    from edgeinfer.bench._workloads.tflite_writer import TfliteGraph

    ops = schema.BuiltinOperator
    graph = TfliteGraph()
    shape = (1, 16)
    current = _quantised(graph, graph.tensor("input", shape, np.int8))
    first = current
    floating = False

    def cpu(kind: str, name: str) -> None:
        nonlocal current, floating
        if kind == "DEQUANTIZE":
            out = graph.tensor(name, shape)
            graph.op(ops.DEQUANTIZE, [current], [out])
            floating = True
        elif kind in ("SOFTMAX", "LOGISTIC"):
            out = graph.tensor(name, shape)
            if kind == "SOFTMAX":
                options = schema.SoftmaxOptionsT()
                options.beta = 1.0
                graph.op(
                    ops.SOFTMAX, [current], [out], options, schema.BuiltinOptions.SoftmaxOptions
                )
            else:
                graph.op(ops.LOGISTIC, [current], [out])
        elif kind == "RELU":
            out = _quantised(graph, graph.tensor(name, shape, np.int8))
            graph.op(ops.RELU, [current], [out])
        else:
            raise ValueError(f"no CPU operator {kind!r} in this builder")
        current = out

    for position, kind in enumerate(before):
        cpu(kind, f"before{position}")
    for segment in range(segments):
        if segment:
            for position, kind in enumerate(between):
                cpu(kind, f"between{segment}_{position}")
        if floating:
            raise ValueError("an Edge TPU segment takes the int8 tensors the compiler quantised")
        out = _quantised(graph, graph.tensor(f"segment{segment}", shape, np.int8))
        _custom_op(graph, [current], [out], "edgetpu-custom-op")
        current = out
    for position, kind in enumerate(after):
        cpu(kind, f"after{position}")
    data = graph.serialize({"input": first}, {"output": current}, description="edgetpu test")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_tflite_partial(path: Path) -> Path:
    """``x`` float32 [1, 8] -> ADD 1 -> SIGN -> MUL by the sum -> ``y``."""
    from ai_edge_litert import schema_py_generated as schema

    from edgeinfer.bench._workloads.tflite_writer import TfliteGraph

    graph = TfliteGraph()
    x = graph.tensor("x", (1, 8))
    one = graph.constant("one", np.ones((1, 8), np.float32))
    total = graph.add(x, one, name="sum")
    sign = graph.tensor("sign", (1, 8))
    graph.op(schema.BuiltinOperator.SIGN, [total], [sign])
    y = graph.mul(sign, total, name="y")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.serialize({"x": x}, {"y": y}, description="placement test"))
    return path


def _onnx_chain(path: Path, kinds: Sequence[str], out_shape: Sequence[int]) -> Path:
    import onnx
    from onnx import TensorProto, helper

    names = ["x", *(f"t{i}" for i in range(len(kinds) - 1)), "y"]
    nodes = [
        helper.make_node(kind, [names[i]], [names[i + 1]], name=f"{kind.lower()}{i}")
        for i, kind in enumerate(kinds)
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))
    graph = helper.make_graph(nodes, "chain", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_onnx_det(path: Path) -> Path:
    """Relu -> Det -> Abs -> Neg: ``x`` float32 [4, 4] -> ``y`` (a scalar)."""
    return _onnx_chain(path, ["Relu", "Det", "Abs", "Neg"], [])


def build_onnx_rounding(path: Path) -> Path:
    """Relu -> Round -> Abs: ``x`` float32 [4, 4] -> ``y`` [4, 4]."""
    return _onnx_chain(path, ["Relu", "Round", "Abs"], [4, 4])


def build_onnx_qdq_conv(path: Path) -> Path:
    """``x`` float32 [1, 3, 8, 8] -> Q/DQ -> Conv (int8 weight through DequantizeLinear) ->
    Relu -> Softmax over channels -> ``y`` [1, 4, 6, 6]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    weight = rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8)
    initializers = [
        numpy_helper.from_array(weight, "w_q"),
        numpy_helper.from_array(np.array(0.01, np.float32), "w_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
        numpy_helper.from_array(np.array(0.02, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.uint8), "x_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"], name="quantize"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zero"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["wd"], name="dq_w"),
        helper.make_node("Conv", ["xd", "wd"], ["conv"], name="conv"),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("Softmax", ["relu"], ["y"], name="softmax", axis=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])
    graph = helper.make_graph(nodes, "qdq_conv", [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
