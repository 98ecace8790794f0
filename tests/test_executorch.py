"""ExecuTorch backend: the contract and parity with ONNX Runtime on programs exported here with
torch (the ``executorch`` nox session installs torch and executorch); the "not installed" paths
run everywhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ConfigurationError, ModelError, ModelIncompatible
from edgeinfer.backends.executorch import backend as et_backend
from edgeinfer.testing import BackendContract
from runtime_models import workload_onnx

HAVE_EXPORTER = all(importlib.util.find_spec(name) is not None for name in ("torch", "executorch"))
needs_exporter = pytest.mark.skipif(
    not HAVE_EXPORTER,
    reason="exporting .pte test programs needs torch and executorch (nox -s executorch)",
)


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not HAVE_EXPORTER:
        pytest.skip("exporting .pte test programs needs torch and executorch (nox -s executorch)")
    from edgeinfer.bench._workloads import executorch_export as executorch_models

    folder = tmp_path_factory.mktemp("pte")
    return {
        "ds_cnn": executorch_models.export_ds_cnn(folder / "ds_cnn.pte"),
        "two_in_two_out": executorch_models.export_two_in_two_out(folder / "two.pte"),
    }


@needs_exporter
@pytest.mark.backend("executorch")
class TestExecuTorchContract(BackendContract):
    backend = "executorch"

    @pytest.fixture(params=["ds_cnn", "two_in_two_out"])
    def model_path(self, request: pytest.FixtureRequest, programs: dict[str, Path]) -> Path:
        return programs[request.param]


@needs_exporter
@pytest.mark.backend("executorch")
def test_ds_cnn_matches_onnxruntime_on_the_same_weights(
    programs: dict[str, Path], model_dir: Path
) -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((1, 1, 49, 10)).astype(np.float32) for _ in range(4)]
    with edgeinfer.load(workload_onnx("ds_cnn", model_dir), backend="onnxruntime") as reference:
        expected = [reference.run(x)["logits"] for x in inputs]
    with edgeinfer.load(programs["ds_cnn"], backend="executorch", precision="fp32") as model:
        assert [s.name for s in model.inputs] == ["input_0"]
        assert model.outputs[0].shape == (1, 12)
        assert "XnnpackBackend" in model.details["delegates registered"]
        got = [model.run(x)["output_0"] for x in inputs]
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-4, rtol=1e-4)


@needs_exporter
@pytest.mark.backend("executorch")
def test_errors(programs: dict[str, Path], tmp_path: Path) -> None:
    path = programs["two_in_two_out"]
    with pytest.raises(ModelIncompatible, match="no method 'encode'"):
        edgeinfer.load(path, backend="executorch", fallback=False,
                       options={"executorch": {"method": "encode"}})  # fmt: skip
    with pytest.raises(ModelIncompatible, match="cannot convert"):
        edgeinfer.load(path, backend="executorch", precision="fp16", fallback=False)
    with pytest.raises(ConfigurationError, match="unknown executorch option"):
        edgeinfer.load(path, backend="executorch", options={"executorch": {"x": 1}})
    with pytest.raises(edgeinfer.NoBackendAvailable, match="does not run executorch models on gpu"):
        edgeinfer.load(path, backend="executorch", device="gpu", fallback=False)
    bad = tmp_path / "bad.pte"
    bad.write_bytes(path.read_bytes()[:200] + b"junk" * 20)
    with pytest.raises(ModelError):
        edgeinfer.load(bad, backend="executorch", fallback=False)


def test_not_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    for missing, hint in (
        ("executorch", "pip install executorch torch"),
        ("torch", "pip install torch"),
    ):
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda n, *a, m=missing: None if n == m else real(n, *a)
        )
        et_backend._availability.cache_clear()
        try:
            found = et_backend.ExecuTorchBackend.availability()
        finally:
            et_backend._availability.cache_clear()
        if missing == "torch" and real("executorch") is None:
            continue  # executorch itself is missing here: that answer comes first
        assert not found.available
        assert hint in (found.hint or "")


def test_a_pte_file_without_the_runtime_is_explained(tmp_path: Path) -> None:
    if et_backend.ExecuTorchBackend.availability().available:
        pytest.skip("executorch is installed here")
    path = tmp_path / "model.pte"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(edgeinfer.BackendUnavailable) as caught:
        edgeinfer.load(path)
    assert caught.value.backend == "executorch"
    assert "pip install executorch torch" in (caught.value.hint or "")
