"""OpenVINO backend specifics: fp32 parity with ONNX Runtime, precision, devices, options."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceRequest,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)
from edgeinfer.backends.openvino.config import compile_config, openvino_device

pytestmark = pytest.mark.backend("openvino")
ir_models = pytest.importorskip("ir_models")


@pytest.fixture(scope="module")
def mobilenet_ir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ir_models.build_mobilenet_v2_ir(tmp_path_factory.mktemp("ir") / "mobilenet_v2.xml")


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, 3, 224, 224)).astype(np.float32)


@pytest.mark.parametrize("kind", ["onnx", "ir"])
def test_fp32_matches_onnxruntime_within_1e4_relative(
    kind: str, mobilenet: Path, mobilenet_ir: Path
) -> None:
    pytest.importorskip("onnxruntime")
    x = image()
    with edgeinfer.load(mobilenet, backend="onnxruntime") as reference:
        expected = reference.run(x)["logits"]
    path = mobilenet if kind == "onnx" else mobilenet_ir
    with edgeinfer.load(path, backend="openvino", precision="fp32") as model:
        got = model.run(x)["logits"]
        assert "precision: fp32 (as asked)" in model.explain()
    relative = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert relative < 1e-4, relative


def test_default_precision_is_read_back_shown_and_warned_about(
    mobilenet_ir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="edgeinfer"),
        edgeinfer.load(mobilenet_ir, backend="openvino") as model,
    ):
        details = model._backend.details()  # type: ignore[union-attr]
    precision = details["precision"]
    assert "OpenVINO's default on this device" in precision
    lowered = precision.startswith(("bf16", "fp16"))
    warned = any("Pass precision='fp32'" in record.message for record in caplog.records)
    assert warned == lowered  # a lowered default is never silent; fp32 needs no warning


def test_bf16_where_the_cpu_offers_it(mobilenet_ir: Path) -> None:
    import openvino

    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16")
    x = image(1)
    with edgeinfer.load(mobilenet_ir, backend="openvino", precision="fp32") as full:
        expected = full.run(x)["logits"]
    with edgeinfer.load(mobilenet_ir, backend="openvino", precision="bf16") as half:
        got = half.run(x)["logits"]
        assert "precision: bf16 (as asked)" in half.explain()
    relative = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert 1e-6 < relative < 0.1, relative  # really reduced, still sane


def test_int8_needs_a_quantised_model(tmp_path: Path, one_op: Path) -> None:
    with pytest.raises(NoBackendAvailable, match="already quantised"):
        edgeinfer.load(one_op, backend="openvino", precision="int8")
    qdq = ir_models.build_qdq_relu(tmp_path / "qdq.onnx")
    with edgeinfer.load(qdq, backend="openvino", precision="int8") as model:
        x = np.linspace(-2, 2, 16, dtype=np.float32)[None]
        np.testing.assert_allclose(model.run(x)["y"], np.maximum(x, 0), atol=0.05)


def test_device_names_and_auto() -> None:
    assert openvino_device(DeviceRequest("cpu"), ["CPU"]) == "CPU"
    assert openvino_device(DeviceRequest("gpu", 1), ["CPU", "GPU.0", "GPU.1"]) == "GPU.1"
    assert openvino_device(DeviceRequest("gpu"), ["CPU", "GPU.0"]) == "GPU"
    auto = DeviceRequest("auto", choices=("gpu", "npu", "cpu"))
    assert openvino_device(auto, ["CPU", "GPU.0", "NPU"]) == "AUTO:GPU,NPU,CPU"
    assert openvino_device(auto, ["CPU"]) == "CPU"
    with pytest.raises(BackendUnavailable, match="sees no NPU") as info:
        openvino_device(DeviceRequest("npu"), ["CPU"])
    assert info.value.hint is not None


def test_missing_gpu_says_which_driver(one_op: Path) -> None:
    import openvino

    if any(name.startswith("GPU") for name in openvino.Core().available_devices):
        pytest.skip("this machine has a GPU OpenVINO can use")
    with pytest.raises(BackendUnavailable, match="sees no GPU") as info:
        edgeinfer.load(one_op, device="gpu", backend="openvino")
    assert info.value.hint is not None
    assert "intel-opencl-icd" in info.value.hint


def test_auto_reports_the_device_it_runs_on(one_op: Path) -> None:
    with edgeinfer.load(one_op, backend="openvino") as model:  # device="auto"
        assert model.device == "cpu"
        assert "executing on CPU" in model.explain()


def test_options(one_op: Path) -> None:
    config = compile_config(2, "fp16", {"config": {"NUM_STREAMS": 1}}, "CPU")
    assert config == {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": 2,
        "INFERENCE_PRECISION_HINT": "f16",
        "NUM_STREAMS": 1,
    }
    assert "INFERENCE_NUM_THREADS" not in compile_config(2, None, {}, "GPU")
    options = {"performance_hint": "THROUGHPUT", "config": {"NUM_STREAMS": 1}}
    with edgeinfer.load(one_op, backend="openvino", options=options) as model:
        assert "performance hint: THROUGHPUT" in model.explain()
    for bad, match in (
        ({"nope": 1}, "unknown openvino option"),
        ({"performance_hint": "FAST"}, "performance_hint must be"),
        ({"config": [1]}, "config must be a dict"),
    ):
        with pytest.raises(ConfigurationError, match=match):
            edgeinfer.load(one_op, backend="openvino", options=bad)


def test_ir_without_weights_is_a_model_error(mobilenet_ir: Path, tmp_path: Path) -> None:
    lonely = tmp_path / "lonely.xml"
    lonely.write_bytes(mobilenet_ir.read_bytes())
    with pytest.raises(ModelError, match=r"needs lonely\.bin beside it"):
        edgeinfer.load(lonely, backend="openvino")


def test_unsafe_onnx_external_data_is_refused_before_openvino_reads_it(tmp_path: Path) -> None:
    onnx_models = pytest.importorskip("onnx_models")
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(bytes(16))
    path = onnx_models.build_external_data(folder / "ext.onnx", location="../outside.bin")
    with pytest.raises(ModelError, match="outside the model's folder"):
        edgeinfer.load(path, backend="openvino")


def test_broken_ir_is_a_model_error(tmp_path: Path) -> None:
    xml = tmp_path / "broken.xml"
    xml.write_text('<?xml version="1.0"?>\n<net name="broken" version="11"><layers>')
    (tmp_path / "broken.bin").write_bytes(b"")
    with pytest.raises(ModelError, match=r"openvino cannot read broken\.xml"):
        edgeinfer.load(xml, backend="openvino")


def test_precision_openvino_cannot_keep_is_incompatible(one_op: Path) -> None:
    """Asking fp16 on a CPU without fp16 compute must not silently give fp32 (or vice versa)."""
    import openvino

    caps = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "FP16" in caps:
        pytest.skip("this CPU computes in fp16")
    with pytest.raises((NoBackendAvailable, ModelIncompatible), match="asked for precision fp16"):
        edgeinfer.load(one_op, backend="openvino", precision="fp16")
