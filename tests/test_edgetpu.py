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
from edgeinfer.backends.edgetpu import diagnosis as probe
from edgeinfer.backends.edgetpu import first_invoke, library, pairing
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
    assert library.library_name("linux") == "libedgetpu.so.1"
    assert library.library_name("darwin") == "libedgetpu.1.dylib"
    assert library.library_name("win32") == "edgetpu.dll"
    assert library.library_name("cygwin") == "edgetpu.dll"


def test_diagnosis_knows_the_detectors_edge_tpus() -> None:
    """The backend scans sysfs itself (it imports only the public kit): same ids as the
    detector behind edgeinfer.devices()."""
    from edgeinfer._planning.detect import EDGETPU_PCI_IDS, EDGETPU_USB_IDS

    assert set(EDGETPU_USB_IDS) == probe.EDGETPU_USB_IDS
    assert set(EDGETPU_PCI_IDS) == probe.EDGETPU_PCI_IDS


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
    monkeypatch.setattr(edgetpu, "find_library", lambda: None)
    edgetpu._availability.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """No cached availability or first-invoke outcome, and no dpkg status of this machine."""
    edgetpu._availability.cache_clear()
    first_invoke.clear_cache()
    monkeypatch.setattr(edgetpu.EdgeTpuBackend, "dpkg_status", tmp_path / "no-dpkg-status")
    yield
    edgetpu._availability.cache_clear()
    first_invoke.clear_cache()


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


# --- the library: exact names per platform, where Coral's installers put it -----------------


def test_linux_finds_the_debian_package_in_the_multiarch_folder(tmp_path: Path) -> None:
    folder = tmp_path / "usr" / "lib" / "aarch64-linux-gnu"
    touch(folder / "libedgetpu.so.1.0")
    assert library.find_library("linux", {}, tmp_path) is None  # ldconfig makes the .so.1 link
    (folder / "libedgetpu.so.1").symlink_to("libedgetpu.so.1.0")
    assert library.find_library("linux", {}, tmp_path) == str(folder / "libedgetpu.so.1")


