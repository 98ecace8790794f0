"""Small, real ONNX models built reproducibly for the test suite.

Every builder writes a model with ``onnx.helper`` / ``onnx.numpy_helper`` (fixed numpy seeds, no
downloads), runs ``onnx.checker.check_model(..., full_check=True)`` where that is safe, saves it
to the given ``.onnx`` path and returns that path. Models use opset 17 and IR version 8 so that
older onnxruntime builds accept them.

Run ``python tests/onnx_models.py`` to build every model into a temporary folder and execute it
with onnxruntime's CPU provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeinfer.bench._workloads import mobilenet
from edgeinfer.bench._workloads.mobilenet import MOBILENET_V2_SETTINGS
from edgeinfer.bench._workloads.onnx_writer import IR_VERSION, OPSET_VERSION, make_model, serialize

__all__ = [
    "ALL_BUILDERS",
    "IR_VERSION",
    "MOBILENET_V2_SETTINGS",
    "OPSET_VERSION",
    "build_dynamic_batch",
    "build_dynamic_dims",
    "build_external_data",
    "build_external_data_in_subgraph",
    "build_mobilenet_v2",
    "build_multi_io",
    "build_one_op",
]

Dim = int | str | None


def _make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """Wrap ``graph`` in a model with the project's opset and IR version."""
    return make_model(graph, producer="edgeinfer-tests")


def _write(data: bytes, path: Path) -> Path:
    """Write ``data`` to ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _check_and_save(model: onnx.ModelProto, path: Path) -> Path:
    """Run the full checker on ``model`` and save it to ``path``."""
    return _write(serialize(model), path)


def _write_raw(model: onnx.ModelProto, path: Path) -> Path:
    """Serialise ``model`` to ``path`` without any external-data handling by onnx."""
    return _write(model.SerializeToString(), path)


# --------------------------------------------------------------------------------------------------
# One op
# --------------------------------------------------------------------------------------------------


def build_one_op(path: Path) -> Path:
    """Build the cheapest possible model: a single ``Relu`` on float32 ``x`` [1, 16]."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "one_op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
    )
    return _check_and_save(_make_model(graph), path)


# --------------------------------------------------------------------------------------------------
# MobileNetV2
# --------------------------------------------------------------------------------------------------


def build_mobilenet_v2(
    path: Path,
    *,
    batch: int | None = 1,
    resolution: int = 224,
    width: float = 1.0,
    num_classes: int = 1000,
    seed: int = 0,
) -> Path:
    """Build a MobileNetV2 classifier (BatchNorm folded, He-initialised random weights).

    Input "input" float32 [batch, 3, resolution, resolution] (``batch=None`` gives a dynamic
    dim named "batch"); output "logits" float32 [batch, num_classes]. The network is the
    package's ``mobilenet_v2`` workload (``edgeinfer.bench._workloads.mobilenet``), with the same
    weights as ``tflite_models.build_mobilenet_v2``.
    """
    model = mobilenet.onnx_model(
        batch=batch,
        resolution=resolution,
        width=width,
        num_classes=num_classes,
        seed=seed,
        producer="edgeinfer-tests",
    )
    return _check_and_save(model, path)


# --------------------------------------------------------------------------------------------------
# Multiple inputs / outputs of mixed dtypes
# --------------------------------------------------------------------------------------------------


