"""Edge TPU backend: detection, diagnosis and fallback here; real-device runs under ``hardware``.

The Edge TPU compiler and libedgetpu are not reachable on the machines that run this suite, so a
``*_edgetpu.tflite`` here is a renamed CPU model (see tflite_models.build_edgetpu_named_copy): it
exercises naming, planning and fallback, never the TPU itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, DeviceError, DeviceRequest
from edgeinfer._planning.detect import Roots
from edgeinfer.backends.edgetpu import backend as edgetpu
from edgeinfer.backends.edgetpu import probe
from fake_tree import fake_roots, touch


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return fake_roots(tmp_path)


def plug_usb(roots: Roots, product: str = "9302", vendor: str = "18d1") -> Path:
    entry = roots.sys / "bus" / "usb" / "devices" / "2-1"
    touch(entry / "idVendor", vendor)
    touch(entry / "idProduct", product)
    touch(entry / "busnum", "2")
    touch(entry / "devnum", "5")
    node = roots.dev / "bus" / "usb" / "002" / "005"
    touch(node)
    return node


def have(name: str | None) -> object:
    return lambda: name


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (DeviceRequest("edgetpu"), None),
        (DeviceRequest("edgetpu", 1), ":1"),
        (DeviceRequest("edgetpu", None, "usb"), "usb"),
        (DeviceRequest("edgetpu", 0, "usb"), "usb:0"),
        (DeviceRequest("edgetpu", 2, "pci"), "pci:2"),
    ],
)
def test_device_strings_become_libedgetpu_options(
    device: DeviceRequest, expected: str | None
) -> None:
    assert edgetpu.delegate_device(device) == expected


def test_library_names_per_platform() -> None:
    assert probe.library_name("linux") == "libedgetpu.so.1"
    assert probe.library_name("darwin") == "libedgetpu.1.dylib"
    assert probe.library_name("win32") == "edgetpu.dll"


def test_diagnosis_no_library(roots: Roots) -> None:
    plug_usb(roots)
    found = probe.diagnose(roots, library=have(None))
    assert (found.usable, found.cause) == (False, "no-library")
    assert "libedgetpu" in found.reason
    assert found.hint is not None
    assert "libedgetpu1-std" in found.hint


def test_diagnosis_no_device(roots: Roots) -> None:
    found = probe.diagnose(roots, library=have("libedgetpu.so.1"))
    assert (found.usable, found.cause) == (False, "no-device")
    assert "1a6e:089a" in found.reason
    assert "1ac1:089a" in found.reason


@pytest.mark.parametrize("product_vendor", [("089a", "1a6e"), ("9302", "18d1")])
def test_diagnosis_usb_ok_before_and_after_firmware(
    roots: Roots, product_vendor: tuple[str, str]
) -> None:
    plug_usb(roots, *product_vendor)
    found = probe.diagnose(roots, library=have("libedgetpu.so.1"), accessible=lambda p: True)
    assert (found.usable, found.cause) == (True, "ok")


def test_diagnosis_usb_without_permission(roots: Roots) -> None:
    node = plug_usb(roots)
    found = probe.diagnose(roots, library=have("libedgetpu.so.1"), accessible=lambda p: p != node)
    assert (found.usable, found.cause) == (False, "no-permission")
    assert str(node) in found.reason
    assert found.hint is not None
    assert "udev" in found.hint


def test_diagnosis_pcie_driver_not_bound(roots: Roots) -> None:
    entry = roots.sys / "bus" / "pci" / "devices" / "0000:03:00.0"
    touch(entry / "vendor", "0x1ac1")
    touch(entry / "device", "0x089a")
    found = probe.diagnose(roots, library=have("libedgetpu.so.1"))
    assert (found.usable, found.cause) == (False, "driver-not-bound")
    assert "apex" in found.reason
    touch(roots.dev / "apex_0")
    bound = probe.diagnose(roots, library=have("libedgetpu.so.1"), accessible=lambda p: True)
    assert bound.usable


def test_diagnosis_looks_only_on_the_asked_bus(roots: Roots) -> None:
    plug_usb(roots)
    found = probe.diagnose(roots, bus="pci", library=have("libedgetpu.so.1"))
    assert found.cause == "no-device"
    assert "PCIe" in found.reason


def test_busy_reason_quotes_the_library() -> None:
    assert "busy" in probe.busy_reason(["Failed to open device"])
    assert "Failed to open device" in probe.busy_reason(["Failed to open device"])


# --- load(): the "not available, here is why and how to fix it" paths -----------------------


@pytest.fixture
def variants(tmp_path: Path) -> Path:
    """A folder with model_edgetpu.tflite (a stand-in, see module docstring) and model.tflite."""
    pytest.importorskip("ai_edge_litert", reason="the .tflite test models are written with it")
    import tflite_models as tfl

    folder = tmp_path / "variants"
    folder.mkdir()
    cpu = tfl.build_small_cnn(folder / "model.tflite")
    tfl.build_edgetpu_named_copy(cpu, folder)
    return folder


def without_edgetpu_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "find_library", lambda: None)
    monkeypatch.setattr(edgetpu, "find_library", lambda: None)
    edgetpu._availability.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_availability() -> object:
    edgetpu._availability.cache_clear()
    yield
    edgetpu._availability.cache_clear()


@pytest.mark.backend("litert")
def test_edgetpu_model_alone_names_libedgetpu_and_the_fix(
    variants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_edgetpu_library(monkeypatch)
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(variants / "model_edgetpu.tflite")
    assert "libedgetpu" in str(info.value)
    assert info.value.hint is not None
    assert "libedgetpu1-std" in info.value.hint


@pytest.mark.backend("litert")
def test_folder_falls_back_to_the_cpu_variant_with_the_reason(
    variants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_edgetpu_library(monkeypatch)
    with edgeinfer.load(variants) as model:
        assert (model.backend, model.device) == ("litert", "cpu")
        assert model.path.endswith("model.tflite")
        first = model.attempts[0]
        assert (first.backend, first.device, first.error) == (
            "edgetpu",
            "edgetpu",
            "BackendUnavailable",
        )
        assert "libedgetpu" in first.reason
        assert "libedgetpu" in model.explain()
        model.run(np.zeros((1, 32, 32, 3), np.float32))


@pytest.mark.backend("litert")
def test_library_present_but_no_device(
    variants: Path, monkeypatch: pytest.MonkeyPatch, roots: Roots
) -> None:
    monkeypatch.setattr(probe, "find_library", lambda: "libedgetpu.so.1")
    monkeypatch.setattr(edgetpu, "find_library", lambda: "libedgetpu.so.1")
    monkeypatch.setattr(edgetpu.EdgeTpuBackend, "roots", roots)
    with pytest.raises(BackendUnavailable, match="no Edge TPU found") as info:
        edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu")
    assert info.value.hint is not None
    assert "Coral USB" in info.value.hint


@pytest.mark.backend("litert")
def test_failed_delegate_is_a_device_error_and_its_noise_stays_quiet(
    variants: Path,
    monkeypatch: pytest.MonkeyPatch,
    roots: Roots,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Everything looks present, yet the real load_delegate fails (here: the library file is
    missing): a DeviceError that says 'busy or re-plug', and nothing printed on stderr."""
    plug_usb(roots)
    missing = "libedgetpu-not-here.so.1"
    monkeypatch.setattr(probe, "find_library", lambda: missing)
    monkeypatch.setattr(edgetpu, "find_library", lambda: missing)
    monkeypatch.setattr(edgetpu.EdgeTpuBackend, "roots", roots)
    monkeypatch.setattr(probe.os, "access", lambda path, mode: True)
    with pytest.raises(edgeinfer.NoBackendAvailable) as info:
        edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu:usb:0")
    attempt = info.value.attempts[0]
    assert attempt.error == "DeviceError"
    assert "busy" in attempt.reason
    assert isinstance(info.value.__cause__, DeviceError)
    assert capfd.readouterr().err == ""


