"""Small, real ``.tflite`` models built reproducibly for the test suite, without TensorFlow.

The flatbuffer is written with the TFLite schema's object API (``ModelT``, ``SubGraphT``, ...),
which ships with ai-edge-litert as ``ai_edge_litert.schema_py_generated``. Full-integer models are
made from the float model by LiteRT's own post-training calibrator and quantiser (the same C++
code TensorFlow's converter calls), fed a fixed-seed representative data set.

Precisions:

- ``"fp32"``: float32 everywhere.
- ``"fp16"``: every float weight and bias is a float16 constant followed by a ``DEQUANTIZE`` op
  to float32 (what the TF converter emits for float16 quantisation); inputs/outputs stay float32.
- ``"int8"``: full integer: int8 activations, int8 per-channel weights, int32 biases and int8
  input/output tensors (no float ops).

Every model has one subgraph and a ``"serving_default"`` signature naming its inputs and outputs.
Run ``python tests/tflite_models.py`` to build, run and compare every model.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_weights import ConvWeights, he_conv, he_dense, mobilenet_v2_weights

try:
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover - older packagings keep the schema inside TensorFlow
    try:
        from tensorflow.lite.python import schema_py_generated as schema  # type: ignore
    except ImportError as exc:
        raise ImportError(
            "tests/tflite_models.py writes .tflite files with the TFLite schema's object API, "
            "shipped as ai_edge_litert.schema_py_generated: pip install ai-edge-litert"
        ) from exc

__all__ = [
    "ALL_TFLITE_BUILDERS",
    "PRECISIONS",
    "SIGNATURE_KEY",
    "build_edgetpu_named_copy",
    "build_mobilenet_v2",
    "build_small_cnn",
    "build_two_in_two_out",
    "quantize_int8",
    "representative_samples",
]

PRECISIONS = ("fp32", "fp16", "int8")
SIGNATURE_KEY = "serving_default"
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
SMALL_CNN_SEED = 1234
CALIBRATION_SAMPLES = 16
CALIBRATION_SEED = 20240601
BUFFER_ALIGNMENT = 16  # the TF converter aligns constant data to 16 bytes; so do we

_BuiltinOp = schema.BuiltinOperator
_Padding = schema.Padding
_Act = schema.ActivationFunctionType
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


def _check_precision(precision: str, allowed: Sequence[str] = PRECISIONS) -> None:
    """Raise ValueError unless ``precision`` is one of ``allowed``."""
    if precision not in allowed:
        raise ValueError(f"precision must be one of {tuple(allowed)}, got {precision!r}")


class _Graph:
    """Accumulates tensors, buffers and operators of a one-subgraph TFLite model (NHWC)."""

    def __init__(self, *, fp16_weights: bool = False) -> None:
        self.fp16_weights = fp16_weights
        self.tensors: list[schema.TensorT] = []
        self.buffers: list[schema.BufferT] = [_AlignedBufferT()]  # buffer 0: empty sentinel
        self.operator_codes: list[schema.OperatorCodeT] = []
        self._opcode_index: dict[tuple[int, int], int] = {}
        self.operators: list[schema.OperatorT] = []

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
        options_type: int = schema.BuiltinOptions.NONE,
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

    def conv(self, x: int, conv: ConvWeights, *, padding: str, relu6: bool | None = None) -> int:
        """Add CONV_2D or DEPTHWISE_CONV_2D for ``conv`` (ONNX-layout weights) on NHWC ``x``.

        ``padding`` is "SAME" or "VALID" (TFLite semantics); fused ReLU6 follows ``conv.relu6``
        unless ``relu6`` overrides it.
        """
        n, h, w, c = self.shape(x)
        k, s = conv.kernel, conv.stride
        if padding == "SAME":
            oh, ow, pad = math.ceil(h / s), math.ceil(w / s), _Padding.SAME
        else:
            oh, ow, pad = (h - k) // s + 1, (w - k) // s + 1, _Padding.VALID
        act = _Act.RELU6 if (conv.relu6 if relu6 is None else relu6) else _Act.NONE
        bias = self.weight(f"{conv.name}.bias", conv.bias)
        out = self.tensor(f"{conv.name}.out", (n, oh, ow, conv.out_channels))
        if conv.depthwise:
            if conv.group != c or conv.out_channels != c:
                raise ValueError(f"{conv.name}: only depth_multiplier 1 is supported")
            weight = self.weight(f"{conv.name}.weight", conv.weight.transpose(1, 2, 3, 0))
            options = schema.DepthwiseConv2DOptionsT()
            options.depthMultiplier = 1
            code, options_type = (
                _BuiltinOp.DEPTHWISE_CONV_2D,
                schema.BuiltinOptions.DepthwiseConv2DOptions,
            )
        else:
            weight = self.weight(f"{conv.name}.weight", conv.weight.transpose(0, 2, 3, 1))
            options = schema.Conv2DOptionsT()
            code, options_type = _BuiltinOp.CONV_2D, schema.BuiltinOptions.Conv2DOptions
        options.padding = pad
        options.strideH = options.strideW = s
        options.fusedActivationFunction = act
        self.op(code, [x, weight, bias], [out], options, options_type)
        return out

    def pad(self, x: int, pads: Sequence[tuple[int, int]], *, name: str) -> int:
        """Add a constant-zero PAD with per-dimension (begin, end) ``pads``."""
        paddings = self.constant(f"{name}.paddings", np.array(pads, dtype=np.int32))
        shape = [d + b + e for d, (b, e) in zip(self.shape(x), pads, strict=True)]
        out = self.tensor(f"{name}.out", shape)
        self.op(
            _BuiltinOp.PAD,
            [x, paddings],
            [out],
            schema.PadOptionsT(),
            schema.BuiltinOptions.PadOptions,
        )
        return out

    def add(self, a: int, b: int, *, name: str) -> int:
        """Add an element-wise ADD without fused activation."""
        out = self.tensor(name, self.shape(a))
        self.op(
            _BuiltinOp.ADD, [a, b], [out], schema.AddOptionsT(), schema.BuiltinOptions.AddOptions
        )
        return out

    def mul(self, a: int, b: int, *, name: str) -> int:
        """Add an element-wise MUL without fused activation."""
        out = self.tensor(name, self.shape(a))
        self.op(
            _BuiltinOp.MUL, [a, b], [out], schema.MulOptionsT(), schema.BuiltinOptions.MulOptions
        )
        return out

    def spatial_mean(self, x: int, *, name: str) -> int:
        """Add MEAN over H and W of NHWC ``x`` (keep_dims false): output [N, C]."""
        n, _, _, c = self.shape(x)
        axes = self.constant(f"{name}.axes", np.array([1, 2], dtype=np.int32))
        out = self.tensor(f"{name}.out", (n, c))
        options = schema.ReducerOptionsT()
        options.keepDims = False
        self.op(_BuiltinOp.MEAN, [x, axes], [out], options, schema.BuiltinOptions.ReducerOptions)
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
            _BuiltinOp.FULLY_CONNECTED,
            [x, w, b],
            [out],
            options,
            schema.BuiltinOptions.FullyConnectedOptions,
        )
        return out

    # Serialisation ----------------------------------------------------------------------------

    def serialize(self, inputs: Mapping[str, int], outputs: Mapping[str, int]) -> bytes:
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
        model.description = "edgeinfer test model"
        model.operatorCodes = self.operator_codes
        model.subgraphs = [subgraph]
        model.buffers = self.buffers
        model.signatureDefs = [signature]

        import flatbuffers

        size = sum(len(b.data) for b in self.buffers if b.data is not None)
        builder = flatbuffers.Builder(size + 64 * 1024)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())


def _tensor_map(name: str, index: int) -> schema.TensorMapT:
    """Make a signature entry mapping ``name`` to tensor ``index``."""
    entry = schema.TensorMapT()
    entry.name = name
    entry.tensorIndex = index
    return entry


# --------------------------------------------------------------------------------------------------
# Full-integer quantisation with LiteRT's calibrator
# --------------------------------------------------------------------------------------------------


def representative_samples(
    shape: Sequence[int], *, count: int = CALIBRATION_SAMPLES, seed: int = CALIBRATION_SEED
) -> list[np.ndarray]:
    """Return ``count`` fixed-seed standard-normal float32 arrays of ``shape``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(shape)).astype(np.float32) for _ in range(count)]


