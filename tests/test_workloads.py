"""The reference workloads the benchmark builds itself: catalogue, cache, parity, missing tools."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, ConfigurationError
from edgeinfer.bench._workloads import (
    BUILDER_VERSION,
    WORKLOADS,
    Workload,
    builders,
    ensure,
    reference_inputs,
    variants,
)

HAVE = {
    m: importlib.util.find_spec(m) is not None
    for m in ("onnx", "onnxruntime", "ai_edge_litert", "_tools", "torch", "executorch")
}
needs_onnx = pytest.mark.skipif(not HAVE["onnx"], reason="the onnx package builds ONNX workloads")
needs_litert = pytest.mark.skipif(
    not HAVE["ai_edge_litert"], reason="ai_edge_litert builds and runs .tflite workloads"
)
RUNTIME = {
    "onnx": "onnxruntime",
    "tflite": "litert",
    "ncnn": "ncnn",
    "mnn": "mnn",
    "executorch": "executorch",
}


def outputs(path: Path, fmt: str, inputs: Sequence[np.ndarray]) -> np.ndarray:
    """Run ``inputs`` through ``path`` on the format's reference runtime (float I/O)."""
    precision = "fp32" if fmt == "ncnn" else None  # NCNN's default is fp16 storage
    with edgeinfer.load(path, backend=RUNTIME[fmt], float_io=True, precision=precision) as model:
        return np.stack([next(iter(model.run(x).values())) for x in inputs])


def test_catalogue() -> None:
    assert set(WORKLOADS) == {"mobilenet_v2", "ds_cnn"}
    for name, workload in WORKLOADS.items():
        assert isinstance(workload, Workload)
        assert workload.name == name
        n, c, h, w = workload.onnx_shape
        assert workload.tflite_shape == (n, h, w, c)
        json.dumps(workload.to_dict())
    assert WORKLOADS["mobilenet_v2"].onnx_shape == (1, 3, 224, 224)
    assert WORKLOADS["mobilenet_v2"].classes == 1000
    assert WORKLOADS["ds_cnn"].tflite_shape == (1, 49, 10, 1)
    assert WORKLOADS["ds_cnn"].classes == 12
    assert WORKLOADS["ds_cnn"].task == "keyword-spotting"


def test_reference_inputs_are_deterministic_and_layout_independent() -> None:
    nchw = reference_inputs("ds_cnn", "onnx", count=3)
    nhwc = reference_inputs("ds_cnn", "tflite", count=3)
    assert len(nchw) == len(nhwc) == 3
    for a, b in zip(nchw, nhwc, strict=True):
        assert a.dtype == b.dtype == np.float32
        assert a.shape == (1, 1, 49, 10)
        assert b.shape == (1, 49, 10, 1)
        np.testing.assert_array_equal(a.transpose(0, 2, 3, 1), b)
    np.testing.assert_array_equal(nchw[0], reference_inputs("ds_cnn", "onnx", count=1)[0])
    assert not np.array_equal(nchw[0], reference_inputs("ds_cnn", "onnx", count=1, seed=1)[0])