@pytest.mark.backend("litert")
def test_unavailable_without_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    without_edgetpu_library(monkeypatch)
    row = {info.name: info for info in edgeinfer.backends()}["edgetpu"]
    assert not row.available
    assert "libedgetpu" in row.reason
    assert row.formats == ("tflite-edgetpu",)
    assert row.devices == ("edgetpu",)


@pytest.mark.hardware
def test_real_edge_tpu_runs_a_compiled_model(tmp_path: Path) -> None:
    """Where a Coral device and libedgetpu exist: run a model compiled by edgetpu_compiler.

    Set EDGEINFER_EDGETPU_MODEL to a ``*_edgetpu.tflite`` (the compiler cannot run here)."""
    import os

    diagnosis = probe.diagnose()
    if not diagnosis.usable:
        pytest.skip(f"Edge TPU not usable here: {diagnosis.reason}")
    model_path = os.environ.get("EDGEINFER_EDGETPU_MODEL")
    if not model_path:
        pytest.skip("set EDGEINFER_EDGETPU_MODEL to a model compiled with edgetpu_compiler")
    local = tmp_path / Path(model_path).name
    shutil.copy(model_path, local)
    with edgeinfer.load(local, device="edgetpu") as model:
        assert model.backend == "edgetpu"
        inputs = [np.zeros(tuple(d or 1 for d in s.shape or ()), s.dtype) for s in model.inputs]
        outputs = model.run(inputs)
        assert set(outputs) == {s.name for s in model.outputs}
