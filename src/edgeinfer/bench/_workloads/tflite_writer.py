"""Write ``.tflite`` flatbuffers without TensorFlow, through the TFLite schema's object API.

The schema (``ModelT``, ``SubGraphT``, ...) ships with ai-edge-litert as
``ai_edge_litert.schema_py_generated``. Graphs are NHWC; weights arrive in ONNX layout (see
:mod:`.weights`) and are transposed here. With ``fp16_weights`` every float weight and bias is a
float16 constant followed by a ``DEQUANTIZE`` to float32, which is what the TF converter emits
for float16 quantisation. Every model has one subgraph and a ``serving_default`` signature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from edgeinfer.bench._workloads.weights import ConvWeights

__all__ = ["BUFFER_ALIGNMENT", "SIGNATURE_KEY", "TfliteGraph"]

SIGNATURE_KEY = "serving_default"
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16  # the TF converter aligns constant data to 16 bytes; so do we

_BuiltinOp = schema.BuiltinOperator
_Options = schema.BuiltinOptions
_Padding = schema.Padding
_Act = schema.ActivationFunctionType
_ACTIVATIONS = {None: _Act.NONE, "relu": _Act.RELU, "relu6": _Act.RELU6}
_TYPE_OF: dict[np.dtype[Any], int] = {
    np.dtype(np.float32): schema.TensorType.FLOAT32,
    np.dtype(np.float16): schema.TensorType.FLOAT16,
    np.dtype(np.int32): schema.TensorType.INT32,
    np.dtype(np.int8): schema.TensorType.INT8,
}
# Operator versions as the TF converter writes them for float models (the quantiser raises the
# versions of the ops it quantises). DEQUANTIZE of a float16 tensor needs version 3.
_DEQUANTIZE_FP16_VERSION = 3


class _AlignedBufferT(schema.BufferT):  # type: ignore[misc]
    """A ``BufferT`` whose data vector starts on a :data:`BUFFER_ALIGNMENT` boundary."""

    def Pack(self, builder: Any) -> int:  # noqa: N802 - flatbuffers' object API name
        data = None
        if self.data is not None:
            payload = np.ascontiguousarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        return int(schema.BufferEnd(builder))


class TfliteGraph:
    """Accumulates tensors, buffers and operators of a one-subgraph TFLite model (NHWC)."""

    def __init__(self, *, fp16_weights: bool = False) -> None:
        self.fp16_weights = fp16_weights
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [_AlignedBufferT()]  # buffer 0: empty sentinel
        self.operator_codes: list[Any] = []
        self._opcode_index: dict[tuple[int, int], int] = {}
        self.operators: list[Any] = []

    # Tensors ----------------------------------------------------------------------------------

    def shape(self, tensor: int) -> tuple[int, ...]:
        """Return the static shape of tensor index ``tensor``."""
        return tuple(int(d) for d in self.tensors[tensor].shape)

    def tensor(self, name: str, shape: Sequence[int], dtype: type[np.generic] = np.float32) -> int:
        """Add an activation tensor (no data: buffer 0) and return its index."""
        t = schema.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        t.type = _TYPE_OF[np.dtype(dtype)]
        t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def constant(self, name: str, array: np.ndarray) -> int:
        """Add a constant tensor holding ``array`` (its dtype decides the tensor type)."""
        array = np.ascontiguousarray(array)
        index = self.tensor(name, array.shape, array.dtype.type)
        buffer = _AlignedBufferT()
        buffer.data = np.frombuffer(array.astype(array.dtype.newbyteorder("<")).tobytes(), np.uint8)
        self.buffers.append(buffer)
        self.tensors[index].buffer = len(self.buffers) - 1
        return index

    def weight(self, name: str, array: np.ndarray) -> int:
        """Add a float weight: float32 constant, or float16 constant + DEQUANTIZE in fp16 mode."""
        array = np.asarray(array, dtype=np.float32)
        if not self.fp16_weights:
            return self.constant(name, array)
        half = self.constant(f"{name}.fp16", array.astype(np.float16))
        out = self.tensor(name, array.shape)
        self.op(_BuiltinOp.DEQUANTIZE, [half], [out], version=_DEQUANTIZE_FP16_VERSION)
        return out

    # Operators --------------------------------------------------------------------------------

    def _opcode(self, code: int, version: int) -> int:
        key = (code, version)
        if key not in self._opcode_index:
            opcode = schema.OperatorCodeT()
            opcode.builtinCode = code
            # deprecated_builtin_code is an int8: codes past 127 live only in builtin_code, and
            # the deprecated field says PLACEHOLDER_FOR_GREATER_OP_CODES (127).
            opcode.deprecatedBuiltinCode = min(code, 127)
            opcode.version = version
            self._opcode_index[key] = len(self.operator_codes)
            self.operator_codes.append(opcode)
        return self._opcode_index[key]

    def op(
        self,
        code: int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Any = None,
        options_type: int = _Options.NONE,
        *,
        version: int = 1,
    ) -> None:
        """Append one builtin operator."""
        op = schema.OperatorT()
        op.opcodeIndex = self._opcode(code, version)
        op.inputs = list(inputs)
        op.outputs = list(outputs)
        if options is not None:
            op.builtinOptionsType = options_type
            op.builtinOptions = options
        self.operators.append(op)

    def conv(self, x: int, conv: ConvWeights, *, padding: str) -> int:
        """Add CONV_2D or DEPTHWISE_CONV_2D for ``conv`` (ONNX-layout weights) on NHWC ``x``.

        ``padding`` is "SAME" or "VALID" (TFLite semantics); the activation ``conv`` asks for
        is fused.
        """
        n, h, w, c = self.shape(x)
        (kh, kw), s = conv.kernel_hw, conv.stride
        if padding == "SAME":
            oh, ow, pad = math.ceil(h / s), math.ceil(w / s), _Padding.SAME
        else:
            oh, ow, pad = (h - kh) // s + 1, (w - kw) // s + 1, _Padding.VALID
        bias = self.weight(f"{conv.name}.bias", conv.bias)
        out = self.tensor(f"{conv.name}.out", (n, oh, ow, conv.out_channels))
        if conv.depthwise:
            if conv.group != c or conv.out_channels != c:
                raise ValueError(f"{conv.name}: only depth_multiplier 1 is supported")
            weight = self.weight(f"{conv.name}.weight", conv.weight.transpose(1, 2, 3, 0))
            options = schema.DepthwiseConv2DOptionsT()
            options.depthMultiplier = 1
            code, options_type = _BuiltinOp.DEPTHWISE_CONV_2D, _Options.DepthwiseConv2DOptions
        else:
            weight = self.weight(f"{conv.name}.weight", conv.weight.transpose(0, 2, 3, 1))
            options = schema.Conv2DOptionsT()
            code, options_type = _BuiltinOp.CONV_2D, _Options.Conv2DOptions
        options.padding = pad
        options.strideH = options.strideW = s
        options.fusedActivationFunction = _ACTIVATIONS[conv.activation]
        self.op(code, [x, weight, bias], [out], options, options_type)
        return out

    def pad(self, x: int, pads: Sequence[tuple[int, int]], *, name: str) -> int:
        """Add a constant-zero PAD with per-dimension (begin, end) ``pads``."""
        paddings = self.constant(f"{name}.paddings", np.array(pads, dtype=np.int32))
        shape = [d + b + e for d, (b, e) in zip(self.shape(x), pads, strict=True)]
        out = self.tensor(f"{name}.out", shape)
        self.op(_BuiltinOp.PAD, [x, paddings], [out], schema.PadOptionsT(), _Options.PadOptions)
        return out

    def add(self, a: int, b: int, *, name: str) -> int:
        """Add an element-wise ADD without fused activation."""
        out = self.tensor(name, self.shape(a))
        self.op(_BuiltinOp.ADD, [a, b], [out], schema.AddOptionsT(), _Options.AddOptions)
        return out

    def mul(self, a: int, b: int, *, name: str) -> int:
        """Add an element-wise MUL without fused activation."""
        out = self.tensor(name, self.shape(a))
        self.op(_BuiltinOp.MUL, [a, b], [out], schema.MulOptionsT(), _Options.MulOptions)
        return out

    def spatial_mean(self, x: int, *, name: str) -> int:
        """Add MEAN over H and W of NHWC ``x`` (keep_dims false): output [N, C]."""
        n, _, _, c = self.shape(x)
        axes = self.constant(f"{name}.axes", np.array([1, 2], dtype=np.int32))
        out = self.tensor(f"{name}.out", (n, c))
        options = schema.ReducerOptionsT()
        options.keepDims = False
        self.op(_BuiltinOp.MEAN, [x, axes], [out], options, _Options.ReducerOptions)
        return out

    def average_pool(self, x: int, size: tuple[int, int], *, name: str) -> int:
        """Add AVERAGE_POOL_2D with filter and stride ``size`` and VALID padding."""
        n, h, w, c = self.shape(x)
        options = schema.Pool2DOptionsT()
        options.padding = _Padding.VALID
        options.filterHeight, options.filterWidth = size
        options.strideH, options.strideW = size
        out = self.tensor(f"{name}.out", (n, h // size[0], w // size[1], c))
        self.op(_BuiltinOp.AVERAGE_POOL_2D, [x], [out], options, _Options.Pool2DOptions)
        return out

    def reshape(self, x: int, shape: Sequence[int], *, name: str) -> int:
        """Add RESHAPE to the static ``shape``."""
        target = self.constant(f"{name}.shape", np.array(shape, dtype=np.int32))
        options = schema.ReshapeOptionsT()
        options.newShape = list(shape)
        out = self.tensor(f"{name}.out", shape)
        self.op(_BuiltinOp.RESHAPE, [x, target], [out], options, _Options.ReshapeOptions)
        return out

    def fully_connected(
        self, x: int, weight: np.ndarray, bias: np.ndarray, *, name: str, out_name: str
    ) -> int:
        """Add FULLY_CONNECTED with weights float32 [out, in] and bias [out]."""
        w = self.weight(f"{name}.weight", weight)
        b = self.weight(f"{name}.bias", bias)
        out = self.tensor(out_name, (self.shape(x)[0], weight.shape[0]))
        options = schema.FullyConnectedOptionsT()
        options.fusedActivationFunction = _Act.NONE
        self.op(
            _BuiltinOp.FULLY_CONNECTED, [x, w, b], [out], options, _Options.FullyConnectedOptions
        )
        return out

    # Serialisation ----------------------------------------------------------------------------

    def serialize(
        self,
        inputs: Mapping[str, int],
        outputs: Mapping[str, int],
        *,
        description: str = "edgeinfer model",
    ) -> bytes:
        """Return the finished flatbuffer with a ``serving_default`` signature."""
        subgraph = schema.SubGraphT()
        subgraph.name = "main"
        subgraph.tensors = self.tensors
        subgraph.inputs = list(inputs.values())
        subgraph.outputs = list(outputs.values())
        subgraph.operators = self.operators

        signature = schema.SignatureDefT()
        signature.signatureKey = SIGNATURE_KEY
        signature.subgraphIndex = 0
        signature.inputs = [_tensor_map(name, index) for name, index in inputs.items()]
        signature.outputs = [_tensor_map(name, index) for name, index in outputs.items()]

        model = schema.ModelT()
        model.version = SCHEMA_VERSION
        model.description = description
        model.operatorCodes = self.operator_codes
        model.subgraphs = [subgraph]
        model.buffers = self.buffers
        model.signatureDefs = [signature]

        size = sum(len(b.data) for b in self.buffers if b.data is not None)
        builder = flatbuffers.Builder(size + 64 * 1024)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())


def _tensor_map(name: str, index: int) -> Any:
    """Make a signature entry mapping ``name`` to tensor ``index``."""
    entry = schema.TensorMapT()
    entry.name = name
    entry.tensorIndex = index
    return entry