def test_linux_reads_ld_library_path_then_ld_so_conf(tmp_path: Path) -> None:
    custom = tmp_path / "opt" / "coral" / "lib"
    touch(custom / "libedgetpu.so.1")
    touch(tmp_path / "etc" / "ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    touch(tmp_path / "etc" / "ld.so.conf.d" / "coral.conf", "/opt/coral/lib  # Coral\n")
    assert library.find_library("linux", {}, tmp_path) == str(custom / "libedgetpu.so.1")
    first = tmp_path / "mine"
    touch(first / "libedgetpu.so.1")
    env = {"LD_LIBRARY_PATH": str(first)}
    assert library.find_library("linux", env, tmp_path) == str(first / "libedgetpu.so.1")


def test_macos_finds_the_installers_versioned_dylib(tmp_path: Path) -> None:
    """Coral's install.sh puts libedgetpu.1.0.dylib and the link libedgetpu.1.dylib into
    /usr/local/lib. ctypes.util.find_library("edgetpu") looks for libedgetpu.dylib there and
    never found it: the exact name is looked for instead."""
    lib = tmp_path / "usr" / "local" / "lib"
    touch(lib / "libedgetpu.1.0.dylib")
    assert library.find_library("darwin", {}, tmp_path) is None
    (lib / "libedgetpu.1.dylib").symlink_to("libedgetpu.1.0.dylib")
    assert library.find_library("darwin", {}, tmp_path) == str(lib / "libedgetpu.1.dylib")
    touch(tmp_path / "opt" / "homebrew" / "lib" / "libedgetpu.dylib")  # not the name loaded
    assert library.find_library("darwin", {}, tmp_path) == str(lib / "libedgetpu.1.dylib")


def test_windows_finds_edgetpu_dll_in_system32_or_path(tmp_path: Path) -> None:
    system_root = tmp_path / "Windows"
    env = {"SystemRoot": str(system_root), "PATH": str(tmp_path / "bin")}
    assert library.find_library("win32", env, tmp_path) is None
    touch(system_root / "System32" / "edgetpu.dll")  # where Coral's install.bat copies it
    assert library.find_library("win32", env, tmp_path) == str(
        system_root / "System32" / "edgetpu.dll"
    )
    touch(tmp_path / "bin" / "edgetpu.dll")
    assert library.find_library("win32", env, tmp_path) == str(tmp_path / "bin" / "edgetpu.dll")


def test_library_lookup_never_uses_ctypes_find_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    def refuse(name: str) -> None:
        raise AssertionError("ctypes.util.find_library is not how libedgetpu is found")

    monkeypatch.setattr(ctypes.util, "find_library", refuse)
    library._find_here.cache_clear()
    try:
        library.find_library()
    finally:
        library._find_here.cache_clear()


# --- pairing: which libedgetpu build fits which interpreter ----------------------------------


def dpkg_status(folder: Path, package: str, version: str, status: str = "installed") -> Path:
    path = folder / "status"
    path.write_text(
        "Package: libusb-1.0-0\nStatus: install ok installed\nVersion: 2:1.0.26-1\n\n"
        f"Package: {package}\nStatus: install ok {status}\nArchitecture: arm64\n"
        f"Version: {version}\nDescription: Support library for Edge TPU\n multi-line\n"
    )
    return path


def test_installed_libedgetpu_is_read_from_dpkg_status(tmp_path: Path) -> None:
    status = dpkg_status(tmp_path, "libedgetpu1-max", "16.0")
    assert pairing.installed_package(status) == ("libedgetpu1-max", "16.0")
    removed = dpkg_status(tmp_path, "libedgetpu1-std", "16.0", "config-files")
    assert pairing.installed_package(removed) is None
    assert pairing.installed_package(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("version", "distribution", "runtime", "verdict"),
    [
        ("16.0", "ai-edge-litert", "2.3.0", "mismatch"),  # Coral's apt build, any LiteRT
        ("16.0", "tflite-runtime", "2.5.0.post1", "match"),
        ("16.0", "tflite-runtime", "2.11.1", "match"),  # edgetpu#812: the last that works
        ("16.0", "tflite-runtime", "2.14.0", "mismatch"),
        ("15.0", "tflite-runtime", "2.12.0", "mismatch"),
        ("14.1", "tflite-runtime", "2.5.0", "mismatch"),
        ("16.0tf2.14.1-1", "tflite-runtime", "2.14.0", "match"),  # same TensorFlow
        ("16.0tf2.16.1-1", "tflite-runtime", "2.14.0", "mismatch"),
        ("16.0pp3", "tflite-runtime", "2.10.1", "match"),
        ("16.0tf2.16.1-1", "ai-edge-litert", "2.3.0", "unknown"),  # the child decides
        ("17.0~custom", "tflite-runtime", "2.14.0", "unknown"),
    ],
)
def test_pairing_verdicts(version: str, distribution: str, runtime: str, verdict: str) -> None:
    found = pairing.check(distribution, runtime, pairing.build_of("libedgetpu1-std", version))
    assert found.verdict == verdict, found.reason
    assert "feranick/libedgetpu" in found.hint


def test_no_package_is_unknown() -> None:
    found = pairing.check("ai-edge-litert", "2.3.0", None)
    assert found.verdict == "unknown"
    assert "child process" in found.reason


def test_build_mismatch_message_is_recognised() -> None:
    """libedgetpu's words when built for another TFLite (google-coral/edgetpu#214)."""
    from edgeinfer.backend import DeviceError as KitDeviceError
    from edgeinfer.backend import ModelError, translated
    from edgeinfer.backends.edgetpu.errors import OPEN_RULES, is_mismatch

    native = RuntimeError(
        "Internal: Unsupported data type in custom op handler: 24348008Node number 2 "
        "(EdgeTpuDelegateForCustomOp) failed to prepare."
    )
    error = translated(native, "edgetpu cannot open m.tflite", OPEN_RULES, ModelError)
    assert isinstance(error, KitDeviceError)
    assert is_mismatch(error)


def test_the_edge_tpu_never_runs_on_tensorflow_lite(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from edgeinfer.backends.litert import runtime as lookup

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            None
            if name in ("ai_edge_litert", "tflite_runtime")
            else object()
            if name == "tensorflow"
            else real(name, *a)
        ),
    )
    lookup._find.cache_clear()
    lookup.availability.cache_clear()
    try:
        assert lookup.availability(allow_tensorflow=True).available  # litert may use tf.lite
        for_edgetpu = lookup.availability(allow_tensorflow=False)
        assert not for_edgetpu.available
        assert "tf.lite" in for_edgetpu.reason
    finally:
        lookup._find.cache_clear()
        lookup.availability.cache_clear()


