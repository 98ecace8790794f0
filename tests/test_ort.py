"""ONNX Runtime backend specifics: providers, options, error translation, untrusted files."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)

pytestmark = pytest.mark.backend("onnxruntime")
onnx = pytest.importorskip("onnx")
helper = onnx.helper


def save_graph(
    path: Path,
    nodes: list,
    inputs: list,
    outputs: list,
    *,
    opset: int = 17,
    domains: tuple[str, ...] = (),
) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def value(name: str, elem: int, shape: list | None) -> object:
    return helper.make_tensor_value_info(name, elem, shape)


FLOAT, INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64


def test_shared_dynamic_dimension_mismatch_is_invalid_input(tmp_path: Path) -> None:
    path = save_graph(
        tmp_path / "add.onnx",
        [helper.make_node("Add", ["a", "b"], ["y"])],
        [value("a", FLOAT, ["n"]), value("b", FLOAT, ["n"])],
        [value("y", FLOAT, ["n"])],
    )
    with edgeinfer.load(path, backend="onnxruntime", warmup=0) as model:
        np.testing.assert_array_equal(model.run([np.ones(3, np.float32)] * 2)["y"], [2, 2, 2])
        with pytest.raises(InvalidInput, match="dynamic dimension 'n' must have one size"):
            model.run([np.ones(3, np.float32), np.ones(2, np.float32)])


def test_failure_while_running_is_inference_error_with_native_cause(tmp_path: Path) -> None:
    path = save_graph(
        tmp_path / "reshape.onnx",
        [helper.make_node("Reshape", ["x", "s"], ["y"])],
        [value("x", FLOAT, [4]), value("s", INT64, [2])],
        [value("y", FLOAT, None)],
    )
    bad = [np.zeros(4, np.float32), np.array([3, 3])]
    with edgeinfer.load(path, backend="onnxruntime", warmup=0, fallback=False) as model:
        np.testing.assert_array_equal(
            model.run([np.arange(4, dtype=np.float32), np.array([2, 2])])["y"], [[0, 1], [2, 3]]
        )
        with pytest.raises(InferenceError, match="cannot be reshaped") as info:
            model.run(bad)
    assert info.value.__cause__ is not None
    assert type(info.value.__cause__).__module__.startswith("onnxruntime")
    # With fallback on, a call that every candidate fails is blamed on its input: InvalidInput,
    # the runtime's error chained, nobody demoted.
    with edgeinfer.load(path, backend="onnxruntime", warmup=0) as model:
        with pytest.raises(edgeinfer.InvalidInput, match="cannot be reshaped") as refused:
            model.run(bad)
        assert isinstance(refused.value.__cause__, InferenceError)
        assert model.backend == "onnxruntime"
        assert model.candidates[0].failures == 0
        assert model.event_counts == {"input-refused": 1}


def test_op_this_build_lacks_is_model_incompatible(tmp_path: Path) -> None:
    path = save_graph(
        tmp_path / "custom.onnx",
        [helper.make_node("Foo", ["x"], ["y"], domain="com.example")],
        [value("x", FLOAT, [1])],
        [value("y", FLOAT, [1])],
        domains=("com.example",),
    )
    with pytest.raises(NoBackendAvailable) as info:
        edgeinfer.load(path, backend="onnxruntime")
    assert info.value.attempts[0].error == "ModelIncompatible"
    assert "not a registered function/op" in info.value.attempts[0].reason


def test_invalid_graph_is_model_error_with_runtime_message_chained(tmp_path: Path) -> None:
    path = save_graph(
        tmp_path / "bad.onnx",
        [helper.make_node("NotARealOp", ["x"], ["y"])],
        [value("x", FLOAT, [1])],
        [value("y", FLOAT, [1])],
    )
    with pytest.raises(ModelError, match="NotARealOp") as info:
        edgeinfer.load(path, backend="onnxruntime")
    assert not isinstance(info.value, ModelIncompatible)
    assert "INVALID_GRAPH" in str(info.value.__cause__)


def test_dropped_accelerator_provider_fails_the_candidate(
    one_op: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime lists CUDA but the session silently runs on the CPU: that must not pass."""
    import onnxruntime

    monkeypatch.setattr(
        onnxruntime,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    with (
        pytest.warns(UserWarning, match="CUDAExecutionProvider"),
        pytest.raises(DeviceError, match="without CUDAExecutionProvider"),
    ):
        edgeinfer.load(one_op, device="gpu", backend="onnxruntime", fallback=False)


def test_gpu_without_provider_is_backend_unavailable_with_hint(one_op: Path) -> None:
    import onnxruntime

    if set(onnxruntime.get_available_providers()) & {
        "CUDAExecutionProvider",
        "DmlExecutionProvider",
    }:
        pytest.skip("this onnxruntime build has a GPU provider")
    with pytest.raises(BackendUnavailable, match="no execution provider for gpu") as info:
        edgeinfer.load(one_op, device="gpu")
    assert info.value.hint is not None
    assert "onnxruntime-gpu" in info.value.hint


def test_auto_on_this_machine_opens_on_cpu_and_explains(mobilenet: Path) -> None:
    with edgeinfer.load(mobilenet) as model:
        assert model.backend == "onnxruntime"
        text = model.explain()
    assert "providers: " in text
    assert model.attempts[-1].ok


def test_threads_and_session_options_reach_the_session(one_op: Path) -> None:
    options = {
        "session_options": {"inter_op_num_threads": 1, "enable_mem_pattern": False},
        "session_config": {"session.intra_op.allow_spinning": "0"},
    }
    with edgeinfer.load(one_op, backend="onnxruntime", threads=2, options=options) as model:
        session = model._backend._session  # type: ignore[union-attr]
        applied = session.get_session_options()
        assert applied.intra_op_num_threads == 2
        assert applied.enable_mem_pattern is False
        assert applied.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        assert "threads: 2" in model.explain()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"nope": 1}, "unknown onnxruntime option"),
        ({"session_options": {"not_an_attribute": 1}}, "no setting 'not_an_attribute'"),
        ({"session_options": {"add_provider": 1}}, "no setting 'add_provider'"),
        ({"session_options": {"graph_optimization_level": "fastest"}}, "ORT_ENABLE_ALL"),
        ({"providers": ["CPUExecutionProvider"]}, None),
        ({"providers": ["AzureExecutionProvider"]}, None),
        ({"session_options": {"intra_op_num_threads": "many"}}, "intra_op_num_threads"),
    ],
)
def test_bad_options_are_configuration_errors(
    one_op: Path, options: dict, match: str | None
) -> None:
    if match is None:  # a provider list is only for accelerators: on the CPU it is ignored
        with edgeinfer.load(one_op, backend="onnxruntime", device="cpu", options=options) as m:
            assert "CPUExecutionProvider" in m.explain()
        return
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(one_op, backend="onnxruntime", options=options)