def quantize_int8(model: bytes, samples: Sequence[Sequence[np.ndarray]]) -> bytes:
    """Calibrate float ``model`` on ``samples`` and quantise it to full integer (int8 I/O).

    Each sample is a list of arrays, one per model input in input order. This is the call
    sequence of TensorFlow's ``tensorflow/lite/python/optimize/calibrator.py`` with
    ``resize_input=True``: one ``Prepare`` with the sample shapes, then ``FeedTensor`` per sample,
    then ``QuantizeModel``.
    """
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as cw

    if not samples:
        raise ValueError("quantize_int8 needs at least one representative sample")
    calibrator = cw.CalibrationWrapper(model, [], [])
    calibrator.Prepare([list(array.shape) for array in samples[0]])
    for sample in samples:
        calibrator.FeedTensor([np.ascontiguousarray(array) for array in sample])
    int8, int32 = np.dtype(np.int8).num, np.dtype(np.int32).num
    return bytes(
        calibrator.QuantizeModel(
            int8,  # input_type
            int8,  # output_type
            False,  # allow_float: full integer, fail if an op cannot be quantised
            int8,  # activations_type
            int32,  # bias_type
            False,  # disable_per_channel
            False,  # disable_per_channel_quantization_for_dense_layers
        )
    )


def _finish(
    graph: _Graph,
    inputs: Mapping[str, int],
    outputs: Mapping[str, int],
    path: Path,
    precision: str,
) -> Path:
    """Serialise ``graph`` (quantising it for int8) and write it to ``path``."""
    data = graph.serialize(inputs, outputs)
    if precision == "int8":
        shapes = [graph.shape(index) for index in inputs.values()]
        samples = list(
            zip(
                *(
                    representative_samples(s, seed=CALIBRATION_SEED + i)
                    for i, s in enumerate(shapes)
                ),
                strict=True,
            )
        )
        data = quantize_int8(data, samples)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------


