"""NCNN backend: the contract, parity with ONNX Runtime on the same weights, precision made
visible, the batch dimension, devices and errors. The NCNN networks are written by code
(``runtime_models``), from the same weights as the ONNX workloads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._planning import formats, sources
from edgeinfer.backends.ncnn import backend as ncnn_backend
from edgeinfer.backends.ncnn.param import read_param
from edgeinfer.testing import BackendContract
from runtime_models import build_ncnn, workload_onnx

pytestmark = pytest.mark.backend("ncnn")


class TestNcnnContract(BackendContract):
    backend = "ncnn"

    @pytest.fixture(params=["ds_cnn", "two_in_two_out"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return build_ncnn(request.param, model_dir)


@pytest.mark.parametrize(
    ("name", "shape"), [("ds_cnn", (1, 1, 49, 10)), ("mobilenet_v2", (1, 3, 224, 224))]
)
def test_fp32_matches_onnxruntime_on_the_same_weights(
    name: str, shape: tuple[int, ...], model_dir: Path
) -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    with edgeinfer.load(workload_onnx(name, model_dir), backend="onnxruntime") as reference:
        expected = [reference.run(x)["logits"] for x in inputs]
    with edgeinfer.load(build_ncnn(name, model_dir), backend="ncnn", precision="fp32") as model:
        assert model.inputs[0].shape == shape
        got = [model.run(x)["logits"] for x in inputs]
        assert "fp32" in model.details["precision"]
    for want, have in zip(expected, got, strict=True):
        assert have.shape == want.shape
        np.testing.assert_allclose(have, want, atol=1e-4, rtol=1e-4)


def test_ncnn_default_precision_is_fp16_and_says_so(model_dir: Path) -> None:
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with edgeinfer.load(workload_onnx("mobilenet_v2", model_dir), backend="onnxruntime") as ref:
        expected = ref.run(x)["logits"]
    with edgeinfer.load(build_ncnn("mobilenet_v2", model_dir), backend="ncnn") as model:
        got = model.run(x)["logits"]
        precision = model.details["precision"]
        assert "fp16" in precision
        assert "NCNN's default" in precision
        assert "precision: fp16" in model.explain()
    error = float(np.abs(got - expected).max())
    assert error < 5e-2  # about 5e-3 measured on x86-64: fp16 storage, not a broken network
    assert np.argmax(got) == np.argmax(expected)


def test_the_batch_dimension_is_a_leading_one(model_dir: Path) -> None:
    with edgeinfer.load(build_ncnn("two_in_two_out", model_dir), backend="ncnn") as model:
        assert [s.shape for s in model.inputs] == [(1, 2, 3, 4), (1, 2, 3, 4)]
        assert [s.name for s in model.outputs] == ["sum", "relu"]
        a = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4) - 12
        b = np.ones((1, 2, 3, 4), np.float32)
        result = model.run({"a": a, "b": b})
        np.testing.assert_array_equal(result["sum"], a + b)
        np.testing.assert_array_equal(result["relu"], np.maximum(a, 0))
        with pytest.raises(InvalidInput, match="'a'"):
            model.run({"a": np.zeros((2, 2, 3, 4), np.float32), "b": b})


def test_param_reading(model_dir: Path) -> None:
    facts = read_param(build_ncnn("two_in_two_out", model_dir))
    assert facts.inputs == (("a", (2, 3, 4)), ("b", (2, 3, 4)))
    assert facts.outputs == ("sum", "relu")
    assert not facts.int8


def test_an_input_without_a_shape_has_unknown_rank(tmp_path: Path) -> None:
    param = tmp_path / "relu.param"
    param.write_text("7767517\n2 2\nInput in0 0 1 in0\nReLU relu 1 1 in0 out0\n")
    param.with_suffix(".bin").write_bytes(b"")
    with edgeinfer.load(param, backend="ncnn", warmup=0) as model:
        assert model.inputs[0].shape is None
        assert model.outputs[0].shape is None
        x = np.array([[-1.0, 2.0, -3.0]], np.float32)
        np.testing.assert_array_equal(model.run(x)["out0"], np.maximum(x, 0))


def test_threads_and_options_reach_ncnn(model_dir: Path) -> None:
    options = {"ncnn": {"net_options": {"use_winograd_convolution": False}}}
    with edgeinfer.load(
        build_ncnn("ds_cnn", model_dir), backend="ncnn", threads=1, options=options
    ) as m:
        assert m.details["threads"].startswith("1, OpenMP dynamic")
    with pytest.raises(ConfigurationError, match="no setting"):
        edgeinfer.load(build_ncnn("ds_cnn", model_dir), backend="ncnn",
                       options={"ncnn": {"net_options": {"frobnicate": 1}}})  # fmt: skip
    with pytest.raises(ConfigurationError, match="unknown ncnn option"):
        edgeinfer.load(build_ncnn("ds_cnn", model_dir), backend="ncnn", options={"ncnn": {"x": 1}})


def test_int8_needs_an_int8_model(model_dir: Path) -> None:
    with pytest.raises(ModelIncompatible, match="ncnn2int8"):
        edgeinfer.load(build_ncnn("ds_cnn", model_dir), backend="ncnn", precision="int8",
                       fallback=False)  # fmt: skip


def test_bad_files_are_model_errors(tmp_path: Path, model_dir: Path) -> None:
    not_param = tmp_path / "x.param"
    not_param.write_text("hello\n")
    not_param.with_suffix(".bin").write_bytes(b"")
    with pytest.raises(ModelError, match="7767517"):
        edgeinfer.load(not_param, backend="ncnn", fallback=False)
    lonely = tmp_path / "lonely.param"
    lonely.write_text(build_ncnn("ds_cnn", model_dir).read_text())
    with pytest.raises(ModelError, match=r"lonely\.bin"):
        edgeinfer.load(lonely, backend="ncnn")
    short = tmp_path / "short.param"
    short.write_text(build_ncnn("ds_cnn", model_dir).read_text())
    short.with_suffix(".bin").write_bytes(b"\x00" * 64)  # weights cut short
    with pytest.raises(ModelError, match="load_model"):
        edgeinfer.load(short, backend="ncnn", fallback=False)


def test_the_gpu_is_used_only_where_vulkan_finds_one(model_dir: Path) -> None:
    import ncnn

    count = ncnn.get_gpu_count() if hasattr(ncnn, "get_gpu_count") else 0
    path = build_ncnn("ds_cnn", model_dir)
    if count:
        pytest.skip(f"this machine has {count} Vulkan GPU(s); see the hardware test")
    with pytest.raises((DeviceError, BackendUnavailable), match="Vulkan"):
        edgeinfer.load(path, device="gpu", backend="ncnn", fallback=False)


@pytest.mark.hardware
def test_runs_on_a_vulkan_gpu(model_dir: Path) -> None:
    import ncnn

    if not hasattr(ncnn, "get_gpu_count") or ncnn.get_gpu_count() == 0:
        pytest.skip("no Vulkan GPU that NCNN can use here")
    x = np.random.default_rng(2).standard_normal((1, 1, 49, 10)).astype(np.float32)
    path = build_ncnn("ds_cnn", model_dir)
    with edgeinfer.load(path, device="gpu", backend="ncnn", precision="fp32") as gpu:
        assert gpu.device.startswith("gpu")
        got = gpu.run(x)["logits"]
    with edgeinfer.load(path, device="cpu", backend="ncnn", precision="fp32") as cpu:
        np.testing.assert_allclose(got, cpu.run(x)["logits"], atol=1e-2)


def test_a_folder_prefers_ncnn_on_arm_and_onnx_elsewhere(tmp_path: Path, model_dir: Path) -> None:
    folder = tmp_path / "variants"
    folder.mkdir()
    source = build_ncnn("ds_cnn", model_dir)
    (folder / "model.param").write_text(source.read_text())
    (folder / "model.bin").write_bytes(source.with_suffix(".bin").read_bytes())
    (folder / "model.onnx").write_bytes(workload_onnx("ds_cnn", model_dir).read_bytes())
    order = [fmt for _, fmt in sources.resolve_model_files(folder)]
    expected = ["ncnn", "onnx"] if formats._ARM else ["onnx", "ncnn"]
    assert order == expected


def test_not_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ncnn" else real(n, *a)
    )
    ncnn_backend._availability.cache_clear()
    try:
        found = ncnn_backend.NcnnBackend.availability()
        assert not found.available
        assert found.hint == "pip install ncnn (what edgeinfer's 'ncnn' extra installs)"
    finally:
        ncnn_backend._availability.cache_clear()


def test_same_results_as_ncnn_called_directly(model_dir: Path) -> None:
    import ncnn

    path = build_ncnn("mobilenet_v2", model_dir)
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    net = ncnn.Net()
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.num_threads = 1
    assert net.load_param(str(path)) == 0
    assert net.load_model(str(path.with_suffix(".bin"))) == 0
    extractor = net.create_extractor()
    extractor.input("input", ncnn.Mat(np.ascontiguousarray(x[0])).clone())
    status, out = extractor.extract("logits")
    assert status == 0
    with edgeinfer.load(path, backend="ncnn", precision="fp32", threads=1) as model:
        np.testing.assert_array_equal(model.run(x)["logits"], np.array(out)[np.newaxis])