# --- the first invoke in a child process, the shared delegate: a stand-in libedgetpu ---------


@pytest.fixture
def fake_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roots: Roots) -> Path:
    """A compiled stand-in libedgetpu (tests/fake_libedgetpu.py), found by the backend's real
    search through LD_LIBRARY_PATH, and a plugged, accessible USB Accelerator."""
    import fake_libedgetpu

    built = fake_libedgetpu.build(tmp_path / "lib")
    if built is None:
        pytest.skip("no C compiler to build the stand-in libedgetpu")
    env = {"LD_LIBRARY_PATH": str(built.parent)}
    monkeypatch.setattr(edgetpu, "find_library", lambda: library.find_library("linux", env))
    monkeypatch.setattr(edgetpu.EdgeTpuBackend, "roots", roots)
    monkeypatch.setattr(probe.os, "access", lambda path, mode: True)
    monkeypatch.delenv("FAKE_EDGETPU_MODE", raising=False)
    plug_usb(roots)
    return built


def created_delegates(path: Path) -> int:
    import ctypes

    return int(ctypes.CDLL(str(path)).fake_created())


@pytest.mark.backend("litert")
def test_first_invoke_runs_once_in_a_child_then_here(variants: Path, fake_library: Path) -> None:
    model_path = variants / "model_edgetpu.tflite"
    with edgeinfer.load(model_path, device="edgetpu", fallback=False) as model:
        assert model.backend == "edgetpu"
        details = model._backend.details()  # type: ignore[attr-defined]
        assert details["first invoke"].startswith("completed in a child process in")
        assert str(fake_library) in details["delegate"]
        model.run(np.zeros((1, 32, 32, 3), np.float32))
    assert created_delegates(fake_library) == 1  # this process's one; the child had its own
    with edgeinfer.load(model_path, device="edgetpu", fallback=False) as again:
        details = again._backend.details()  # type: ignore[attr-defined]
        assert details["first invoke"].endswith("(earlier in this process)")