def test_importing_the_workloads_imports_no_builder() -> None:
    code = (
        "import sys, edgeinfer.bench._workloads as w\n"
        "w.variants('ds_cnn'); w.reference_inputs('ds_cnn', 'onnx')\n"
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'ai_edge_litert', 'flatbuffers')"
        " if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("resnet50", "onnx"), "unknown workload 'resnet50'"),
        (("ds_cnn", "engine"), "unknown workload format 'engine'"),
        (("ds_cnn", "onnx", "fp16"), "no 'fp16' onnx build"),
        (("ds_cnn", "tflite", "int4"), "no 'int4' tflite build"),
    ],
)
def test_unknown_name_format_or_precision(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ensure(*args, cache_dir=tmp_path)
    assert not (tmp_path / "workloads").exists()


def test_unknown_name_everywhere() -> None:
    with pytest.raises(ConfigurationError, match="known workloads: mobilenet_v2, ds_cnn"):
        variants("resnet50")
    with pytest.raises(ConfigurationError):
        reference_inputs("resnet50", "onnx")
    with pytest.raises(ConfigurationError):
        reference_inputs("ds_cnn", "xml")


def test_variants_follow_the_installed_builders() -> None:
    expected = []
    if HAVE["onnx"]:
        expected.append(("onnx", "fp32"))
        if HAVE["onnxruntime"]:
            expected.append(("onnx", "int8"))
    if HAVE["ai_edge_litert"]:
        expected += [("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8")]
    expected.append(("ncnn", "fp32"))  # written directly: nothing to install
    if HAVE["onnx"] and HAVE["_tools"]:  # _tools: the converter in the mnn wheel
        expected.append(("mnn", "fp32"))
    if HAVE["torch"] and HAVE["executorch"]:
        expected.append(("executorch", "fp32"))
    assert variants("ds_cnn") == expected
    assert variants("mobilenet_v2") == expected


def test_missing_builder_package_is_backend_unavailable_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "ai_edge_litert" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert all(fmt != "tflite" for fmt, _ in variants("ds_cnn"))
    with pytest.raises(BackendUnavailable) as info:
        ensure("ds_cnn", "tflite", "int8", cache_dir=tmp_path)
    assert isinstance(info.value, ImportError)
    assert info.value.backend == "workloads"
    assert "ai-edge-litert" in info.value.reason
    assert info.value.hint is not None
    assert info.value.hint.startswith("pip install ai-edge-litert")
    assert not (tmp_path / "workloads").exists()


@needs_onnx
def test_a_broken_builder_import_is_backend_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(name: str, fmt: str, precision: str) -> bytes:
        raise ImportError("libfoo.so: cannot open shared object file")

    monkeypatch.setattr(builders, "_build", broken)
    with pytest.raises(BackendUnavailable, match=r"libfoo\.so") as info:
        ensure("ds_cnn", "onnx", cache_dir=tmp_path)
    assert isinstance(info.value.__cause__, ImportError)


@needs_onnx
def test_ensure_builds_once_and_then_returns_the_cached_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ensure("ds_cnn", "onnx", cache_dir=tmp_path)
    assert path == tmp_path / "workloads" / f"ds_cnn-fp32-v{BUILDER_VERSION}.onnx"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
    before = path.stat().st_mtime_ns

    def no_rebuild(name: str, fmt: str, precision: str) -> bytes:
        raise AssertionError("rebuilt a cached workload")

    monkeypatch.setattr(builders, "_build", no_rebuild)
    assert ensure("ds_cnn", "onnx", cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == before


@needs_onnx
def test_default_cache_is_edgeinfers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path))
    path = ensure("ds_cnn", "onnx")
    assert path.parent == tmp_path / "workloads"


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("litert")
@needs_onnx
@needs_litert
def test_ds_cnn_every_variant_runs_the_same_network(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    paths = {v: ensure("ds_cnn", *v, cache_dir=tmp_path) for v in variants("ds_cnn")}
    assert len(paths) == 5 + 1 + HAVE["_tools"] + (HAVE["torch"] and HAVE["executorch"])
    # The quantisers' advice and chatter is kept from the user: DEBUG on edgeinfer's logger.
    # (Whether onnxruntime says anything at all depends on what ran before in the process: its
    # advice goes through warnings, shown once per place.)
    assert capfd.readouterr() == ("", "")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    chatter = [r for r in caplog.records if "quantize_static" in r.getMessage()]
    assert all(r.name == "edgeinfer" and r.levelno == logging.DEBUG for r in chatter)

    results = {v: outputs(p, v[0], reference_inputs("ds_cnn", v[0])) for v, p in paths.items()}
    reference = results[("onnx", "fp32")]
    assert reference.shape == (8, 1, 12)
    assert np.isfinite(reference).all()
    assert reference.std() > 0.1
    scale = float(np.abs(reference).max())
    assert np.abs(results[("tflite", "fp32")] - reference).max() / scale < 1e-4
    assert np.abs(results[("tflite", "fp16")] - reference).max() / scale < 1e-2
    for written in (("ncnn", "fp32"), ("mnn", "fp32"), ("executorch", "fp32")):
        if written in results:
            assert np.abs(results[written] - reference).max() / scale < 1e-4, written
    # With random weights one class wins for almost every input, so top-1 agreement says little;
    # the part of the logits that does depend on the input must survive int8 too.
    top1 = reference.argmax(-1)
    varying = (reference - reference.mean(0)).ravel()
    for variant in (("onnx", "int8"), ("tflite", "int8")):
        got = results[variant]
        agree = int((got.argmax(-1) == top1).sum())
        assert agree >= 6, f"{variant}: top-1 agrees with fp32 on {agree} of 8"
        assert np.abs(got - reference).max() / scale < 0.1
        assert np.corrcoef(varying, (got - got.mean(0)).ravel())[0, 1] > 0.9


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("litert")
@needs_onnx
@needs_litert
def test_mobilenet_v2_fp32_onnx_and_tflite_compute_the_same_network(tmp_path: Path) -> None:
    onnx_path = ensure("mobilenet_v2", "onnx", cache_dir=tmp_path)
    tflite_path = ensure("mobilenet_v2", "tflite", cache_dir=tmp_path)
    want = outputs(onnx_path, "onnx", reference_inputs("mobilenet_v2", "onnx", count=2))
    got = outputs(tflite_path, "tflite", reference_inputs("mobilenet_v2", "tflite", count=2))
    assert want.shape == (2, 1, 1000)
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4
