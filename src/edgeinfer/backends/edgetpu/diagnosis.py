"""Why an Edge TPU cannot be used: no library, no device, driver not bound, no permission, busy.

libedgetpu's own answer to every one of these is "Failed to load delegate". This module reads
cheap signals instead (the library file, USB ids and PCIe ids in sysfs, ``/dev/apex_N``, the USB
device node's permissions) and names the cause and the fix. Filesystem roots are parameters, so
tests describe a machine as a fake tree. sysfs exists on Linux only: elsewhere the device checks
are left to libedgetpu itself (its error is then explained by ``busy_reason``).

The Edge TPUs' ids are the detector's (``edgeinfer.devices()`` lists the same devices; a test
keeps the two tables equal). The scan is written here because a backend imports nothing of
edgeinfer but the public kit, ``edgeinfer.backend``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edgeinfer.backends.edgetpu.library import find_library, library_name, platform_key

__all__ = [
    "DEVICE_HINT",
    "EDGETPU_PCI_IDS",
    "EDGETPU_USB_IDS",
    "LIBRARY_HINT",
    "Diagnosis",
    "Roots",
    "SystemRoots",
    "busy_reason",
    "diagnose",
]

# Coral USB Accelerator: Global Unichip's ids until libedgetpu loads its firmware, Google's after.
EDGETPU_USB_IDS = frozenset({("1a6e", "089a"), ("18d1", "9302")})
EDGETPU_PCI_IDS = frozenset({("1ac1", "089a")})  # Coral PCIe / M.2 Accelerator

LIBRARY_HINT = (
    "install the Edge TPU runtime: on Debian/Ubuntu/Raspberry Pi OS add Coral's apt repository "
    "and 'sudo apt-get install libedgetpu1-std' (see https://coral.ai/docs/accelerator/"
    "get-started/), or a build that matches your LiteRT from "
    "https://github.com/feranick/libedgetpu/releases; on macOS and Windows use Coral's "
    "edgetpu_runtime installer (it puts libedgetpu.1.dylib in /usr/local/lib, edgetpu.dll in "
    "System32)"
)
DEVICE_HINT = (
    "plug in the Coral USB Accelerator (a USB 3 port is best), or for a PCIe/M.2 module install "
    "its driver ('sudo apt-get install gasket-dkms') and reboot"
)


class SystemRoots(Protocol):
    """Where the system is read from: ``sys`` and ``dev`` folders and the OS name."""

    @property
    def sys(self) -> Path: ...

    @property
    def dev(self) -> Path: ...

    def os_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Roots:
    """This machine's ``/sys`` and ``/dev``; tests pass fake trees instead."""

    sys: Path = Path("/sys")
    dev: Path = Path("/dev")
    system: str = ""

    def os_name(self) -> str:
        return self.system or platform.system()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _entries(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.iterdir()) if folder.is_dir() else ()


def _usb_entries(roots: SystemRoots) -> list[Path]:
    return [
        entry
        for entry in _entries(roots.sys / "bus" / "usb" / "devices")
        if (_read(entry / "idVendor"), _read(entry / "idProduct")) in EDGETPU_USB_IDS
    ]


def _pci_entries(roots: SystemRoots) -> list[Path]:
    found = []
    for entry in _entries(roots.sys / "bus" / "pci" / "devices"):
        ids = (
            _read(entry / "vendor").removeprefix("0x"),
            _read(entry / "device").removeprefix("0x"),
        )
        if ids in EDGETPU_PCI_IDS:
            found.append(entry)
    return found


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What stands between this machine and a working Edge TPU. ``usable`` means nothing does."""

    usable: bool
    cause: str  # "ok", "no-library", "no-device", "driver-not-bound", "no-permission"
    reason: str
    hint: str | None = None


def _usb_node(roots: SystemRoots, entry: Path) -> Path | None:
    bus, dev = _read(entry / "busnum"), _read(entry / "devnum")
    if not (bus.isdigit() and dev.isdigit()):
        return None
    return roots.dev / "bus" / "usb" / f"{int(bus):03d}" / f"{int(dev):03d}"


def diagnose(
    roots: SystemRoots | None = None,
    *,
    bus: str | None = None,
    library: Callable[[], str | None] | None = None,
    accessible: Callable[[Path], bool] | None = None,
) -> Diagnosis:
    """Check the library, then (on Linux) the devices on ``bus`` (``"usb"``, ``"pci"`` or both)."""
    roots = roots or Roots()
    library = library or find_library
    accessible = accessible or (lambda p: os.access(p, os.R_OK | os.W_OK))
    if library() is None:
        return Diagnosis(
            False,
            "no-library",
            f"the Edge TPU library {library_name()} (libedgetpu) is not installed",
            LIBRARY_HINT,
        )
    if roots.os_name() != "Linux":
        return Diagnosis(True, "ok", f"libedgetpu is present ({roots.os_name()}: no sysfs to read)")
    usb = _usb_entries(roots) if bus in (None, "usb") else []
    pci = _pci_entries(roots) if bus in (None, "pci") else []
    apex = sorted(roots.dev.glob("apex_[0-9]*")) if bus in (None, "pci") else []
    if not usb and not pci and not apex:
        where = {"usb": "USB (ids 1a6e:089a or 18d1:9302)", "pci": "PCIe (1ac1:089a, /dev/apex_N)"}
        looked = where[bus] if bus else " or ".join(where.values())
        return Diagnosis(False, "no-device", f"no Edge TPU found on {looked}", DEVICE_HINT)
    if pci and not apex:
        return Diagnosis(
            False,
            "driver-not-bound",
            f"a Coral PCIe Edge TPU is present ({pci[0].name}) but /dev/apex_0 is missing: "
            "the gasket/apex driver is not loaded",
            "sudo apt-get install gasket-dkms && sudo modprobe apex (or reboot)",
        )
    for node in [*apex, *(n for n in (_usb_node(roots, e) for e in usb) if n is not None)]:
        if node.exists() and not accessible(node):
            return Diagnosis(
                False,
                "no-permission",
                f"this user cannot open {node}",
                "install Coral's udev rules (they come with libedgetpu1-std) and re-plug the "
                "device, or add the user to the 'plugdev' (USB) / 'apex' (PCIe) group",
            )
    return Diagnosis(True, "ok", "an Edge TPU and libedgetpu are present")


def busy_reason(native_lines: Sequence[str]) -> str:
    """The message when everything looks right and the delegate still fails to load."""
    said = "; ".join(native_lines) or "no message"
    where = "" if platform_key() == "linux" else " (or, here without sysfs, is not plugged in)"
    return (
        "the Edge TPU is present and accessible but its delegate failed to load: it is most "
        "likely busy (one process at a time can use an Edge TPU) or needs re-plugging"
        f"{where} (libedgetpu said: {said})"
    )
