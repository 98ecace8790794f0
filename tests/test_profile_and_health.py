"""Model.profile() (measured loops, per-operator Chrome traces) and Model.health()."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import DeviceError
from edgeinfer._model.health import compare_golden
from edgeinfer._model.stats import BASELINE_CALLS
from fake_backend import make_fake


@pytest.mark.backend("onnxruntime")
def test_profile_runs_n_calls_or_for_a_duration(one_op: Path) -> None:
    with edgeinfer.load(one_op, backend="onnxruntime") as model:
        stats = model.profile(25)
        assert stats.count == 25
        assert stats.p50 is not None
        timed = model.profile(duration=0.05, warmup=0)
        assert timed.count > 1
        given = model.profile(5, inputs=np.ones((1, 16), np.float32))
        assert given.count == 5
        with pytest.raises(edgeinfer.ConfigurationError):
            model.profile(0)


@pytest.mark.backend("onnxruntime")
def test_onnxruntime_operator_profile_is_a_chrome_trace(mobilenet: Path, tmp_path: Path) -> None:
    with edgeinfer.load(mobilenet, backend="onnxruntime") as model:
        profile = model.profile(3, operators=True)
    assert profile.reason is None
    assert profile.runs == 3
    assert {event.run for event in profile.events} == {0, 1, 2}
    assert {event.op_type for event in profile.events} >= {"Conv", "Gemm"}
    slowest = profile.by_operator()[0]
    assert slowest[2] > 0
    trace = json.loads(profile.to_chrome_trace(tmp_path / "trace.json").read_text())
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(profile.events)
    assert all({"name", "ts", "dur", "pid", "tid"} <= set(e) for e in complete)
    assert not list(tmp_path.glob("onnxruntime*"))  # the runtime's own file was cleaned up


@pytest.mark.backend("openvino")
def test_openvino_operator_profile(one_op: Path) -> None:
    with edgeinfer.load(one_op, backend="openvino", precision="fp32") as model:
        profile = model.profile(2, operators=True)
    assert profile.reason is None
    assert {event.run for event in profile.events} == {0, 1}  # OpenVINO fuses Relu: "Subgraph"
    assert all(event.duration >= 0 for event in profile.events)


@pytest.mark.backend("litert")
def test_a_backend_without_operator_profiles_says_so(tmp_path: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    import tflite_models

    path = tflite_models.build_small_cnn(tmp_path / "cnn.tflite")
    with edgeinfer.load(path, backend="litert") as model:
        profile = model.profile(2, operators=True)
    assert profile.events == ()
    assert profile.reason == "litert offers no per-operator profile"


# --- Model.health() -----------------------------------------------------------------------------


@pytest.mark.backend("onnxruntime")
def test_healthy_model(mobilenet: Path) -> None:
    with edgeinfer.load(mobilenet, backend="onnxruntime") as model:
        for _ in range(3):
            model.run(np.zeros((1, 3, 224, 224), np.float32))
        health = model.health()
    assert health.golden == "passed"
    assert health.golden_max_error == 0.0
    assert health.preferred
    assert health.backend == "onnxruntime"
    assert health.status in ("ok", "degraded")  # degraded only by the machine's own strain
    json.dumps(health.to_dict())


def test_golden_without_warmup_is_not_recorded(tmp_path: Path, clean_registry: None) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    edgeinfer.register_backend("steady", make_fake("steady"))
    with edgeinfer.load(path, backend="steady", warmup=0) as model:
        assert model.health().golden.startswith("not recorded")


def test_a_changed_golden_output_fails(tmp_path: Path, clean_registry: None) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    drifting = make_fake("drifting")
    edgeinfer.register_backend("drifting", drifting)
    with edgeinfer.load(path, backend="drifting") as model:
        drifting.factor = 2.5  # the accelerator now computes something else
        health = model.health()
    assert health.status == "failed"
    assert health.golden == "failed"
    assert any("golden output changed" in reason for reason in health.reasons)


def test_running_on_a_fallback_and_latency_drift_degrade(
    tmp_path: Path, clean_registry: None
) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    edgeinfer.register_backend(
        "first", make_fake("first", fail=lambda n: DeviceError("gone") if n > 3 else None)
    )
    edgeinfer.register_backend("second", make_fake("second"))
    model = edgeinfer.load(path, device="cpu", backend=["first", "second"])
    x = np.ones((1, 4), np.float32)
    for _ in range(5):
        model.run(x)
    assert model.backend == "second"
    recorder = model._recorder
    for i in range(2 * BASELINE_CALLS):  # synthetic timings: 1 us, then 10 us
        recorder.record(0, 1000 if i < BASELINE_CALLS else 10_000)
    health = model.health()
    assert health.golden == "passed"  # the fallback recorded its own golden output when opened
    assert not health.preferred
    assert health.status == "degraded"
    assert any("fallback" in reason for reason in health.reasons)
    assert health.latency_drift is not None
    assert health.latency_drift > 1.5
    assert any("latency drifted" in reason for reason in health.reasons)


def test_compare_golden() -> None:
    a = {"y": np.array([1.0, 2.0], np.float32), "k": np.array([1, 2])}
    assert compare_golden(a, dict(a)) == 0.0
    close = {"y": np.array([1.0, 2.0002], np.float32), "k": np.array([1, 2])}
    assert compare_golden(a, close) == pytest.approx(1e-4, rel=1e-2)
    assert compare_golden(a, {"y": a["y"], "k": np.array([1, 3])}) is None
    assert compare_golden(a, {"y": np.ones(3, np.float32), "k": a["k"]}) is None