@pytest.mark.backend("litert")
def test_a_crashing_first_invoke_is_an_error_not_a_dead_process(
    variants: Path, fake_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libedgetpu built for another TFLite segfaults (edgetpu#812): here the child dies, this
    process gets a DeviceError naming the signal, and the chain falls back to the CPU model."""
    monkeypatch.setenv("FAKE_EDGETPU_MODE", "crash")
    with pytest.raises(DeviceError, match=r"SIGSEGV.*kept out of this process") as info:
        edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu", fallback=False)
    assert "feranick/libedgetpu" in str(info.value)
    assert created_delegates(fake_library) == 0  # never loaded here
    with edgeinfer.load(variants) as model:  # the folder: edgetpu fails, the CPU variant serves
        assert (model.backend, model.device) == ("litert", "cpu")
        assert "SIGSEGV" in model.attempts[0].reason


@pytest.mark.backend("litert")
def test_a_crash_with_a_known_mismatched_build_is_unavailable_with_the_fix(
    variants: Path, fake_library: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_EDGETPU_MODE", "crash")
    status = dpkg_status(tmp_path, "libedgetpu1-std", "16.0")
    monkeypatch.setattr(edgetpu.EdgeTpuBackend, "dpkg_status", status)
    with pytest.raises(BackendUnavailable, match="edgetpu#812") as info:
        edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu", fallback=False)
    assert info.value.hint is not None
    assert "16.0tf" in info.value.hint


@pytest.mark.backend("litert")
def test_without_the_check_the_crash_takes_the_process(variants: Path, fake_library: Path) -> None:
    """What the child process protects from: first_invoke_check=False, and the same stand-in
    kills the process that loads it (run in a subprocess here)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import edgeinfer\n"
        "from edgeinfer._planning.detect import Roots\n"
        "from edgeinfer.backends.edgetpu import backend as edgetpu, diagnosis\n"
        "model, library, fake_sys, fake_dev = sys.argv[1:]\n"
        "edgetpu.find_library = lambda: library\n"
        "edgetpu.EdgeTpuBackend.roots = Roots(Path(fake_sys), Path(fake_dev), system='Linux')\n"
        "diagnosis.os.access = lambda path, mode: True\n"
        "options = {'edgetpu': {'first_invoke_check': False}}\n"
        "edgeinfer.load(model, device='edgetpu', fallback=False, options=options)\n"
        "print('survived')\n"
    )
    roots = edgetpu.EdgeTpuBackend.roots
    args = [
        str(variants / "model_edgetpu.tflite"),
        str(fake_library),
        str(roots.sys),
        str(roots.dev),
    ]
    env = {**os.environ, "FAKE_EDGETPU_MODE": "crash", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode < 0, done.stdout + done.stderr  # killed by a signal
    assert "survived" not in done.stdout


@pytest.mark.backend("litert")
def test_first_invoke_check_can_be_skipped(variants: Path, fake_library: Path) -> None:
    options = {"edgetpu": {"first_invoke_check": False}}
    path = variants / "model_edgetpu.tflite"
    with edgeinfer.load(path, device="edgetpu", fallback=False, options=options) as model:
        details = model._backend.details()  # type: ignore[attr-defined]
        assert details["first invoke"].startswith("not checked")
    with pytest.raises(edgeinfer.ConfigurationError, match="first_invoke_check"):
        edgeinfer.load(
            path, device="edgetpu", fallback=False, options={"first_invoke_check": "yes"}
        )


@pytest.mark.backend("litert")
def test_no_child_when_already_isolated(
    variants: Path, fake_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Isolated:
        name = "edgeinfer:edgetpu"

    monkeypatch.setattr(edgetpu.multiprocessing, "current_process", lambda: Isolated())
    with edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu") as model:
        details = model._backend.details()  # type: ignore[attr-defined]
        assert "isolate=True" in details["first invoke"]


@pytest.mark.backend("litert")
def test_absent_device_in_the_child_is_a_device_error_here(
    variants: Path, fake_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's polite failure ('Failed to load delegate') is not cached: this process tries
    and says what libedgetpu said."""
    monkeypatch.setenv("FAKE_EDGETPU_MODE", "absent")
    with pytest.raises(DeviceError, match="Failed to open device"):
        edgeinfer.load(variants / "model_edgetpu.tflite", device="edgetpu", fallback=False)
    assert first_invoke._cache == {}


@pytest.mark.backend("litert")
def test_pooled_interpreters_share_one_delegate(variants: Path, fake_library: Path) -> None:
    """libedgetpu's delegate holds only its device context; Prepare writes into each
    interpreter's own context: one delegate serves every interpreter of the pool."""
    options = {"edgetpu": {"interpreters": 3, "first_invoke_check": False}}
    x = np.zeros((1, 32, 32, 3), np.float32)
    path = variants / "model_edgetpu.tflite"
    with edgeinfer.load(path, device="edgetpu", fallback=False, options=options) as model:
        pool = model._backend._pool  # type: ignore[attr-defined]
        held = [pool.acquire(((1, 32, 32, 3),)), pool.acquire(((1, 32, 32, 3),))]
        model.run(x)
        assert pool.created == 3
        for slot in held:
            pool.release(slot)
        delegates = {id(d) for i in pool.interpreters() for d in i._delegates}
        assert len(delegates) == 1
        assert "one delegate shared" in model.explain()
    assert created_delegates(fake_library) == 1


def test_edgetpu_pool_defaults_to_one_interpreter() -> None:
    assert edgetpu.EdgeTpuBackend.default_interpreters == 1


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