def build_multi_io(path: Path) -> Path:
    """Build a model with float32/bool/int64/float16 inputs and four mixed-dtype outputs.

    Outputs in order: "pooled" float32 [1, 3], "masked_ids" int64 [1, 4],
    "scaled" float16 [1], "any_set" bool [1].
    """
    initializers = [
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero_i64"),
        numpy_helper.from_array(np.array([2.0], dtype=np.float16), "two_f16"),
    ]
    nodes = [
        # Opset 17: ReduceMean/ReduceMax still take ``axes`` as an attribute (input from 18).
        helper.make_node("ReduceMean", ["image"], ["pooled"], name="pool", axes=[2, 3], keepdims=0),
        helper.make_node("Where", ["mask", "ids", "zero_i64"], ["masked_ids"], name="where"),
        helper.make_node("Mul", ["scale", "two_f16"], ["scaled"], name="scale_mul"),
        helper.make_node("Cast", ["mask"], ["mask_i32"], name="mask_cast", to=TensorProto.INT32),
        helper.make_node(
            "ReduceMax", ["mask_i32"], ["any_i32"], name="mask_max", axes=[1], keepdims=0
        ),
        helper.make_node("Cast", ["any_i32"], ["any_set"], name="any_cast", to=TensorProto.BOOL),
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
        initializer=initializers,
    )
    return _check_and_save(_make_model(graph), path)


# --------------------------------------------------------------------------------------------------
# Dynamic shapes
# --------------------------------------------------------------------------------------------------


def build_dynamic_batch(path: Path) -> Path:
    """Build ``y = x @ W + b`` with x float32 ["batch", 8] and y float32 ["batch", 4]."""
    rng = np.random.default_rng(1)
    weight = rng.normal(0.0, 0.5, size=(8, 4)).astype(np.float32)
    bias = rng.normal(0.0, 0.1, size=(4,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "weight"], ["xw"], name="matmul"),
            helper.make_node("Add", ["xw", "bias"], ["y"], name="add"),
        ],
        "dynamic_batch",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[
            numpy_helper.from_array(weight, "weight"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    return _check_and_save(_make_model(graph), path)


def build_dynamic_dims(path: Path) -> Path:
    """Build a ``Relu`` over float32 ["n", 3, "h", "w"] with symbolic n, h and w."""
    dims: Sequence[Dim] = ["n", 3, "h", "w"]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "dynamic_dims",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)],
    )
    return _check_and_save(_make_model(graph), path)


# --------------------------------------------------------------------------------------------------
# External data
# --------------------------------------------------------------------------------------------------

_EXTERNAL_VALUES = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)


def _external_tensor(name: str, location: str) -> onnx.TensorProto:
    """Hand-build a float32 [1, 4] TensorProto whose data lives externally at ``location``."""
    tensor = TensorProto()
    tensor.name = name
    tensor.data_type = TensorProto.FLOAT
    tensor.dims.extend(_EXTERNAL_VALUES.shape)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = tensor.external_data.add()
        entry.key = key
        entry.value = value
    return tensor


def _is_plain_file_name(location: str) -> bool:
    """Return True when ``location`` is a bare file name (no folders, no ``..``)."""
    return (
        location not in ("", ".", "..")
        and "/" not in location
        and "\\" not in location
        and Path(location).name == location
    )


def _write_external_values(path: Path, location: str) -> None:
    """Write [1, 2, 3, 4] as float32 next to the model when ``location`` is a bare file name."""
    if _is_plain_file_name(location):
        (Path(path).parent / location).write_bytes(_EXTERNAL_VALUES.tobytes())


def build_external_data(path: Path, *, location: str) -> Path:
    """Build ``y = x + w`` where initializer "w" is external data at ``location`` (verbatim).

    The checker is skipped (it may open the file). The 16 data bytes are written next to the
    model only when ``location`` is a bare file name.
    """
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        "external_data",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[_external_tensor("w", location)],
    )
    path = _write_raw(_make_model(graph), path)
    _write_external_values(path, location)
    return path


