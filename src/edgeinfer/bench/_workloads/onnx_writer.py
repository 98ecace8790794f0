"""Write ONNX graphs of BatchNorm-folded CNNs with ``onnx.helper`` (opset 17, IR version 8).

Opset 17 and IR version 8 keep the files loadable by older onnxruntime builds. Weights come in
ONNX layout (see :mod:`.weights`); every node's output is named ``<node name>.out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeinfer.bench._workloads.weights import ConvWeights, same_pads

__all__ = ["IR_VERSION", "OPSET_VERSION", "OnnxGraph", "make_model", "same_pads", "serialize"]

OPSET_VERSION = 17
IR_VERSION = 8

Dim = int | str | None


def make_model(graph: onnx.GraphProto, *, producer: str = "edgeinfer") -> onnx.ModelProto:
    """Wrap ``graph`` in a model with the project's opset and IR version."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET_VERSION)],
        producer_name=producer,
    )
    model.ir_version = IR_VERSION
    return model


def serialize(model: onnx.ModelProto) -> bytes:
    """Run the full checker on ``model`` and return its bytes."""
    onnx.checker.check_model(model, full_check=True)
    data: bytes = model.SerializeToString()
    return data


class OnnxGraph:
    """Accumulates nodes and float32 initializers of a one-graph model (NCHW)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def initializer(self, array: np.ndarray, name: str) -> str:
        """Add ``array`` (as float32) under ``name`` once; return the name."""
        if name not in self._names:
            self._names.add(name)
            self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: Sequence[str], *, name: str, **attributes: Any) -> str:
        """Append one node named ``name``; return its output ``<name>.out``."""
        self.nodes.append(helper.make_node(op, list(inputs), [f"{name}.out"], name, **attributes))
        return f"{name}.out"

    def conv(self, x: str, conv: ConvWeights, *, pads: Sequence[int] | None = None) -> str:
        """Add a biased Conv, then the activation ``conv`` asks for.

        ``pads`` defaults to ``k // 2`` on every side of each spatial axis.
        """
        kh, kw = conv.kernel_hw
        if pads is None:
            pads = [kh // 2, kw // 2, kh // 2, kw // 2]
        out = self.node(
            "Conv",
            [
                x,
                self.initializer(conv.weight, f"{conv.name}.weight"),
                self.initializer(conv.bias, f"{conv.name}.bias"),
            ],
            name=conv.name,
            kernel_shape=[kh, kw],
            strides=[conv.stride, conv.stride],
            pads=list(pads),
            group=conv.group,
        )
        if conv.activation == "relu6":
            return self.relu6(out, name=f"{conv.name}.relu6")
        if conv.activation == "relu":
            return self.node("Relu", [out], name=f"{conv.name}.relu")
        return out

    def relu6(self, x: str, *, name: str) -> str:
        """Add ReLU6 as ``Clip(x, 0, 6)`` with min/max given as initializer inputs."""
        low = self.initializer(np.array(0.0), "relu6_min")
        high = self.initializer(np.array(6.0), "relu6_max")
        return self.node("Clip", [x, low, high], name=name)

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, *, name: str, output: str) -> str:
        """Flatten ``x`` to [N, C] and add ``Gemm`` with weights [out, in]; output ``output``."""
        flat = self.node("Flatten", [x], name=f"{name}.flat", axis=1)
        w = self.initializer(weight, f"{name}.weight")
        b = self.initializer(bias, f"{name}.bias")
        self.nodes.append(helper.make_node("Gemm", [flat, w, b], [output], name, transB=1))
        return output

    def graph(
        self,
        name: str,
        inputs: dict[str, Sequence[Dim]],
        outputs: dict[str, Sequence[Dim]],
    ) -> onnx.GraphProto:
        """The finished graph with float32 ``inputs`` and ``outputs`` of the given shapes."""

        def info(items: dict[str, Sequence[Dim]]) -> list[onnx.ValueInfoProto]:
            return [
                helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v))
                for k, v in items.items()
            ]

        return helper.make_graph(
            self.nodes, name, info(inputs), info(outputs), initializer=self.initializers
        )
