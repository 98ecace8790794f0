"""Why a Hailo accelerator cannot be used here: no ``/dev/hailoN`` (no module, or HailoRT's PCIe
driver not loaded) or no HailoRT Python package. Filesystem roots are a parameter for tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from edgeinfer.backend import Roots, hailo_nodes

__all__ = ["DRIVER_HINT", "PACKAGE_HINT", "HailoDiagnosis", "diagnose"]

PACKAGE_HINT = (
    "install HailoRT and its Python package (Raspberry Pi OS: 'sudo apt install hailo-all'; "
    "elsewhere the hailort .deb and the hailort wheel from Hailo's Developer Zone, same version)"
)
DRIVER_HINT = (
    "fit the Hailo-8/8L module (Raspberry Pi AI Kit/HAT+, M.2) and install HailoRT's PCIe "
    "driver ('sudo apt install hailo-all' on Raspberry Pi OS, hailort-pcie-driver elsewhere), "
    "then reboot; 'hailortcli fw-control identify' checks it"
)


@dataclass(frozen=True, slots=True)
class HailoDiagnosis:
    usable: bool
    reason: str
    hint: str | None = None
    devices: int = 0


def diagnose(
    roots: Roots | None = None,
    has_package: Callable[[], bool] = lambda: (
        importlib.util.find_spec("hailo_platform") is not None
    ),
) -> HailoDiagnosis:
    """What stands between this machine and a working Hailo device; ``usable`` when nothing."""
    nodes = hailo_nodes(roots or Roots())
    if not nodes:
        return HailoDiagnosis(False, "no Hailo device (/dev/hailo0 is absent)", DRIVER_HINT)
    if not has_package():
        return HailoDiagnosis(
            False, "HailoRT's Python package (hailo_platform) is not installed", PACKAGE_HINT,
            len(nodes),
        )  # fmt: skip
    return HailoDiagnosis(True, f"{len(nodes)} Hailo device(s) ({nodes[0]})", None, len(nodes))
