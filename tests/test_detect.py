"""Device detection on fake sysfs, /dev and /proc trees (no hardware needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgeinfer
from edgeinfer._planning.detect import Roots, detect_devices
from fake_tree import fake_roots, touch


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    found = fake_roots(tmp_path)
    touch(found.proc / "cpuinfo", "processor\t: 0\nmodel name\t: Test CPU 9000\n")
    return found


def kinds(found: tuple[edgeinfer.Device, ...]) -> list[str]:
    return [device.id for device in found]


def test_bare_machine_has_only_the_cpu(roots: Roots) -> None:
    found = detect_devices(roots)
    assert kinds(found) == ["cpu"]
    assert found[0].name == "Test CPU 9000"


@pytest.mark.parametrize(("vendor", "product"), [("1a6e", "089a"), ("18d1", "9302")])
def test_usb_edgetpu_before_and_after_firmware(roots: Roots, vendor: str, product: str) -> None:
    entry = roots.sys / "bus" / "usb" / "devices" / "2-1"
    touch(entry / "idVendor", vendor + "\n")
    touch(entry / "idProduct", product + "\n")
    touch(roots.sys / "bus" / "usb" / "devices" / "1-1" / "idVendor", "046d\n")
    found = detect_devices(roots)
    assert kinds(found) == ["cpu", "edgetpu:usb:0"]
    assert "Coral USB" in found[1].name


def test_pcie_edgetpu_from_sysfs_or_apex_node(roots: Roots) -> None:
    touch(roots.dev / "apex_0")
    assert kinds(detect_devices(roots)) == ["cpu", "edgetpu:pci:0"]
    entry = roots.sys / "bus" / "pci" / "devices" / "0000:03:00.0"
    touch(entry / "vendor", "0x1ac1\n")
    touch(entry / "device", "0x089a\n")
    found = detect_devices(roots)
    assert kinds(found) == ["cpu", "edgetpu:pci:0"]
    assert found[1].source == "pci 1ac1:089a"


def test_nvidia_gpu_from_the_driver(roots: Roots) -> None:
    touch(
        roots.proc / "driver" / "nvidia" / "gpus" / "0000:01:00.0" / "information",
        "Model: \t\t NVIDIA H200\nIRQ: 1\n",
    )
    found = detect_devices(roots)
    assert kinds(found) == ["cpu", "gpu:0"]
    assert found[1].name == "NVIDIA H200"


def test_jetson_gpu(roots: Roots) -> None:
    touch(roots.dev / "nvhost-gpu")
    touch(roots.proc / "device-tree" / "model", "NVIDIA Jetson Orin Nano\x00")
    found = detect_devices(roots)
    assert kinds(found) == ["cpu", "gpu:0"]
    assert found[1].name == "NVIDIA Jetson Orin Nano"


def test_intel_gpu_and_npu(roots: Roots) -> None:
    touch(roots.dev / "dri" / "renderD128")
    touch(roots.sys / "class" / "drm" / "renderD128" / "device" / "vendor", "0x8086\n")
    touch(roots.dev / "accel" / "accel0")
    touch(roots.sys / "class" / "accel" / "accel0" / "device" / "vendor", "0x8086\n")
    found = detect_devices(roots)
    assert kinds(found) == ["cpu", "npu:0", "gpu:0"]
    assert {d.name for d in found[1:]} == {"Intel NPU", "Intel GPU"}


def test_apple_silicon(roots: Roots) -> None:
    apple = Roots(roots.sys, roots.dev, roots.proc, "Darwin", "arm64")
    assert kinds(detect_devices(apple)) == ["cpu", "gpu:0", "npu:0"]


def test_unreadable_tree_never_raises(tmp_path: Path) -> None:
    missing = Roots(tmp_path / "a", tmp_path / "b", tmp_path / "c", "Linux", "aarch64")
    found = detect_devices(missing)
    assert kinds(found) == ["cpu"]


def test_public_devices_is_cached_and_serialisable() -> None:
    first = edgeinfer.devices()
    assert first[0].kind == "cpu"
    assert edgeinfer.devices() is first
    assert edgeinfer.devices(refresh=True) == first
    assert all(isinstance(device.to_dict(), dict) for device in first)