def test_providers_option_cannot_move_an_accelerator_to_another_device(one_op: Path) -> None:
    with pytest.raises(ConfigurationError, match="do not serve gpu"):
        edgeinfer.load(
            one_op,
            device="gpu",
            backend="onnxruntime",
            options={"providers": ["AzureExecutionProvider"]},
        )
    with pytest.raises(ConfigurationError, match="do not serve npu"):
        edgeinfer.load(
            one_op,
            device="npu",
            backend="onnxruntime",
            options={"providers": ["CUDAExecutionProvider"]},
        )


@pytest.mark.parametrize("level", ["ORT_ENABLE_BASIC", 1, 99])
def test_enum_session_options_take_names_or_ints(one_op: Path, level: object) -> None:
    options = {"session_options": {"graph_optimization_level": level}}
    with edgeinfer.load(one_op, backend="onnxruntime", options=options) as model:
        applied = model._backend._session.get_session_options()  # type: ignore[union-attr]
        expected = level if isinstance(level, int) else 1
        assert int(applied.graph_optimization_level) == expected


def test_no_backend_for_the_device_is_no_backend_available(one_op: Path) -> None:
    with pytest.raises(
        NoBackendAvailable, match="no installed backend runs onnx models on edgetpu"
    ):
        edgeinfer.load(one_op, device="edgetpu")


def test_precision_onnxruntime_cannot_give_is_a_failed_candidate(one_op: Path) -> None:
    with pytest.raises(NoBackendAvailable, match="cannot convert to fp16"):
        edgeinfer.load(one_op, backend="onnxruntime", precision="fp16")
    with edgeinfer.load(one_op, backend="onnxruntime", precision="fp32") as model:
        assert model.backend == "onnxruntime"


def test_missing_onnxruntime_gives_the_pip_hint(
    one_op: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.backends.onnxruntime import backend as ort

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    ort._availability.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match="onnxruntime is not installed") as info:
            edgeinfer.load(one_op, backend="onnxruntime")
        assert info.value.hint == "pip install onnxruntime (what edgeinfer's 'onnx' extra installs)"
    finally:
        ort._availability.cache_clear()


# --- untrusted files ------------------------------------------------------------------------


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        edgeinfer.load(tmp_path / "nope.onnx")


@pytest.mark.parametrize("kind", ["empty", "truncated", "random", "text"])
def test_broken_files_are_model_errors(kind: str, mobilenet: Path, tmp_path: Path) -> None:
    data = mobilenet.read_bytes()
    content = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "random": random.Random(0).randbytes(4096),
        "text": b"this is not a model\n" * 10,
    }[kind]
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        edgeinfer.load(path)
    assert "model.onnx" in str(info.value)


def test_runtime_rejection_after_scan_keeps_runtime_message(tmp_path: Path) -> None:
    path = tmp_path / "hollow.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")  # ir_version 8 and an empty graph: no opset import
    with pytest.raises(ModelError) as info:
        edgeinfer.load(path, backend="onnxruntime")
    assert info.value.__cause__ is not None
    assert "ONNXRuntimeError" in str(info.value.__cause__)


