"""What real models and a fuzzer found: container types, anonymous and unknown dimensions, names,
absurd files, memory exhaustion, close() racing calls, and a history that stays bounded."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import InvalidInput, ModelError, ModelIncompatible, OutOfMemory
from edgeinfer._model.chain import HISTORY_LIMIT
from edgeinfer.backend import ErrorRule, InferenceError, translated
from fake_backend import make_fake, register

pytestmark = pytest.mark.usefixtures("clean_registry")

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def save(path: Path, nodes: list, inputs: list, outputs: list, opset: int = 17) -> Path:
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def tensor(name: str, elem: int, shape: list | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


# --- container types ---------------------------------------------------------------------------
def _sequence_model(tmp_path: Path) -> Path:
    seq = helper.make_tensor_sequence_value_info("seq", FLOAT, [2])
    return save(
        tmp_path / "seq.onnx",
        [
            helper.make_node("SequenceInsert", ["seq", "x"], ["grown"]),
            helper.make_node("SequenceLength", ["grown"], ["n"]),
        ],
        [seq, tensor("x", FLOAT, [2])],
        [helper.make_tensor_sequence_value_info("grown", FLOAT, [2]), tensor("n", INT64, [])],
    )


@pytest.mark.backend("onnxruntime")
def test_sequences_in_and_out_on_onnxruntime(tmp_path: Path) -> None:
    with edgeinfer.load(_sequence_model(tmp_path), backend="onnxruntime") as model:
        seq_spec = model.inputs[0]
        assert (seq_spec.name, seq_spec.kind, seq_spec.dtype) == ("seq", "sequence", np.float32)
        assert str(seq_spec) == "seq: sequence of float32?"
        assert model.outputs[1].shape == ()  # a scalar stays a scalar
        a, b = np.ones(2, np.float32), np.zeros(2, np.float32)
        out = model.run({"seq": [a], "x": b})
        assert isinstance(out["grown"], list)
        np.testing.assert_array_equal(out["grown"][1], b)
        assert int(out["n"]) == 2
        with pytest.raises(InvalidInput, match="list of arrays"):
            model.run({"seq": a, "x": b})
        with pytest.raises(InvalidInput, match="'seq'"):
            model.run({"seq": [a.astype(np.int64)], "x": b})


@pytest.mark.backend("onnxruntime")
def test_optional_none_on_onnxruntime(tmp_path: Path) -> None:
    optional = helper.make_value_info(
        "o", helper.make_optional_type_proto(helper.make_tensor_type_proto(FLOAT, [2]))
    )
    path = save(
        tmp_path / "optional.onnx",
        [helper.make_node("OptionalHasElement", ["o"], ["has"])],
        [optional],
        [tensor("has", TensorProto.BOOL, [])],
        opset=18,
    )
    with edgeinfer.load(path, backend="onnxruntime") as model:
        assert model.inputs[0].kind == "optional"
        assert bool(model.run({"o": None})["has"]) is False
        assert bool(model.run({"o": np.ones(2, np.float32)})["has"]) is True


@pytest.mark.backend("openvino")
def test_sequences_elsewhere_are_a_clear_model_incompatible(tmp_path: Path) -> None:
    with pytest.raises(ModelIncompatible, match="openvino"):
        edgeinfer.load(_sequence_model(tmp_path), backend="openvino", fallback=False)


# --- dimensions --------------------------------------------------------------------------------
@pytest.mark.backend("onnxruntime")
def test_anonymous_dimensions_are_independent(tmp_path: Path) -> None:
    path = save(
        tmp_path / "anon.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [tensor("x", FLOAT, [None, 3, "?", "?"])],
        [tensor("y", FLOAT, [None, 3, "?", "?"])],
    )
    with edgeinfer.load(path, backend="onnxruntime") as model:
        assert model.run(np.ones((1, 3, 48, 192), np.float32))["y"].shape == (1, 3, 48, 192)


@pytest.mark.backend("onnxruntime")
def test_unknown_rank_is_not_a_scalar(tmp_path: Path) -> None:
    path = save(
        tmp_path / "norank.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [tensor("x", FLOAT, None)],
        [tensor("y", FLOAT, None)],
    )
    with edgeinfer.load(path, backend="onnxruntime") as model:
        assert model.inputs[0].shape is None
        assert model.run(-np.ones((1, 3), np.float32))["y"].shape == (1, 3)


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("openvino")
def test_one_file_one_set_of_names_across_a_fallback(tmp_path: Path) -> None:
    # Identity chains make OpenVINO merge tensor names; the ports must still read x and y.
    path = save(
        tmp_path / "ids.onnx",
        [
            helper.make_node("Identity", ["x"], ["t"]),
            helper.make_node("Relu", ["t"], ["u"]),
            helper.make_node("Identity", ["u"], ["y"]),
        ],
        [tensor("x", FLOAT, [1, 4])],
        [tensor("y", FLOAT, [1, 4])],
    )
    x = -np.arange(4, dtype=np.float32).reshape(1, 4)
    for backend in ("onnxruntime", "openvino"):
        with edgeinfer.load(path, backend=backend, precision="fp32") as model:
            assert [s.name for s in model.inputs + model.outputs] == ["x", "y"]
            assert list(model.run(x)) == ["y"]


@pytest.mark.backend("openvino")
def test_openvino_takes_read_only_scalars(tmp_path: Path) -> None:
    path = save(
        tmp_path / "scale.onnx",
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        [tensor("x", FLOAT, [2]), tensor("k", FLOAT, [])],
        [tensor("y", FLOAT, [2])],
    )
    k = np.array(3.0, np.float32)
    k.flags.writeable = False
    with edgeinfer.load(path, backend="openvino", precision="fp32") as model:
        assert model.inputs[1].shape == ()
        np.testing.assert_array_equal(model.run([np.ones(2, np.float32), k])["y"], [3, 3])


# --- absurd files, memory ----------------------------------------------------------------------
def test_an_absurd_opset_is_refused_before_any_runtime(tmp_path: Path) -> None:
    path = save(
        tmp_path / "opset.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [tensor("x", FLOAT, [1])],
        [tensor("y", FLOAT, [1])],
        opset=2**40,
    )
    started = time.perf_counter()
    with pytest.raises(ModelError, match="opset version 1099511627776"):
        edgeinfer.load(path)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("native", "rules"),
    [
        (MemoryError(), ()),
        (RuntimeError("std::bad_alloc"), ()),
        (RuntimeError("CUDA failure 2: out of memory"), ()),
        (RuntimeError("Failed to allocate memory for requested buffer"), ()),
        (RuntimeError("std::bad_alloc"), (ErrorRule(edgeinfer.DeviceError),)),  # OOM first
    ],
)
def test_memory_exhaustion_is_reported_as_what_it_is(
    native: BaseException, rules: tuple[ErrorRule, ...]
) -> None:
    error = translated(native, "myruntime failed to run m.onnx", rules)
    assert isinstance(error, OutOfMemory)
    assert isinstance(error, MemoryError)
    assert isinstance(error, InferenceError)  # so the chain moves to a candidate needing less
    assert "memory" in str(error).lower()
    assert error.__cause__ is native


# --- close() and history -----------------------------------------------------------------------
def test_close_is_final_for_every_thread(tmp_path: Path) -> None:
    first, second = make_fake("first"), make_fake("second")
    register(first, second)
    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"\x08\x08\x3a\x00")
    model = edgeinfer.load(model_file, backend=["first", "second"], warmup=0)
    gate, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    x = np.ones((1, 4), np.float32)

    def call() -> None:
        gate.wait()
        for _ in range(200):
            try:
                model.run(x)
            except BaseException as error:
                errors.append(error)
                break
        done.set()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    model.close()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(e, edgeinfer.InferenceError) for e in errors), errors
    assert all("closed" in str(e) for e in errors)
    assert second.opened == []  # no candidate opened after, or because of, close()
    with pytest.raises(edgeinfer.InferenceError, match="closed"):
        model.run(x)
    model.close()


def test_history_is_bounded_and_counts_keep_the_totals(tmp_path: Path) -> None:
    register(
        make_fake(
            "first", factor=2.0, fail=lambda n: edgeinfer.DeviceError("usb") if n % 2 else None
        ),
        make_fake("second", factor=3.0),
    )
    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"\x08\x08\x3a\x00")
    policy = edgeinfer.FallbackPolicy(threshold=1000, cooldown=0.0)
    with edgeinfer.load(
        model_file, backend=["first", "second"], warmup=0, fallback=policy
    ) as model:
        for _ in range(2 * HISTORY_LIMIT + 10):
            model.run(np.ones((1, 4), np.float32))
        assert len(model.history) == HISTORY_LIMIT
        assert model.event_counts["fallback"] == HISTORY_LIMIT + 5
        assert f"the last {HISTORY_LIMIT} of {HISTORY_LIMIT + 5}" in model.explain()