def build_small_cnn(path: Path, *, precision: str = "fp32", seed: int = SMALL_CNN_SEED) -> Path:
    """Build a tiny CNN: "input" float32 [1, 32, 32, 3] -> "logits" float32 [1, 10].

    Conv 3x3/2 16ch ReLU6 -> depthwise 3x3 ReLU6 -> conv 1x1 32ch ReLU6 -> mean over H, W ->
    fully connected 10. TF-style SAME padding (this model has no ONNX twin). He-initialised from
    ``seed``. For int8 the input and output are int8 too.
    """
    _check_precision(precision)
    rng = np.random.default_rng(seed)
    stem = he_conv(rng, 3, 16, kernel=3, stride=2, name="conv1", relu6=True)
    dw = he_conv(rng, 16, 16, kernel=3, group=16, name="dwconv", relu6=True)
    pw = he_conv(rng, 16, 32, name="conv2", relu6=True)
    fc_w, fc_b = he_dense(rng, 32, 10)

    g = _Graph(fp16_weights=precision == "fp16")
    x = g.tensor("input", (1, 32, 32, 3))
    h = g.conv(x, stem, padding="SAME")
    h = g.conv(h, dw, padding="SAME")
    h = g.conv(h, pw, padding="VALID")
    h = g.spatial_mean(h, name="pool")
    y = g.fully_connected(h, fc_w, fc_b, name="fc", out_name="logits")
    return _finish(g, {"input": x}, {"logits": y}, path, precision)


def _mobilenet_conv(g: _Graph, x: int, conv: ConvWeights) -> int:
    """Add ``conv`` computing exactly what the ONNX Conv with symmetric ``k // 2`` pads does.

    Stride 1: TFLite SAME pads (k - 1) / 2 on each side, the same as ONNX. Stride 2 on even
    sizes: SAME would pad (0 begin, 1 end) where ONNX pads (1, 1), shifting every window, so we
    add an explicit PAD (1, 1) and use VALID, as Keras' MobileNetV2 does with ZeroPadding2D.
    """
    pad = conv.kernel // 2
    if conv.stride == 1 or pad == 0:
        return g.conv(x, conv, padding="SAME")
    padded = g.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)], name=f"{conv.name}.pad")
    return g.conv(padded, conv, padding="VALID")


