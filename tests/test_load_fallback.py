"""Load-time planning and fallback, driven by fake backends (the machinery, not a runtime)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    Availability,
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    DeviceRequest,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)
from fake_backend import make_fake, register

pytestmark = pytest.mark.usefixtures("clean_registry")


def test_first_failure_falls_back_to_next_and_is_recorded(
    model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = make_fake("broken", open_error=DeviceError("accelerator fell off the bus"))
    good = make_fake("good", factor=3.0)
    register(broken, good)
    with caplog.at_level(logging.INFO, logger="edgeinfer"):
        model = edgeinfer.load(model_file, device="cpu", backend=["broken", "good"], warmup=0)
    assert model.backend == "good"
    assert [a.backend for a in model.attempts] == ["broken", "good"]
    first, last = model.attempts
    assert (first.ok, first.error) == (False, "DeviceError")
    assert "fell off the bus" in first.reason
    assert last.ok
    assert "fell off the bus" in model.explain()
    assert "broken on cpu" in model.explain()
    assert any("after 1 candidate(s) failed" in r.message for r in caplog.records)
    out = model.run(np.ones((1, 4), np.float32))
    np.testing.assert_array_equal(out["y"], np.full((1, 4), 3.0, np.float32))


def test_fallback_false_raises_the_first_failure(model_file: Path) -> None:
    register(make_fake("broken", open_error=DeviceError("boom")), make_fake("good"))
    with pytest.raises(DeviceError, match="boom") as info:
        edgeinfer.load(model_file, device="cpu", backend=["broken", "good"], fallback=False)
    assert [a.backend for a in info.value.attempts] == ["broken"]  # type: ignore[attr-defined]


def test_no_candidate_opens_lists_every_attempt(model_file: Path) -> None:
    register(
        make_fake("a", open_error=DeviceError("a is dead")),
        make_fake("b", open_error=ModelIncompatible("b lacks an op")),
    )
    with pytest.raises(NoBackendAvailable) as info:
        edgeinfer.load(model_file, device="cpu", backend=["a", "b"])
    error = info.value
    assert [(a.backend, a.error) for a in error.attempts] == [
        ("a", "DeviceError"),
        ("b", "ModelIncompatible"),
    ]
    assert "a is dead" in str(error)
    assert "b lacks an op" in str(error)


def test_no_backend_available_chains_the_last_native_failure(model_file: Path) -> None:
    cause = OSError("libsomething.so: cannot open shared object file")
    failure = DeviceError("delegate failed")
    failure.__cause__ = cause
    register(make_fake("a", open_error=failure))
    with pytest.raises(NoBackendAvailable) as info:
        edgeinfer.load(model_file, backend="a")
    assert info.value.__cause__ is failure
    assert info.value.__cause__.__cause__ is cause


def test_attempts_follow_plan_order_with_skips_in_place(model_file: Path) -> None:
    register(
        make_fake("first", open_error=DeviceError("x")),
        make_fake("absent", available=Availability(False, "not installed", "pip install absent")),
        make_fake("last"),
    )
    model = edgeinfer.load(model_file, device="cpu", backend=["first", "absent", "last"])
    assert [(a.backend, a.error) for a in model.attempts] == [
        ("first", "DeviceError"),
        ("absent", "BackendUnavailable"),
        ("last", None),
    ]


def test_invalid_input_from_open_is_not_a_fallback(model_file: Path) -> None:
    register(make_fake("strict", open_error=InvalidInput("bad shape override")), make_fake("ok"))
    with pytest.raises(InvalidInput, match="bad shape override"):
        edgeinfer.load(model_file, device="cpu", backend=["strict", "ok"])


def test_auto_asks_each_detected_kind_for_its_default_device() -> None:
    from edgeinfer import Device, DeviceRequest
    from edgeinfer._planning.plan import expand_devices

    found = [
        Device("cpu", 0, "CPU", "cpu", "platform"),
        Device("gpu", 0, "NVIDIA", "gpu:0", "nvidia-driver"),
        Device("gpu", 1, "Intel GPU", "gpu:1", "/dev/dri/renderD128"),
        Device("edgetpu", 0, "Coral", "edgetpu:usb:0", "usb"),
    ]
    assert expand_devices([None], found) == (
        DeviceRequest("edgetpu"),
        DeviceRequest("gpu"),
        DeviceRequest("cpu"),
    )
    assert expand_devices([DeviceRequest("gpu", 1), None], found)[0] == DeviceRequest("gpu", 1)


def test_a_bad_file_raises_model_error_not_no_backend(model_file: Path) -> None:
    register(make_fake("a", open_error=ModelError("corrupt")))
    with pytest.raises(ModelError, match="corrupt") as info:
        edgeinfer.load(model_file, device="cpu", backend="a")
    assert len(info.value.attempts) == 1  # type: ignore[attr-defined]


def test_unavailable_backends_are_skipped_with_reason_and_hint(model_file: Path) -> None:
    missing = make_fake(
        "missing", available=Availability(False, "runtime not installed", "pip install missing")
    )
    register(missing, make_fake("good"))
    model = edgeinfer.load(model_file, device="cpu", backend=["missing", "good"])
    assert missing.opened == []  # never opened: availability said no
    skipped = model.attempts[0]
    assert (skipped.backend, skipped.ok, skipped.error) == ("missing", False, "BackendUnavailable")
    assert skipped.hint == "pip install missing"
    assert "pip install missing" in model.explain()


def test_only_unavailable_backends_raise_backend_unavailable_with_hint(model_file: Path) -> None:
    register(make_fake("missing", available=Availability(False, "not installed", "pip install x")))
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(model_file, backend="missing")
    assert info.value.hint == "pip install x"
    assert isinstance(info.value, ImportError)


def test_configuration_error_in_open_is_not_a_fallback(model_file: Path) -> None:
    bad = make_fake("bad", open_error=ConfigurationError("unknown option 'foo'"))
    good = make_fake("good")
    register(bad, good)
    with pytest.raises(ConfigurationError, match="foo"):
        edgeinfer.load(model_file, device="cpu", backend=["bad", "good"])
    assert good.opened == []


def test_unexpected_exception_in_a_backend_is_a_failed_candidate(model_file: Path) -> None:
    register(make_fake("buggy", open_error=KeyError("oops")), make_fake("good"))
    model = edgeinfer.load(model_file, device="cpu", backend=["buggy", "good"])
    assert model.attempts[0].error == "InferenceError"
    assert "KeyError" in model.attempts[0].reason


def test_a_device_failing_the_warm_up_moves_to_the_next_candidate(model_file: Path) -> None:
    register(
        make_fake("flaky", run_error=DeviceError("the accelerator hung up")),
        make_fake("good"),
    )
    model = edgeinfer.load(model_file, device="cpu", backend=["flaky", "good"], warmup=2)
    assert model.backend == "good"
    assert "hung up" in model.attempts[0].reason


def test_generated_inputs_refused_skip_the_warm_up_not_the_candidate(model_file: Path) -> None:
    # An InferenceError on inputs edgeinfer made up says our guess was wrong, not the backend.
    register(make_fake("picky", run_error=edgeinfer.InferenceError("Scale must be > 0")))
    model = edgeinfer.load(model_file, device="cpu", backend="picky")
    assert model.backend == "picky"
    assert any("warm-up skipped" in note and "Scale must be > 0" in note for note in model.notes)
    assert "warm-up skipped" in model.explain()
    assert model.health().golden.startswith("not recorded")


def test_your_warmup_inputs_failing_fail_the_candidate(model_file: Path) -> None:
    register(
        make_fake("flaky", run_error=edgeinfer.InferenceError("kernel crashed")),
        make_fake("good"),
    )
    x = np.ones((1, 4), np.float32)
    model = edgeinfer.load(model_file, backend=["flaky", "good"], warmup_inputs={"x": x})
    assert model.backend == "good"
    assert "kernel crashed" in model.attempts[0].reason
    assert model.health().golden == "passed"


def test_warmup_inputs_that_do_not_match_are_invalid_input(model_file: Path) -> None:
    register(make_fake("good"))
    with pytest.raises(edgeinfer.InvalidInput, match="'x'"):
        edgeinfer.load(model_file, backend="good", warmup_inputs=np.ones((2, 3), np.float32))


def test_explicit_device_never_becomes_another(model_file: Path) -> None:
    gpu_only = make_fake("gpuonly", open_error=DeviceError("no gpu here"), devices=("gpu",))
    cpu_only = make_fake("cpuonly", devices=("cpu",))
    register(gpu_only, cpu_only)
    with pytest.raises(NoBackendAvailable, match="no gpu here") as info:
        edgeinfer.load(model_file, device="gpu", backend=["gpuonly", "cpuonly"])
    assert cpu_only.opened == []
    assert [a.device for a in info.value.attempts] == ["gpu", "gpu"]
    model = edgeinfer.load(model_file, device=["gpu", "cpu"], backend=["gpuonly", "cpuonly"])
    assert (model.backend, model.device) == ("cpuonly", "cpu")


def test_device_chain_order_beats_backend_order(model_file: Path) -> None:
    fake = make_fake("multi")
    register(fake)
    model = edgeinfer.load(model_file, device=["npu:1", "gpu"], backend="multi")
    assert model.device == "npu:1"
    assert [entry[1] for entry in fake.opened] == ["npu:1"]


def test_files_are_tried_in_order_and_fallback_crosses_files(tmp_path: Path) -> None:
    first, second = tmp_path / "first.onnx", tmp_path / "second.onnx"
    for path in (first, second):
        path.write_bytes(b"\x08\x08\x3a\x00")

    class PicksSecond(make_fake("picky")):  # type: ignore[misc]
        @classmethod
        def open(cls, path, device, options):  # type: ignore[no-untyped-def]
            if path.name == "first.onnx":
                cls.opened.append((path.name, device.id, options))
                raise ModelIncompatible("not this one")
            return super().open(path, device, options)

    register(PicksSecond)
    model = edgeinfer.load([first, second], device="cpu", backend="picky")
    assert model.path == str(second)
    assert [entry[0] for entry in PicksSecond.opened] == ["first.onnx", "second.onnx"]


def test_options_keyed_by_backend_reach_only_that_backend(model_file: Path) -> None:
    a, b = make_fake("a", open_error=DeviceError("x")), make_fake("b")
    register(a, b)
    edgeinfer.load(model_file, device="cpu", backend=["a", "b"], options={"b": {"k": 1}})
    assert dict(a.opened[0][2].extra) == {}
    assert dict(b.opened[0][2].extra) == {"k": 1}


def test_flat_options_need_exactly_one_pinned_backend(model_file: Path) -> None:
    fake = make_fake("solo")
    register(fake)
    edgeinfer.load(model_file, backend="solo", options={"k": 2}, threads=3, precision="fp16")
    options = fake.opened[0][2]
    assert (dict(options.extra), options.threads, options.precision) == ({"k": 2}, 3, "fp16")
    with pytest.raises(ConfigurationError, match="keyed by backend name"):
        edgeinfer.load(model_file, options={"k": 2})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threads": 0}, "threads"),
        ({"threads": True}, "threads"),
        ({"precision": "fp8"}, "precision"),
        ({"warmup": -1}, "warmup"),
        ({"device": "tpu"}, "unknown device"),
        ({"device": []}, "empty"),
        ({"backend": []}, "backend"),
        ({"options": ["x"]}, "options"),
    ],
)
def test_bad_arguments_raise_configuration_error(
    model_file: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(model_file, **kwargs)  # type: ignore[arg-type]


def test_unknown_backend_names_the_known_ones(model_file: Path) -> None:
    with pytest.raises(edgeinfer.UnknownBackend, match="onnxruntime") as info:
        edgeinfer.load(model_file, backend="nonesuch")
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, ValueError)


def test_model_rejects_bad_input_without_fallback(model_file: Path) -> None:
    register(make_fake("good"))
    model = edgeinfer.load(model_file, device="cpu", backend="good")
    with pytest.raises(InvalidInput, match="'x'"):
        model.run(np.ones((2, 4), np.float32))


def test_close_is_idempotent_and_run_after_close_raises(model_file: Path) -> None:
    register(make_fake("good"))
    with edgeinfer.load(model_file, device="cpu", backend="good") as model:
        model.run(np.ones((1, 4), np.float32))
    model.close()
    assert "closed" in repr(model)
    with pytest.raises(edgeinfer.InferenceError, match="closed"):
        model.run(np.ones((1, 4), np.float32))


def test_a_candidates_own_error_keeps_its_own_cause(model_file: Path) -> None:
    first = BackendUnavailable("a", "no provider for gpu", "pip install a-gpu")
    second = BackendUnavailable("a", "no provider for npu", "pip install a-npu")
    errors = iter([first, second])

    class TwoDevices(make_fake("a")):  # type: ignore[misc]
        @classmethod
        def open(cls, path, device, options):  # type: ignore[no-untyped-def]
            raise next(errors)

    register(TwoDevices)
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(model_file, device=["gpu", "npu"], backend="a")
    assert info.value is first
    assert info.value.__cause__ is None


def test_a_backend_that_chooses_its_own_device_gets_one_auto_candidate(model_file: Path) -> None:
    from edgeinfer import Device
    from edgeinfer._planning.plan import Candidate, expand_devices, plan

    chooser = make_fake("chooser", devices=("cpu", "gpu"))
    chooser.chooses_device = True
    register(chooser, make_fake("plain", devices=("cpu", "gpu")))
    found = [Device("cpu", 0, "CPU", "cpu", "x"), Device("gpu", 0, "GPU", "gpu:0", "x")]
    devices = expand_devices([None], found)
    steps = [
        s
        for s in plan([(model_file, "onnx")], devices, ["chooser", "plain"])
        if isinstance(s, Candidate)
    ]
    assert [(s.backend, s.device.id, s.device.choices) for s in steps] == [
        ("chooser", "auto", ("gpu", "cpu")),
        ("plain", "gpu", ()),
        ("plain", "cpu", ()),
    ]
    explicit = plan(
        [(model_file, "onnx")], expand_devices([DeviceRequest("gpu")], found), ["chooser"]
    )
    assert [s.device.id for s in explicit if isinstance(s, Candidate)] == ["gpu"]
