"""The warm-up: generated inputs only where they are safe, sizes chosen sensibly, a memory budget,
representative inputs from the caller, and the golden output they leave for ``Model.health()``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import TensorSpec
from edgeinfer._model.warmup import GENERATED_BUDGET_BYTES, generated_inputs

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

F32 = np.dtype(np.float32)


def spec(name: str, shape: tuple[int | None, ...] | None, dtype: object = F32) -> TensorSpec:
    return TensorSpec(name, shape, np.dtype(dtype))  # type: ignore[call-overload]


def save(path: Path, nodes: list, inputs: list, outputs: list, **metadata: str) -> Path:
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    for key, text in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, text
    onnx.save(model, str(path))
    return path


# --- what is generated, and what is not --------------------------------------------------------
@pytest.mark.parametrize(
    ("specs", "why"),
    [
        ([spec("ids", (1, 8), np.int64)], "int64"),
        ([spec("mask", (1, 8), np.bool_)], "bool"),
        ([spec("x", (1, 3, 8, 8)), spec("sr", (), np.int64)], "'sr'"),
        ([spec("alpha", ())], "scalar"),
        ([spec("roi", (8,))], "tiny vector"),
        ([spec("x", (1, 8)), spec("scales", (1, 4))], "named like a parameter"),
        ([spec("iou_threshold", (1, 16))], "named like a parameter"),
        ([spec("x", None)], "no declared rank"),
        ([TensorSpec("x", (1, 4), F32, kind="sequence")], "sequence"),
    ],
)
def test_nothing_unsafe_is_generated(specs: list[TensorSpec], why: str) -> None:
    feeds, reason = generated_inputs(specs)
    assert feeds is None
    assert why in reason


def test_image_sizes_come_from_metadata_else_224_and_batch_is_1() -> None:
    image = spec("images", (None, 3, None, None))
    feeds, _ = generated_inputs([image])
    assert feeds is not None
    assert feeds["images"].shape == (1, 3, 224, 224)
    feeds, _ = generated_inputs([image], metadata={"imgsz": "[320, 640]"})
    assert feeds is not None
    assert feeds["images"].shape == (1, 3, 320, 640)
    nhwc, _ = generated_inputs([spec("x", (None, None, None, 3))])
    assert nhwc is not None
    assert nhwc["x"].shape == (1, 224, 224, 3)


def test_one_symbol_one_size_and_dtype_kept() -> None:
    specs = [spec("a", (None, None), np.float16), spec("b", (None, 7, None))]
    feeds, _ = generated_inputs(specs, names={"a": ("n", "t"), "b": ("n", None, "t")})
    assert feeds is not None
    assert feeds["a"].shape == (1, 16)
    assert feeds["b"].shape == (1, 7, 16)
    assert feeds["a"].dtype == np.float16
    assert feeds["b"].dtype == np.float32


def test_the_memory_budget_bounds_generated_inputs() -> None:
    huge = spec("x", (1, 1 << 24))  # 64 MiB of float32: an 84-byte model can declare it
    feeds, reason = generated_inputs([huge])
    assert feeds is None
    assert f"budget is {GENERATED_BUDGET_BYTES >> 20} MiB" in reason


# --- through load() ----------------------------------------------------------------------------
def test_a_dynamic_image_model_warms_up_at_a_size_its_strides_take(tmp_path: Path) -> None:
    # A strided conv then a concat with a 1/32-size branch: 1x1 images cannot pass, 224 can.
    path = save(
        tmp_path / "strided.onnx",
        [
            helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[32, 32], strides=[32, 32]),
            helper.make_node("Resize", ["p", "", "s"], ["u"], mode="nearest"),
            helper.make_node("Add", ["u", "x"], ["y"]),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "h", "w"])],
    )
    model_proto = onnx.load(str(path))
    model_proto.graph.initializer.append(
        helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0, 1.0, 32.0, 32.0])
    )
    onnx.save(model_proto, str(path))
    with edgeinfer.load(path, backend="onnxruntime") as model:
        assert any("generated float inputs (x [1, 3, 224, 224])" in n for n in model.notes)
        assert model.health().golden == "passed"


def test_int_inputs_skip_the_warm_up_and_health_says_so(tmp_path: Path) -> None:
    path = save(
        tmp_path / "mod.onnx",
        [helper.make_node("Mod", ["a", "b"], ["y"])],
        [
            helper.make_tensor_value_info("a", TensorProto.INT64, [4]),
            helper.make_tensor_value_info("b", TensorProto.INT64, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [4])],
    )
    with edgeinfer.load(path, backend="onnxruntime") as model:
        assert model.notes[0].startswith("warm-up skipped: input 'a' is int64")
        health = model.health()
        assert health.golden.startswith("not recorded")
        assert health.status == "ok"
        a, b = np.arange(1, 5), np.array([3, 3, 3, 3])
        np.testing.assert_array_equal(model.run([a, b])["y"], a % b)
    # Representative inputs given by the caller warm it up and become the golden output.
    inputs = {"a": np.arange(1, 5), "b": np.full(4, 2)}
    with edgeinfer.load(path, backend="onnxruntime", warmup_inputs=inputs) as model:
        assert "your warmup_inputs" in model.notes[0]
        assert model.health().golden == "passed"
        assert model.profile(5).count == 5  # profile() reuses them


def test_a_huge_declared_input_loads_without_a_huge_warm_up(tmp_path: Path) -> None:
    path = save(
        tmp_path / "huge.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1 << 26])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1 << 26])],
    )
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent (pytest,
    # hundreds of MB by now) across fork and exec.
    code = (
        "import edgeinfer\n"
        f"m = edgeinfer.load({str(path)!r}, backend='onnxruntime')\n"
        "print(m.notes[0])\n"
        "print(next(int(line.split()[1]) for line in open('/proc/self/status')\n"
        "           if line.startswith('VmHWM:')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    note, peak_kib = out.stdout.strip().splitlines()
    assert "generated inputs would take 256 MiB" in note
    assert int(peak_kib) < 200 * 1024, out.stdout  # the 256 MiB input was never built


def test_warmup_zero_records_nothing(tmp_path: Path) -> None:
    path = save(
        tmp_path / "relu.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    with edgeinfer.load(path, backend="onnxruntime", warmup=0) as model:
        assert model.notes == ("no warm-up (warmup=0): no golden output for Model.health()",)
        assert model.stats().warmup == ()