def build_mobilenet_v2(
    path: Path,
    *,
    precision: str = "fp32",
    resolution: int = 224,
    width: float = 1.0,
    num_classes: int = 1000,
    seed: int = 0,
) -> Path:
    """Build MobileNetV2: "input" float32 [1, res, res, 3] -> "logits" float32 [1, num_classes].

    Same weights (``model_weights.mobilenet_v2_weights``) and same function as
    ``onnx_models.build_mobilenet_v2`` with the input transposed NCHW -> NHWC. For int8 the
    input and output are int8 too.
    """
    _check_precision(precision)
    weights = mobilenet_v2_weights(width=width, num_classes=num_classes, seed=seed)
    g = _Graph(fp16_weights=precision == "fp16")
    x = g.tensor("input", (1, resolution, resolution, 3))
    h = _mobilenet_conv(g, x, weights.stem)
    for block in weights.blocks:
        inner = h
        if block.expand is not None:
            inner = _mobilenet_conv(g, inner, block.expand)
        inner = _mobilenet_conv(g, inner, block.depthwise)
        inner = _mobilenet_conv(g, inner, block.project)
        h = g.add(h, inner, name=f"{block.name}.add") if block.residual else inner
    h = _mobilenet_conv(g, h, weights.head)
    h = g.spatial_mean(h, name="head.pool")
    y = g.fully_connected(
        h, weights.classifier_weight, weights.classifier_bias, name="classifier", out_name="logits"
    )
    return _finish(g, {"input": x}, {"logits": y}, path, precision)


def build_two_in_two_out(path: Path, *, precision: str = "fp32") -> Path:
    """Build inputs "a", "b" float32 [1, 8] -> outputs "sum" = a + b, "prod" = a * b (fp32 only)."""
    _check_precision(precision, ("fp32",))
    g = _Graph()
    a = g.tensor("a", (1, 8))
    b = g.tensor("b", (1, 8))
    total = g.add(a, b, name="sum")
    prod = g.mul(a, b, name="prod")
    return _finish(g, {"a": a, "b": b}, {"sum": total, "prod": prod}, path, precision)


def build_dynamic_batch(path: Path) -> Path:
    """Build input "x" float32 [batch, 8] (shape signature [-1, 8]) -> "y" = x + [0, 1, ..., 7].

    The batch is dynamic: a runtime resizes the input to the batch it is given.
    """
    g = _Graph()
    x = g.tensor("x", (1, 8))
    bias = g.constant("bias", np.arange(8, dtype=np.float32))
    y = g.add(x, bias, name="y")
    for index in (x, y):
        g.tensors[index].shapeSignature = [-1, 8]
    return _finish(g, {"x": x}, {"y": y}, path, "fp32")


def build_edgetpu_named_copy(src: Path, dest_dir: Path) -> Path:
    """Copy the CPU model ``src`` to ``dest_dir/<stem>_edgetpu.tflite`` and return that path.

    A stand-in for naming, format-detection and fallback tests only: it is NOT an Edge TPU
    compiled model (no ``edgetpu-custom-op``; the Edge TPU compiler is not available here), so
    it runs on the CPU like ``src`` and an Edge TPU delegate would leave every op on the CPU.
    """
    src = Path(src)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{src.stem}_edgetpu.tflite"
    shutil.copyfile(src, dest)
    return dest


ALL_TFLITE_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "small_cnn": build_small_cnn,  # fp32
    "mobilenet_v2": build_mobilenet_v2,  # fp32, 224x224, width 1.0
    "two_in_two_out": build_two_in_two_out,
}


# --------------------------------------------------------------------------------------------------
# Manual check: build, run, compare, time
# --------------------------------------------------------------------------------------------------


def _interpreter(path: Path) -> Any:
    """Open ``path`` in a one-thread LiteRT interpreter with tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run with float ``inputs``, quantising/dequantising int8 I/O with the tensors' params."""
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        scale, zero_point = detail["quantization"]
        if detail["dtype"] == np.int8:
            value = np.clip(np.round(value / scale) + zero_point, -128, 127)
        interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    interpreter.invoke()
    results = []
    for detail in interpreter.get_output_details():
        value = interpreter.get_tensor(detail["index"])
        if detail["dtype"] == np.int8:
            scale, zero_point = detail["quantization"]
            value = (value.astype(np.float32) - zero_point) * scale
        results.append(value)
    return results