def test_other_format_named_onnx_is_recognised_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    with pytest.raises((ModelError, NoBackendAvailable)) as info:  # litert's, not onnxruntime's
        edgeinfer.load(path)
    assert all(a.backend != "onnxruntime" for a in info.value.attempts)  # type: ignore[union-attr]


def test_mutated_models_load_or_raise_model_errors(multi_io: Path, tmp_path: Path) -> None:
    """Flip bytes of a real model: load works or raises a typed edgeinfer error, never worse."""
    data = multi_io.read_bytes()
    rng = random.Random(1)
    outcomes: dict[str, int] = {}
    for trial in range(60):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        path = tmp_path / f"m{trial}.onnx"
        path.write_bytes(bytes(mutated))
        try:
            edgeinfer.load(path, backend="onnxruntime").close()
            outcome = "opened"
        except (ModelError, NoBackendAvailable) as error:
            outcome = type(error).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("ModelError", 0) > 0, outcomes


@pytest.mark.hardware
def test_gpu_provider_runs_mobilenet_like_the_cpu(mobilenet: Path) -> None:
    """Where a GPU and a GPU-enabled onnxruntime exist, the GPU result matches the CPU's."""
    import onnxruntime

    from edgeinfer.backends.onnxruntime.config import PROVIDERS_BY_DEVICE

    providers = set(onnxruntime.get_available_providers()) & set(PROVIDERS_BY_DEVICE["gpu"])
    gpus = [d for d in edgeinfer.devices() if d.kind == "gpu"]
    if not providers or not gpus:
        pytest.skip(
            f"needs a GPU ({len(gpus)} found) and a GPU execution provider (this build "
            f"has {', '.join(onnxruntime.get_available_providers())})"
        )
    image = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with edgeinfer.load(mobilenet, device="gpu", backend="onnxruntime") as gpu:
        assert gpu.device.startswith("gpu")
        on_gpu = gpu.run(image)["logits"]
    with edgeinfer.load(mobilenet, device="cpu", backend="onnxruntime") as cpu:
        on_cpu = cpu.run(image)["logits"]
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-2, atol=1e-2)


def test_provider_choice_table() -> None:
    """The device -> provider mapping, on compiled-in lists of real onnxruntime builds."""
    from edgeinfer import DeviceRequest
    from edgeinfer.backends.onnxruntime.config import choose_providers

    cuda_build = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(cuda_build, DeviceRequest("gpu", 1), {}) == [
        ("CUDAExecutionProvider", {"device_id": "1"}),
        ("CPUExecutionProvider", {}),
    ]
    trt = choose_providers(
        cuda_build, DeviceRequest("gpu", 1), {"providers": ["TensorrtExecutionProvider"]}
    )
    assert trt == [
        ("TensorrtExecutionProvider", {"device_id": "1"}),
        ("CUDAExecutionProvider", {"device_id": "1"}),
        ("CPUExecutionProvider", {}),
    ]
    openvino_build = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(openvino_build, DeviceRequest("npu"), {})[0] == (
        "OpenVINOExecutionProvider",
        {"device_type": "NPU"},
    )
    assert choose_providers(cuda_build, DeviceRequest("cpu"), {"providers": ["X"]}) == [
        ("CPUExecutionProvider", {})
    ]
    with pytest.raises(ConfigurationError, match="list of names"):
        choose_providers(cuda_build, DeviceRequest("gpu"), {"providers": "CUDAExecutionProvider"})


# --- what the models compute ---------------------------------------------------------------


def test_relu_matches_numpy(one_op: Path) -> None:
    with edgeinfer.load(one_op, backend="onnxruntime") as model:
        x = np.linspace(-4, 4, 16, dtype=np.float32).reshape(1, 16)
        np.testing.assert_array_equal(model.run(x)["y"], np.maximum(x, 0))


def test_mixed_dtype_model_computes_what_it_says(multi_io: Path) -> None:
    with edgeinfer.load(multi_io, backend="onnxruntime") as model:
        image = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
        mask = np.array([[True, False, True, False]])
        ids = np.array([[5, 6, 7, 8]], dtype=np.int64)
        scale = np.array([1.5], dtype=np.float16)
        out = model.run({"image": image, "mask": mask, "ids": ids, "scale": scale})
    np.testing.assert_allclose(out["pooled"], image.mean(axis=(2, 3)))
    np.testing.assert_array_equal(out["masked_ids"], [[5, 0, 7, 0]])
    np.testing.assert_array_equal(out["scaled"], np.array([3.0], np.float16))
    np.testing.assert_array_equal(out["any_set"], [True])


def test_dynamic_batch_rows_match_single_runs(dynamic_batch: Path) -> None:
    with edgeinfer.load(dynamic_batch, backend="onnxruntime") as model:
        assert model.inputs[0].shape == (None, 8)
        batch = np.random.default_rng(5).standard_normal((3, 8)).astype(np.float32)
        together = model.run(batch)["y"]
        assert together.shape == (3, 4)
        for row in range(3):
            alone = model.run(batch[row : row + 1])["y"]
            np.testing.assert_allclose(together[row : row + 1], alone, rtol=1e-5, atol=1e-6)
