"""Find the accelerators this machine has, from cheap signals only: sysfs, /dev, /proc, platform.

Nothing here imports a runtime or loads a driver. "Found" means "present", not "usable": only a
backend that opens a model on it proves that. Every reader takes its filesystem roots as
parameters, so tests describe a machine as a fake tree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer._types import Device

__all__ = [
    "EDGETPU_PCI_IDS",
    "EDGETPU_USB_IDS",
    "Roots",
    "detect_devices",
    "devices",
    "edgetpu_pci",
    "edgetpu_usb",
    "read_sysfs",
]

# Coral Edge TPU USB ids: Global Unichip before its firmware is loaded, Google after.
EDGETPU_USB_IDS: dict[tuple[str, str], str] = {
    ("1a6e", "089a"): "Coral USB Accelerator (firmware not loaded yet)",
    ("18d1", "9302"): "Coral USB Accelerator",
}
EDGETPU_PCI_IDS: dict[tuple[str, str], str] = {("1ac1", "089a"): "Coral PCIe/M.2 Accelerator"}
_PCI_VENDORS = {
    "0x8086": "Intel",
    "0x10de": "NVIDIA",
    "0x1002": "AMD",
    "0x13b5": "Arm",
    "0x17cb": "Qualcomm",
}


@dataclass(frozen=True, slots=True)
class Roots:
    """Where to read the system from; tests point these at fake trees."""

    sys: Path = Path("/sys")
    dev: Path = Path("/dev")
    proc: Path = Path("/proc")
    system: str = ""
    machine: str = ""

    def os_name(self) -> str:
        return self.system or platform.system()

    def arch(self) -> str:
        return self.machine or platform.machine()


def read_sysfs(path: Path) -> str | None:
    """A sysfs or procfs value, stripped; ``None`` when it cannot be read."""
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _cpu(roots: Roots) -> Device:
    name = None
    cpuinfo = read_sysfs(roots.proc / "cpuinfo") or ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            name = value.strip()
            break
    name = name or platform.processor() or roots.arch() or "CPU"
    cores = os.cpu_count()
    details = (("cores", str(cores)),) if cores else ()
    return Device("cpu", 0, name, "cpu", "platform", details)


def _nvidia_gpus(roots: Roots) -> list[Device]:
    found: list[Device] = []
    info_root = roots.proc / "driver" / "nvidia" / "gpus"
    entries = sorted(info_root.iterdir()) if info_root.is_dir() else []
    for index, entry in enumerate(entries):
        text = read_sysfs(entry / "information") or ""
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in text.splitlines()
                if line.startswith("Model")
            ),
            "NVIDIA GPU",
        )
        found.append(
            Device("gpu", index, model, f"gpu:{index}", "nvidia-driver", (("bus", entry.name),))
        )
    if not found:
        nodes = sorted(p for p in roots.dev.glob("nvidia[0-9]*") if p.name[6:].isdigit())
        for index, node in enumerate(nodes):
            found.append(Device("gpu", index, "NVIDIA GPU", f"gpu:{index}", f"{node}"))
    jetson = (roots.dev / "nvhost-gpu").exists() or (roots.dev / "nvgpu").is_dir()
    if not found and jetson:
        model = read_sysfs(roots.proc / "device-tree" / "model") or "NVIDIA Jetson GPU"
        found.append(Device("gpu", 0, model.rstrip("\x00"), "gpu:0", "jetson"))
    return found


def _drm_gpus(roots: Roots, start: int) -> list[Device]:
    """Render nodes of non-NVIDIA GPUs (Intel, AMD, Arm Mali): what OpenVINO and others use."""
    found: list[Device] = []
    for node in sorted(roots.dev.glob("dri/renderD*")):
        vendor = read_sysfs(roots.sys / "class" / "drm" / node.name / "device" / "vendor")
        if vendor == "0x10de" or _npus_module().is_rknpu_node(roots, node.name):
            continue  # NVIDIA is reported through its driver above; a Rockchip NPU is no GPU
        label = _PCI_VENDORS.get(vendor or "", "unknown vendor")
        index = start + len(found)
        found.append(Device("gpu", index, f"{label} GPU", f"gpu:{index}", str(node)))
    return found


def _npus(roots: Roots) -> list[Device]:
    found: list[Device] = []
    for node in sorted(roots.dev.glob("accel/accel[0-9]*")):
        vendor = read_sysfs(roots.sys / "class" / "accel" / node.name / "device" / "vendor")
        label = (
            "Intel NPU" if vendor == "0x8086" else f"{_PCI_VENDORS.get(vendor or '', 'NPU')} NPU"
        )
        index = len(found)
        found.append(Device("npu", index, label, f"npu:{index}", str(node)))
    return found


def edgetpu_usb(roots: Roots) -> list[tuple[Path, tuple[str, str]]]:
    """The sysfs entries of Coral USB Accelerators, with their (vendor, product) ids."""
    folder = roots.sys / "bus" / "usb" / "devices"
    found = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        ids = (read_sysfs(entry / "idVendor") or "", read_sysfs(entry / "idProduct") or "")
        if ids in EDGETPU_USB_IDS:
            found.append((entry, ids))
    return found


def edgetpu_pci(roots: Roots) -> list[tuple[Path, tuple[str, str]]]:
    """The sysfs entries of Coral PCIe/M.2 Edge TPUs, with their (vendor, device) ids."""
    folder = roots.sys / "bus" / "pci" / "devices"
    found = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        vendor, device = read_sysfs(entry / "vendor") or "", read_sysfs(entry / "device") or ""
        ids = (vendor.removeprefix("0x"), device.removeprefix("0x"))
        if ids in EDGETPU_PCI_IDS:
            found.append((entry, ids))
    return found


def _edgetpus(roots: Roots) -> list[Device]:
    found: list[Device] = []
    for index, (entry, ids) in enumerate(edgetpu_usb(roots)):
        found.append(
            Device(
                "edgetpu",
                index,
                EDGETPU_USB_IDS[ids],
                f"edgetpu:usb:{index}",
                f"usb {ids[0]}:{ids[1]}",
                (("sysfs", entry.name),),
            )
        )
    pci_index = 0
    for entry, ids in edgetpu_pci(roots):
        found.append(
            Device(
                "edgetpu",
                len(found),
                EDGETPU_PCI_IDS[ids],
                f"edgetpu:pci:{pci_index}",
                f"pci {ids[0]}:{ids[1]}",
                (("sysfs", entry.name),),
            )
        )
        pci_index += 1
    if pci_index == 0:
        for node in sorted(roots.dev.glob("apex_[0-9]*")):
            found.append(
                Device(
                    "edgetpu",
                    len(found),
                    "Coral PCIe/M.2 Accelerator",
                    f"edgetpu:pci:{pci_index}",
                    str(node),
                )
            )
            pci_index += 1
    return found


def _apple(roots: Roots) -> list[Device]:
    if roots.os_name() != "Darwin" or roots.arch() != "arm64":
        return []
    return [
        Device("gpu", 0, "Apple GPU", "gpu:0", "platform"),
        Device("npu", 0, "Apple Neural Engine", "npu:0", "platform"),
    ]


def _npus_module() -> Any:
    from edgeinfer._planning import npus  # it reads through this module's Roots

    return npus


def detect_devices(roots: Roots | None = None) -> tuple[Device, ...]:
    """Every device found under ``roots``, the CPU first. Never raises."""
    roots = roots or Roots()
    found = [_cpu(roots)]
    for reader in (_apple, _nvidia_gpus, _npus, _edgetpus):
        try:
            found.extend(reader(roots))
        except OSError:
            continue
    with contextlib.suppress(OSError):
        found.extend(_npus_module().vendor_npus(roots, sum(d.kind == "npu" for d in found)))
    try:
        gpus = sum(d.kind == "gpu" for d in found)
        found.extend(_drm_gpus(roots, gpus))
    except OSError:
        pass
    return tuple(found)


@functools.lru_cache(maxsize=1)
def _cached_devices() -> tuple[Device, ...]:
    return detect_devices()


def devices(*, refresh: bool = False) -> tuple[Device, ...]:
    """The devices of this machine, the CPU first. Cached; ``refresh=True`` reads them again."""
    if refresh:
        _cached_devices.cache_clear()
    return _cached_devices()