def _median_ms(interpreter: Any, inputs: Sequence[np.ndarray], runs: int = 30) -> float:
    """Median wall time of ``runs`` invocations (after one warm-up), in milliseconds."""
    import time

    _run(interpreter, inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def _describe(path: Path, build_s: float) -> Any:
    """Print size, build time and I/O details of ``path``; return its interpreter."""
    interpreter = _interpreter(path)
    print(f"{path.name}: {path.stat().st_size / 1024:.1f} KiB, built in {build_s:.2f} s")
    for kind, details in (
        ("in ", interpreter.get_input_details()),
        ("out", interpreter.get_output_details()),
    ):
        for d in details:
            print(
                f"  {kind} {d['name']}: {np.dtype(d['dtype']).name} {d['shape'].tolist()} "
                f"q={d['quantization']}"
            )
    return interpreter


def _main() -> None:
    """Build every model variant, run it, and compare MobileNetV2 across formats."""
    import tempfile
    import time

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        interpreters: dict[str, Any] = {}
        for name, builder, precisions in (
            ("small_cnn", build_small_cnn, PRECISIONS),
            ("two_in_two_out", build_two_in_two_out, ("fp32",)),
            ("mobilenet_v2", build_mobilenet_v2, PRECISIONS),
        ):
            for precision in precisions:
                start = time.perf_counter()
                path = builder(root / f"{name}_{precision}.tflite", precision=precision)
                interpreter = _describe(path, time.perf_counter() - start)
                inputs = [
                    rng.standard_normal(d["shape"]).astype(np.float32)
                    for d in interpreter.get_input_details()
                ]
                outputs = _run(interpreter, inputs)
                if not all(np.isfinite(o).all() for o in outputs):
                    raise RuntimeError(f"{path.name}: non-finite outputs")
                print(f"  signatures: {interpreter.get_signature_list()}")
                interpreters[f"{name}_{precision}"] = interpreter

        a, b = (rng.standard_normal((1, 8)).astype(np.float32) for _ in range(2))
        runner = interpreters["two_in_two_out_fp32"].get_signature_runner(SIGNATURE_KEY)
        got = runner(a=a, b=b)
        ok = np.allclose(got["sum"], a + b) and np.allclose(got["prod"], a * b)
        print(f"two_in_two_out via signature runner: sum and prod correct: {ok}")
        copy = build_edgetpu_named_copy(root / "small_cnn_int8.tflite", root / "edgetpu")
        print(f"edgetpu stand-in: {copy.name}")

        _compare_mobilenet(root, interpreters)


def _compare_mobilenet(root: Path, interpreters: Mapping[str, Any]) -> None:
    """Compare MobileNetV2 fp32 with ONNX, fp16 and int8 with fp32; time fp32 and int8."""
    fp32, fp16, int8 = (interpreters[f"mobilenet_v2_{p}"] for p in PRECISIONS)
    rng = np.random.default_rng(11)
    x_nchw = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    x = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))
    (ref32,) = _run(fp32, [x])
    try:
        import onnxruntime as ort

        from onnx_models import build_mobilenet_v2 as build_onnx
    except ImportError as exc:
        print(f"ONNX comparison skipped: {exc}")
    else:
        onnx_path = build_onnx(root / "mobilenet_v2.onnx")
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        (ref_onnx,) = session.run(None, {"input": x_nchw})
        err = float(np.abs(ref32 - ref_onnx).max())
        print(
            f"mobilenet_v2 fp32 TFLite vs ONNX: max abs {err:.3g}, "
            f"relative to max |logit| {err / float(np.abs(ref_onnx).max()):.3g}"
        )
    (y16,) = _run(fp16, [x])
    err = float(np.abs(y16 - ref32).max())
    print(
        f"mobilenet_v2 fp16 vs fp32: max abs {err:.3g}, "
        f"relative to max |logit| {err / float(np.abs(ref32).max()):.3g}"
    )

    top1 = top5 = 0
    worst = 0.0
    trials = 20
    for _ in range(trials):
        sample = rng.standard_normal((1, 224, 224, 3)).astype(np.float32)
        (want,) = _run(fp32, [sample])
        (got,) = _run(int8, [sample])
        worst = max(worst, float(np.abs(got - want).max() / np.ptp(want)))
        top1 += int(np.argmax(got) == np.argmax(want))
        top5 += int(np.argmax(want) in np.argsort(got[0])[-5:])
    print(
        f"mobilenet_v2 int8 vs fp32 over {trials} inputs: max abs error / fp32 logit range "
        f"{worst:.3g}; top-1 agreement {top1}/{trials}; fp32 top-1 in int8 top-5 "
        f"{top5}/{trials}"
    )
    print(
        f"mobilenet_v2 224 one-thread median latency (30 runs): "
        f"fp32 {_median_ms(fp32, [x]):.2f} ms, fp16 {_median_ms(fp16, [x]):.2f} ms, "
        f"int8 {_median_ms(int8, [x]):.2f} ms"
    )


if __name__ == "__main__":
    _main()
