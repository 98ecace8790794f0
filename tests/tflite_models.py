"""Small, real ``.tflite`` models built reproducibly for the test suite, without TensorFlow.

The flatbuffer is written by the package's writer
(``edgeinfer.bench._workloads.tflite_writer``) over the TFLite schema's object API, which ships
with ai-edge-litert as ``ai_edge_litert.schema_py_generated``. Full-integer models are made from
the float model by LiteRT's own post-training calibrator and quantiser (the same C++ code
TensorFlow's converter calls; ``edgeinfer.optimize._recipes.tflite``), fed a fixed-seed
representative data set.

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

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.bench._workloads import mobilenet
from edgeinfer.bench._workloads.tflite_writer import SIGNATURE_KEY, TfliteGraph
from edgeinfer.bench._workloads.weights import he_conv, he_dense
from edgeinfer.optimize._recipes.tflite import tflite_int8 as quantize_int8

__all__ = [
    "ALL_TFLITE_BUILDERS",
    "PRECISIONS",
    "SIGNATURE_KEY",
    "build_dynamic_batch",
    "build_dynamic_pair",
    "build_edgetpu_named_copy",
    "build_mobilenet_v2",
    "build_small_cnn",
    "build_two_in_two_out",
    "quantize_int8",
    "representative_samples",
]

PRECISIONS = ("fp32", "fp16", "int8")
_DESCRIPTION = "edgeinfer test model"
SMALL_CNN_SEED = 1234
CALIBRATION_SAMPLES = 16
CALIBRATION_SEED = 20240601


def _check_precision(precision: str, allowed: Sequence[str] = PRECISIONS) -> None:
    """Raise ValueError unless ``precision`` is one of ``allowed``."""
    if precision not in allowed:
        raise ValueError(f"precision must be one of {tuple(allowed)}, got {precision!r}")


# --------------------------------------------------------------------------------------------------
# Full-integer quantisation with LiteRT's calibrator
# --------------------------------------------------------------------------------------------------


def representative_samples(
    shape: Sequence[int], *, count: int = CALIBRATION_SAMPLES, seed: int = CALIBRATION_SEED
) -> list[np.ndarray]:
    """Return ``count`` fixed-seed standard-normal float32 arrays of ``shape``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(shape)).astype(np.float32) for _ in range(count)]


def _finish(data: bytes, shapes: Sequence[Sequence[int]], path: Path, precision: str) -> Path:
    """Quantise the float flatbuffer ``data`` for int8 (inputs of ``shapes``); write to ``path``."""
    if precision == "int8":
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


def _finish_graph(
    graph: TfliteGraph,
    inputs: Mapping[str, int],
    outputs: Mapping[str, int],
    path: Path,
    precision: str,
) -> Path:
    """Serialise ``graph`` (quantising it for int8) and write it to ``path``."""
    data = graph.serialize(inputs, outputs, description=_DESCRIPTION)
    return _finish(data, [graph.shape(i) for i in inputs.values()], path, precision)


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

    g = TfliteGraph(fp16_weights=precision == "fp16")
    x = g.tensor("input", (1, 32, 32, 3))
    h = g.conv(x, stem, padding="SAME")
    h = g.conv(h, dw, padding="SAME")
    h = g.conv(h, pw, padding="VALID")
    h = g.spatial_mean(h, name="pool")
    y = g.fully_connected(h, fc_w, fc_b, name="fc", out_name="logits")
    return _finish_graph(g, {"input": x}, {"logits": y}, path, precision)


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

    The package's ``mobilenet_v2`` workload: same weights and same function as
    ``onnx_models.build_mobilenet_v2`` with the input transposed NCHW -> NHWC (explicit PAD
    before stride-2 convs). For int8 the input and output are int8 too.
    """
    _check_precision(precision)
    data = mobilenet.tflite_model(
        fp16=precision == "fp16",
        resolution=resolution,
        width=width,
        num_classes=num_classes,
        seed=seed,
        description=_DESCRIPTION,
    )
    return _finish(data, [(1, resolution, resolution, 3)], path, precision)


def build_two_in_two_out(path: Path, *, precision: str = "fp32") -> Path:
    """Build inputs "a", "b" float32 [1, 8] -> outputs "sum" = a + b, "prod" = a * b (fp32 only)."""
    _check_precision(precision, ("fp32",))
    g = TfliteGraph()
    a = g.tensor("a", (1, 8))
    b = g.tensor("b", (1, 8))
    total = g.add(a, b, name="sum")
    prod = g.mul(a, b, name="prod")
    return _finish_graph(g, {"a": a, "b": b}, {"sum": total, "prod": prod}, path, precision)


def build_dynamic_batch(path: Path) -> Path:
    """Build input "x" float32 [batch, 8] (shape signature [-1, 8]) -> "y" = x + [0, 1, ..., 7].

    The batch is dynamic: a runtime resizes the input to the batch it is given.
    """
    g = TfliteGraph()
    x = g.tensor("x", (1, 8))
    bias = g.constant("bias", np.arange(8, dtype=np.float32))
    y = g.add(x, bias, name="y")
    for index in (x, y):
        g.tensors[index].shapeSignature = [-1, 8]
    return _finish_graph(g, {"x": x}, {"y": y}, path, "fp32")


def build_dynamic_pair(path: Path) -> Path:
    """Build inputs "a", "b" float32 [batch, 8] (shape signatures [-1, 8]) -> "sum" = a + b.

    Each batch is dynamic on its own, so a caller can send batches that do not broadcast (2 and
    3): the runtime then refuses to prepare the graph for those shapes.
    """
    g = TfliteGraph()
    a = g.tensor("a", (1, 8))
    b = g.tensor("b", (1, 8))
    total = g.add(a, b, name="sum")
    for index in (a, b, total):
        g.tensors[index].shapeSignature = [-1, 8]
    return _finish_graph(g, {"a": a, "b": b}, {"sum": total}, path, "fp32")


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