def build_external_data_in_subgraph(path: Path, *, location: str) -> Path:
    """Like :func:`build_external_data`, but "w" sits in an ``If`` node's then_branch.

    Inputs "c" bool [] and "x" float32 [1, 4]; output "y" is ``x + w`` if c else ``x``.
    """
    then_branch = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["then_y"], name="then_add")],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_y", TensorProto.FLOAT, [1, 4])],
        initializer=[_external_tensor("w", location)],
    )
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["else_y"], name="else_identity")],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_y", TensorProto.FLOAT, [1, 4])],
    )
    graph = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["c"],
                ["y"],
                name="if",
                then_branch=then_branch,
                else_branch=else_branch,
            )
        ],
        "external_data_in_subgraph",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    path = _write_raw(_make_model(graph), path)
    _write_external_values(path, location)
    return path


ALL_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "one_op": build_one_op,
    "mobilenet_v2": build_mobilenet_v2,  # default arguments: batch=1, 224x224, width 1.0
    "multi_io": build_multi_io,
    "dynamic_batch": build_dynamic_batch,
    "dynamic_dims": build_dynamic_dims,
}


# --------------------------------------------------------------------------------------------------
# Manual smoke run
# --------------------------------------------------------------------------------------------------

_NP_TYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def _random_input(
    shape: Sequence[int | str | None], type_str: str, rng: np.random.Generator
) -> np.ndarray:
    """Make a random array for an onnxruntime input description (symbolic dims become 2)."""
    concrete = [d if isinstance(d, int) else 2 for d in shape]
    dtype = _NP_TYPES[type_str]
    if dtype is np.bool_:
        return rng.random(concrete) > 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 100, size=concrete).astype(dtype)
    return rng.standard_normal(concrete).astype(dtype)


def _count_parameters(path: Path) -> int:
    """Count the elements of all initializers in the model at ``path``."""
    model = onnx.load(str(path))
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer)


def _main() -> None:
    """Build every model into a temporary folder and run it with onnxruntime on CPU."""
    import tempfile
    import time

    import onnxruntime as ort

    rng = np.random.default_rng(0)
    providers = ["CPUExecutionProvider"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, builder in ALL_BUILDERS.items():
            path = builder(root / f"{name}.onnx")
            session = ort.InferenceSession(str(path), providers=providers)
            feeds = {i.name: _random_input(i.shape, i.type, rng) for i in session.get_inputs()}
            outputs = session.run(None, feeds)  # warm-up; the timed run below is the second one
            start = time.perf_counter()
            outputs = session.run(None, feeds)
            elapsed = time.perf_counter() - start
            size_kib = path.stat().st_size / 1024
            print(f"{name}: {size_kib:.1f} KiB")
            for meta, value in zip(session.get_outputs(), outputs, strict=True):
                print(f"  {meta.name}: {value.dtype} {list(value.shape)}")
            if name == "mobilenet_v2":
                logits = outputs[0]
                std = float(np.std(logits))
                if not (np.isfinite(logits).all() and 0.1 < std < 1000):
                    raise RuntimeError(f"mobilenet_v2 logits look degenerate (std={std})")
                print(f"  parameters: {_count_parameters(path):,}")
                print(f"  logits std: {std:.4f} (finite)")
                print(f"  one run: {elapsed * 1000:.1f} ms")

        ext_dir = root / "external"
        ext_dir.mkdir()
        x = rng.standard_normal((1, 4)).astype(np.float32)
        path = build_external_data(ext_dir / "model.onnx", location="weights.bin")
        (y,) = ort.InferenceSession(str(path), providers=providers).run(None, {"x": x})
        print(f"external_data: matches x + [1, 2, 3, 4]: {np.allclose(y, x + _EXTERNAL_VALUES)}")
        path = build_external_data_in_subgraph(ext_dir / "sub.onnx", location="weights.bin")
        session = ort.InferenceSession(str(path), providers=providers)
        (y_then,) = session.run(None, {"c": np.array(True), "x": x})
        (y_else,) = session.run(None, {"c": np.array(False), "x": x})
        ok = np.allclose(y_then, x + _EXTERNAL_VALUES) and np.allclose(y_else, x)
        print(f"external_data_in_subgraph: both branches correct: {ok}")


if __name__ == "__main__":
    _main()
