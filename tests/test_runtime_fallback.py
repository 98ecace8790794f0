"""Run-time fallback and the circuit breaker: fake backends for the machinery, and a real chain
(ONNX Runtime -> LiteRT / OpenVINO) on the same network."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import DeviceError, InferenceError, InvalidInput
from edgeinfer._model.chain import FallbackPolicy
from fake_backend import make_fake, register

pytestmark = pytest.mark.usefixtures("clean_registry")
X = np.ones((1, 4), np.float32)


def fails_on(*calls: int, error: type[Exception] = DeviceError):
    return lambda n: error(f"failure on call {n}") if n in calls else None


def test_a_failing_call_is_served_by_the_next_candidate_and_recorded(
    model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register(make_fake("first", factor=2.0, fail=fails_on(3)), make_fake("second", factor=3.0))
    model = edgeinfer.load(model_file, device="cpu", backend=["first", "second"], warmup=0)
    assert model.run(X)["y"][0, 0] == 2.0
    assert model.run(X)["y"][0, 0] == 2.0
    with caplog.at_level(logging.WARNING, logger="edgeinfer"):
        out = model.run(X)  # first fails on its 3rd call: second answers the same inputs
    assert out["y"][0, 0] == 3.0
    (event,) = model.history
    assert (event.kind, event.from_backend, event.to_backend) == ("fallback", "first", "second")
    assert "failure on call 3" in (event.error or "")
    assert any("fallback" in record.message for record in caplog.records)
    assert model.backend == "first"  # one failure is not a demotion
    assert model.run(X)["y"][0, 0] == 2.0
    assert "run-time events" in model.explain()


def test_next_candidate_is_opened_lazily_or_eagerly(model_file: Path) -> None:
    first, second = make_fake("first", fail=fails_on(1)), make_fake("second")
    register(first, second)
    edgeinfer.load(model_file, device="cpu", backend=["first", "second"], warmup=0)
    assert [o[0] for o in second.opened] == []
    model = edgeinfer.load(
        model_file, device="cpu", backend=["first", "second"], warmup=0, fallback="eager"
    )
    assert len(second.opened) == 1
    model.run(X)
    assert len(second.opened) == 1  # already open: not opened again


def test_fallback_false_raises_the_run_failure(model_file: Path) -> None:
    register(make_fake("first", fail=fails_on(1)), make_fake("second"))
    model = edgeinfer.load(
        model_file, device="cpu", backend=["first", "second"], warmup=0, fallback=False
    )
    with pytest.raises(DeviceError, match="failure on call 1"):
        model.run(X)
    assert model.history == ()
    assert "fallback=False" in model.explain()


def test_invalid_input_never_falls_back(model_file: Path) -> None:
    second = make_fake("second")
    register(make_fake("first"), second)
    model = edgeinfer.load(model_file, device="cpu", backend=["first", "second"], warmup=0)
    with pytest.raises(InvalidInput):
        model.run(np.ones((1, 5), np.float32))
    assert second.opened == []
    assert model.history == ()


def test_every_candidate_failing_raises_the_first_error(model_file: Path) -> None:
    register(
        make_fake("first", fail=fails_on(1)),
        make_fake("second", fail=fails_on(1, error=InferenceError)),
    )
    model = edgeinfer.load(model_file, device="cpu", backend=["first", "second"], warmup=0)
    with pytest.raises(DeviceError, match="failure on call 1"):
        model.run(X)


def test_circuit_breaker_demotes_then_probes_and_recovers(model_file: Path) -> None:
    broken = {"on": True}
    register(
        make_fake(
            "first", factor=2.0, fail=lambda n: DeviceError("usb reset") if broken["on"] else None
        ),
        make_fake("second", factor=3.0),
    )
    policy = FallbackPolicy(threshold=2, cooldown=0.2)
    model = edgeinfer.load(
        model_file, device="cpu", backend=["first", "second"], warmup=0, fallback=policy
    )
    assert model.run(X)["y"][0, 0] == 3.0  # failure 1: served by second
    assert model.backend == "first"
    assert model.run(X)["y"][0, 0] == 3.0  # failure 2: demoted
    assert model.backend == "second"
    kinds = [event.kind for event in model.history]
    assert kinds == ["fallback", "demoted", "fallback"]
    assert model.run(X)["y"][0, 0] == 3.0  # while demoted, first is not tried
    assert "demoted after 2 failures" in model.explain()
    broken["on"] = False
    time.sleep(0.25)
    assert model.run(X)["y"][0, 0] == 2.0  # cool-down over: probed, answered, serves again
    assert model.backend == "first"
    assert model.history[-1].kind == "recovered"


def test_failed_probe_demotes_again(model_file: Path) -> None:
    register(make_fake("first", fail=lambda n: DeviceError("still dead")), make_fake("second"))
    model = edgeinfer.load(
        model_file,
        device="cpu",
        backend=["first", "second"],
        warmup=0,
        fallback=FallbackPolicy(threshold=1, cooldown=0.05),
    )
    model.run(X)
    assert model.backend == "second"
    time.sleep(0.1)
    model.run(X)  # probe fails, the call is still answered by second
    assert model.backend == "second"
    assert [e.kind for e in model.history].count("demoted") == 2


def test_candidate_that_cannot_open_is_recorded(model_file: Path) -> None:
    register(
        make_fake("first", fail=fails_on(1)),
        make_fake("unopenable", open_error=DeviceError("gone")),
        make_fake("third"),
    )
    model = edgeinfer.load(
        model_file, device="cpu", backend=["first", "unopenable", "third"], warmup=0
    )
    # at load "unopenable" was never tried: first opened; at run time it fails to open
    model.run(X)
    kinds = [(e.kind, e.from_backend, e.to_backend) for e in model.history]
    assert ("open-failed", "unopenable", None) in kinds
    assert ("fallback", "first", "third") in kinds
    assert "cannot open" in model.explain()


def test_stats_are_recorded_and_reset(model_file: Path) -> None:
    register(make_fake("solo"))
    model = edgeinfer.load(model_file, backend="solo", warmup=2)
    stats = model.stats()
    assert stats.count == 0
    assert len(stats.warmup) == 2
    assert stats.load_ms is not None
    for _ in range(11):
        model.run(X)
    stats = model.stats()
    assert stats.count == 10  # the first (cold) call is kept apart
    assert stats.first_call is not None
    assert stats.p50 is not None
    assert stats.min <= stats.p50 <= stats.p99 <= stats.max  # type: ignore[operator]
    assert stats.throughput is not None
    model.reset_stats()
    assert model.stats().count == 0
    assert model.stats().first_call is not None


# --- a real chain: the same network in two runtimes --------------------------------------------


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("litert")
def test_real_chain_onnxruntime_then_litert(tmp_path: Path) -> None:
    """ONNX Runtime serves; when it fails on a call, LiteRT runs the same network."""
    onnx_models = pytest.importorskip("onnx_models")
    pytest.importorskip("ai_edge_litert")
    import tflite_models

    onnx_path = onnx_models.build_dynamic_batch(tmp_path / "model.onnx")
    tflite_path = tflite_models.build_dynamic_batch(tmp_path / "model.tflite")
    model = edgeinfer.load(
        [onnx_path, tflite_path], device="cpu", backend=["onnxruntime", "litert"]
    )
    assert model.backend == "onnxruntime"
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    # Break the serving session the way a device fault would: its run raises.
    ort_backend = model._backend
    assert ort_backend is not None

    def exploding(*args: object) -> object:
        raise RuntimeError("CUDA failure 700: an illegal memory access")

    ort_backend._run = exploding  # type: ignore[attr-defined]  # what its run() calls
    with pytest.raises(InvalidInput):
        model.run(np.zeros((2, 9), np.float32))  # bad input: never a fallback
    result = model.run(x)
    (event,) = model.history
    assert (event.from_backend, event.to_backend) == ("onnxruntime", "litert")
    assert "illegal memory access" in (event.error or "")
    # the two models compute different functions (MatMul+bias vs x+arange): check LiteRT's
    np.testing.assert_allclose(result["y"], x + np.arange(8, dtype=np.float32), rtol=1e-6)


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("openvino")
def test_real_chain_onnxruntime_then_openvino_same_file(mobilenet: Path) -> None:
    model = edgeinfer.load(
        mobilenet, device="cpu", backend=["onnxruntime", "openvino"], precision=None
    )
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = model.run(x)["logits"]
    backend = model._backend

    def exploding(*args: object) -> object:
        raise RuntimeError("device lost")

    backend._run = exploding  # type: ignore[union-attr]  # what its run() calls
    got = model.run(x)["logits"]
    assert model.history[0].to_backend == "openvino"
    assert float(np.abs(got - expected).max()) < 0.05 * float(np.abs(expected).max())
