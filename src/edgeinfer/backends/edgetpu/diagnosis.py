"""Why an Edge TPU cannot be used: no library, no device, driver not bound, no permission, busy.

libedgetpu's own answer to every one of these is "Failed to load delegate". This module reads
cheap signals instead (the library via ``ctypes.util.find_library``, USB ids and PCIe ids in sysfs,
``/dev/apex_N``, the USB device node's permissions) and names the cause and the fix. Filesystem
roots are parameters, so tests describe a machine as a fake tree.
"""

from __future__ import annotations

import ctypes.util
import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeinfer._planning.detect import Roots, edgetpu_pci, edgetpu_usb, read_sysfs

__all__ = ["LIBRARY_BY_PLATFORM", "Diagnosis", "diagnose", "find_library", "library_name"]

# The delegate library libedgetpu installs, by platform (as pycoral's utils/edgetpu.py names it).
LIBRARY_BY_PLATFORM = {
    "linux": "libedgetpu.so.1",
    "darwin": "libedgetpu.1.dylib",
    "win32": "edgetpu.dll",
}
LIBRARY_HINT = (
    "install the Edge TPU runtime: on Debian/Ubuntu/Raspberry Pi OS add Coral's apt repository "
    "and 'sudo apt-get install libedgetpu1-std' (see https://coral.ai/docs/accelerator/"
    "get-started/); on macOS and Windows use Coral's edgetpu_runtime installer"
)
DEVICE_HINT = (
    "plug in the Coral USB Accelerator (a USB 3 port is best), or for a PCIe/M.2 module install "
    "its driver ('sudo apt-get install gasket-dkms') and reboot"
)


def library_name(platform: str | None = None) -> str:
    """The file name of the delegate library on ``platform`` (default: this one)."""
    platform = platform or sys.platform
    return LIBRARY_BY_PLATFORM.get(platform, LIBRARY_BY_PLATFORM["linux"])


@functools.lru_cache(maxsize=1)
def find_library() -> str | None:
    """The delegate library's name if the loader can find it (cached), else ``None``."""
    return ctypes.util.find_library("edgetpu")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What stands between this machine and a working Edge TPU. ``usable`` means nothing does."""

    usable: bool
    cause: str  # "ok", "no-library", "no-device", "driver-not-bound", "no-permission"
    reason: str
    hint: str | None = None


def _usb_node(roots: Roots, entry: Path) -> Path | None:
    bus, dev = read_sysfs(entry / "busnum") or "", read_sysfs(entry / "devnum") or ""
    if not (bus.isdigit() and dev.isdigit()):
        return None
    return roots.dev / "bus" / "usb" / f"{int(bus):03d}" / f"{int(dev):03d}"


def diagnose(
    roots: Roots | None = None,
    *,
    bus: str | None = None,
    library: Callable[[], str | None] | None = None,
    accessible: Callable[[Path], bool] | None = None,
) -> Diagnosis:
    """Check the library, then the devices on ``bus`` (``"usb"``, ``"pci"`` or both)."""
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
    usb = [entry for entry, _ in edgetpu_usb(roots)] if bus in (None, "usb") else []
    pci = [entry for entry, _ in edgetpu_pci(roots)] if bus in (None, "pci") else []
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
    return (
        "the Edge TPU is present and accessible but its delegate failed to load: it is most "
        "likely busy (one process at a time can use an Edge TPU) or needs re-plugging "
        f"(libedgetpu said: {said})"
    )
