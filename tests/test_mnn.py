"""MNN backend: the contract on models converted from ONNX with MNN's own converter at test
time, parity with ONNX Runtime on the same weights, precision modes, the GPU request MNN would
run on the CPU refused, errors, and MNN's printf kept off the user's stdout."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, ConfigurationError, ModelError, ModelIncompatible
from edgeinfer.backends.mnn import backend as mnn_backend
from edgeinfer.testing import BackendContract
from runtime_models import build_mnn, workload_onnx

pytestmark = pytest.mark.backend("mnn")


class TestMnnContract(BackendContract):
    backend = "mnn"

    @pytest.fixture(params=["one_op", "ds_cnn", "multi_io"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return build_mnn(request.param, model_dir)


@pytest.mark.parametrize(
    ("name", "shape"), [("ds_cnn", (1, 1, 49, 10)), ("mobilenet_v2", (1, 3, 224, 224))]
)
@pytest.mark.parametrize("precision", [None, "fp32"])
def test_matches_onnxruntime_on_the_same_weights(
    name: str, shape: tuple[int, ...], precision: str | None, model_dir: Path
) -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    with edgeinfer.load(workload_onnx(name, model_dir), backend="onnxruntime") as reference:
        expected = [reference.run(x)["logits"] for x in inputs]
    path = build_mnn(name, model_dir)
    with edgeinfer.load(path, backend="mnn", precision=precision, threads=1) as model:
        got = [model.run(x)["logits"] for x in inputs]
        mode = "high" if precision == "fp32" else "normal"
        assert model.details["precision"].startswith(mode)
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-4, rtol=1e-4)


def test_specs_are_mnns_view(model_dir: Path) -> None:
    """mnnconvert turns ONNX int64 and bool tensors into int32 and float16 into float32; the
    specs say what MNN takes, so the inputs are checked against that."""
    with edgeinfer.load(build_mnn("multi_io", model_dir), backend="mnn") as model:
        dtypes = {spec.name: spec.dtype for spec in model.inputs}
        assert dtypes == {
            "ids": np.dtype(np.int32),
            "image": np.dtype(np.float32),
            "mask": np.dtype(np.int32),
            "scale": np.dtype(np.float32),
        }


def test_precision_options(model_dir: Path) -> None:
    path = build_mnn("ds_cnn", model_dir)
    for mode in ("low", "normal", "high", "low_bf16"):
        options = {"mnn": {"precision_mode": mode}}
        with edgeinfer.load(path, backend="mnn", options=options) as model:
            assert model.details["precision"].startswith(mode)
    with pytest.raises(ConfigurationError, match="not both"):
        edgeinfer.load(path, backend="mnn", precision="fp16",
                       options={"mnn": {"precision_mode": "low"}})  # fmt: skip
    with pytest.raises(ConfigurationError, match="precision_mode"):
        edgeinfer.load(path, backend="mnn", options={"mnn": {"precision_mode": "fast"}})
    with pytest.raises(ModelIncompatible, match="mnnquant"):
        edgeinfer.load(path, backend="mnn", precision="int8", fallback=False)


def test_a_gpu_mnn_would_run_on_the_cpu_is_refused(model_dir: Path) -> None:
    path = build_mnn("ds_cnn", model_dir)
    for api in ("OPENCL", "VULKAN"):
        with pytest.raises(BackendUnavailable, match=api) as caught:
            edgeinfer.load(path, device="gpu", backend="mnn", fallback=False,
                           options={"mnn": {"gpu_backend": api}})  # fmt: skip
        assert "MNN_OPENCL" in (caught.value.hint or "")


def test_corrupt_and_truncated_files_are_model_errors(tmp_path: Path, model_dir: Path) -> None:
    data = build_mnn("ds_cnn", model_dir).read_bytes()
    for name, content in (("cut.mnn", data[: len(data) // 2]), ("junk.mnn", b"\x00junk" * 64)):
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ModelError):
            edgeinfer.load(bad, backend="mnn", fallback=False)


def test_mnn_prints_nothing_on_stdout(model_dir: Path) -> None:
    """MNN printf()s its CPU features at import and its precision mode per session; in a fresh
    process, loading and running through edgeinfer leaves stdout empty."""
    path = build_mnn("ds_cnn", model_dir)
    code = (
        "import numpy as np, edgeinfer\n"
        f"m = edgeinfer.load({str(path)!r}, backend='mnn', precision='fp32')\n"
        "m.run(np.zeros((1, 1, 49, 10), np.float32))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == ""


def test_not_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "MNN" else real(n, *a)
    )
    mnn_backend._availability.cache_clear()
    try:
        found = mnn_backend.MnnBackend.availability()
        assert not found.available
        assert found.hint == "pip install mnn (what edgeinfer's 'mnn' extra installs)"
    finally:
        mnn_backend._availability.cache_clear()


def test_same_results_as_mnn_called_directly(model_dir: Path) -> None:
    from edgeinfer.backends.mnn.backend import import_mnn

    mnn = import_mnn()
    path = build_mnn("mobilenet_v2", model_dir)
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    interpreter = mnn.Interpreter(str(path))
    session = interpreter.createSession({"backend": "CPU", "numThread": 1, "precision": 1})
    tensor = interpreter.getSessionInput(session)
    tensor.copyFrom(mnn.Tensor((1, 3, 224, 224), mnn.Halide_Type_Float, x, 1))
    interpreter.runSession(session)
    out = interpreter.getSessionOutput(session)
    host = mnn.Tensor(out, 1)
    out.copyToHostTensor(host)
    raw = np.array(host.getNumpyData(), copy=True)
    with edgeinfer.load(path, backend="mnn", precision="fp32", threads=1) as model:
        np.testing.assert_array_equal(model.run(x)["logits"], raw.reshape(1, 1000))
