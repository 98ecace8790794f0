"""Why a Rockchip NPU cannot be used here: not a Rockchip board with an NPU, the RKNPU driver not
loaded, Rockchip's runtime library (``librknnrt.so``) or ``rknn-toolkit-lite2`` missing.

Cheap signals only (``/proc/device-tree/compatible``, ``/dev/dri`` render nodes of the RKNPU
driver or ``/dev/rknpu``, ``ctypes.util.find_library``, ``importlib.util.find_spec``), with the
filesystem roots as a parameter so tests describe a board as a fake tree.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from edgeinfer.backend import Roots, rockchip_npu_nodes, rockchip_soc

__all__ = ["DRIVER_HINT", "LIBRARY_HINT", "PACKAGE_HINT", "NpuDiagnosis", "diagnose"]

PACKAGE_HINT = (
    "on the board (Linux aarch64): pip install rknn-toolkit-lite2 (edgeinfer's 'rknn' extra); "
    "convert models to .rknn on a PC with rknn-toolkit2"
)
LIBRARY_HINT = (
    "copy librknnrt.so from Rockchip's rknn-toolkit2 repository (rknpu2/runtime/Linux/"
    "librknn_api/aarch64/) to /usr/lib, matching the RKNPU driver's version"
)
DRIVER_HINT = (
    "boot a kernel with Rockchip's RKNPU driver (the board vendor's BSP or Armbian's vendor "
    "kernel); 'dmesg | grep -i rknpu' shows it loading"
)
NOT_A_BOARD_HINT = (
    ".rknn models run on Rockchip NPUs (RK3588, RK3576, RK356x, RK3562, RV1106); elsewhere use "
    "the ONNX model the .rknn was converted from"
)


@dataclass(frozen=True, slots=True)
class NpuDiagnosis:
    usable: bool
    reason: str
    hint: str | None = None
    soc: str | None = None


def diagnose(
    roots: Roots | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
    has_package: Callable[[], bool] = lambda: importlib.util.find_spec("rknnlite") is not None,
) -> NpuDiagnosis:
    """What stands between this machine and a working Rockchip NPU; ``usable`` when nothing."""
    roots = roots or Roots()
    soc = rockchip_soc(roots)
    if soc is None:
        return NpuDiagnosis(
            False, "this is not a Rockchip board with an NPU (no rockchip SoC with an NPU in "
            "/proc/device-tree/compatible)", NOT_A_BOARD_HINT,
        )  # fmt: skip
    if not rockchip_npu_nodes(roots):
        return NpuDiagnosis(
            False, f"{soc.upper()} found, but the RKNPU driver is not loaded (no RKNPU render "
            "node in /dev/dri, no /dev/rknpu)", DRIVER_HINT, soc,
        )  # fmt: skip
    if not has_package():
        return NpuDiagnosis(False, "rknn-toolkit-lite2 is not installed", PACKAGE_HINT, soc)
    if find_library("rknnrt") is None:
        return NpuDiagnosis(
            False, "Rockchip's runtime library librknnrt.so is not installed", LIBRARY_HINT, soc
        )
    return NpuDiagnosis(True, f"{soc.upper()} NPU with the RKNPU driver", None, soc)
