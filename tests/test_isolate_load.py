"""load(..., isolate=True): a backend that crashes or hangs becomes a DeviceError and a fallback,
and the application lives on. The crashes are real (segfault, abort) in the backend's process."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import DeviceError
from edgeinfer._model.chain import FallbackPolicy

pytestmark = pytest.mark.usefixtures("clean_registry")
X = np.ones((1, 4), np.float32)


@pytest.fixture
def crasher() -> str:
    edgeinfer.register_backend("crasher", "crashing_backend:CrashingBackend")
    return "crasher"


def model_file(folder: Path, stem: str) -> Path:
    path = folder / f"{stem}.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    return path


def test_segfault_falls_back_and_the_application_lives(tmp_path: Path, crasher: str) -> None:
    edgeinfer.register_backend("works", "crashing_backend:CrashingBackend")
    options = {crasher: {"mode": "segfault"}, "works": {"mode": "plain"}}
    model = edgeinfer.load(
        model_file(tmp_path, "m"),
        device="cpu",
        backend=[crasher, "works"],
        isolate=True,
        warmup=0,
        options=options,
    )
    try:
        out = model.run(X)  # the crasher's process dies; "works" answers the same inputs
        np.testing.assert_array_equal(out["y"], X * 2)
        kinds = [(e.kind, e.from_backend, e.to_backend) for e in model.history]
        # a dead process is demoted at once, and the call moves on
        assert kinds == [("demoted", crasher, None), ("fallback", crasher, "works")]
        assert "SIGSEGV" in (model.history[-1].error or "")
        assert model.backend == "works"
    finally:
        model.close()


def test_hang_with_timeout_falls_back(tmp_path: Path, crasher: str) -> None:
    edgeinfer.register_backend("works", "crashing_backend:CrashingBackend")
    options = {crasher: {"mode": "hang"}, "works": {"mode": "plain"}}
    with edgeinfer.load(
        model_file(tmp_path, "m"),
        device="cpu",
        backend=[crasher, "works"],
        isolate=True,
        warmup=0,
        options=options,
    ) as model:
        started = time.monotonic()
        out = model.run(X, timeout=1.0)
        assert time.monotonic() - started < 30
        np.testing.assert_array_equal(out["y"], X * 2)
        assert "did not answer within 1" in (model.history[-1].error or "")


def test_crash_at_load_moves_to_the_next_candidate(tmp_path: Path, crasher: str) -> None:
    edgeinfer.register_backend("works", "crashing_backend:CrashingBackend")
    options = {crasher: {"mode": "abort", "when": "open"}, "works": {"mode": "plain"}}
    with edgeinfer.load(
        model_file(tmp_path, "m"),
        device="cpu",
        backend=[crasher, "works"],
        isolate=True,
        options=options,
    ) as model:
        assert model.backend == "works"
        assert model.attempts[0].error == "DeviceError"
        assert "SIGABRT" in model.attempts[0].reason


def test_a_crashed_backend_is_restarted_when_probed(tmp_path: Path, crasher: str) -> None:
    """The first call crashes its process; after the cool-down a new process serves again."""
    edgeinfer.register_backend("works", "crashing_backend:CrashingBackend")
    flag = tmp_path / "crash-once"
    flag.write_text("")
    options = {crasher: {"mode": "segfault_once", "flag": str(flag)}, "works": {"mode": "plain"}}
    model = edgeinfer.load(
        model_file(tmp_path, "m"),
        device="cpu",
        backend=[crasher, "works"],
        isolate=True,
        warmup=0,
        options=options,
        fallback=FallbackPolicy(threshold=1, cooldown=1.5),
    )
    try:
        model.run(X)
        assert model.backend == "works"
        assert not flag.exists()
        time.sleep(1.6)  # cool-down long enough that a slow spawn cannot outlast it
        out = model.run(X)  # probe: the crasher is opened in a new process and answers
        assert model.backend == crasher
        np.testing.assert_array_equal(out["y"], X * 2)
        assert model.history[-1].kind == "recovered"
    finally:
        model.close()


@pytest.mark.backend("onnxruntime")
def test_isolated_onnxruntime_matches_in_process(mobilenet: Path) -> None:
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with edgeinfer.load(mobilenet, backend="onnxruntime") as local:
        expected = local.run(x)["logits"]
    with edgeinfer.load(mobilenet, backend="onnxruntime", isolate=True) as isolated:
        np.testing.assert_array_equal(isolated.run(x, timeout=60)["logits"], expected)
        assert isolated.health().golden == "passed"


def test_timeout_without_isolation_is_refused(tmp_path: Path) -> None:
    from fake_backend import make_fake

    edgeinfer.register_backend("plain", make_fake("plain"))
    with (
        edgeinfer.load(model_file(tmp_path, "m"), backend="plain") as model,
        pytest.raises(edgeinfer.ConfigurationError, match="isolate=True"),
    ):
        model.run(X, timeout=1.0)


def test_device_error_type(tmp_path: Path, crasher: str) -> None:
    options = {crasher: {"mode": "exit"}}
    with (
        edgeinfer.load(
            model_file(tmp_path, "m"),
            backend=crasher,
            isolate=True,
            warmup=0,
            options=options,
            fallback=False,
        ) as model,
        pytest.raises(DeviceError),
    ):
        model.run(X)
