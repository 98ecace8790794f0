"""NPUs that are not ``/dev/accel`` devices, from cheap signals: Rockchip's RKNPU (the board's
device tree and the driver's DRM render node), Hailo's PCIe modules (``/dev/hailoN``), Qualcomm's
Hexagon NPU (Windows on Arm, or a Qualcomm board's FastRPC node to the compute DSP).

Like ``detect``, every reader takes the filesystem roots, so tests describe a board as a fake
tree. The backends of these NPUs (``rknn``, ``hailo``; QNN through ``onnxruntime``) use the same
readers to say why an NPU cannot be used.
"""

from __future__ import annotations

from pathlib import Path

from edgeinfer._planning.detect import Roots, read_sysfs
from edgeinfer._types import Device

__all__ = [
    "ROCKCHIP_NPU_SOCS",
    "device_tree_compatible",
    "hailo_nodes",
    "is_rknpu_node",
    "qualcomm_npu",
    "rockchip_npu_nodes",
    "rockchip_soc",
    "vendor_npus",
]

# Rockchip SoCs with an NPU, as their device-tree "compatible" names them.
ROCKCHIP_NPU_SOCS = ("rk3588", "rk3576", "rk3568", "rk3566", "rk3562", "rv1106", "rv1103",
                     "rv1126b", "rk2118")  # fmt: skip


def device_tree_compatible(roots: Roots) -> list[str]:
    """The board's ``/proc/device-tree/compatible`` entries (NUL-separated), lower case."""
    text = read_sysfs(roots.proc / "device-tree" / "compatible") or ""
    return [entry.strip().lower() for entry in text.split("\x00") if entry.strip()]


def rockchip_soc(roots: Roots) -> str | None:
    """The Rockchip SoC with an NPU this board is (``"rk3588"``), from the device tree."""
    for entry in device_tree_compatible(roots):
        vendor, _, chip = entry.partition(",")
        if vendor == "rockchip":
            for soc in ROCKCHIP_NPU_SOCS:
                if chip.startswith(soc):
                    return soc
    return None


def is_rknpu_node(roots: Roots, name: str) -> bool:
    """True when DRM node ``name`` (``renderD129``) belongs to Rockchip's RKNPU driver."""
    uevent = read_sysfs(roots.sys / "class" / "drm" / name / "device" / "uevent") or ""
    return "rknpu" in uevent.lower()


def rockchip_npu_nodes(roots: Roots) -> list[Path]:
    """The RKNPU driver's device nodes: DRM render nodes (driver 0.9 and later), or the older
    ``/dev/rknpu`` misc device."""
    nodes = [n for n in sorted(roots.dev.glob("dri/renderD*")) if is_rknpu_node(roots, n.name)]
    legacy = roots.dev / "rknpu"
    return nodes or ([legacy] if legacy.exists() else [])


def hailo_nodes(roots: Roots) -> list[Path]:
    """HailoRT's PCIe driver nodes (``/dev/hailo0``...)."""
    return sorted(n for n in roots.dev.glob("hailo[0-9]*") if n.name[5:].isdigit())


def qualcomm_npu(roots: Roots) -> str | None:
    """Where a Qualcomm Hexagon NPU (QNN's HTP) shows itself, or ``None``: Windows on Arm
    (Snapdragon X), or a Qualcomm board whose FastRPC node to the compute DSP exists."""
    if roots.os_name() == "Windows" and roots.arch().lower() in ("arm64", "aarch64"):
        return "platform (Windows on Arm)"
    if any(entry.startswith("qcom,") for entry in device_tree_compatible(roots)):
        for name in ("fastrpc-cdsp", "fastrpc-cdsp-secure", "adsprpc-smd"):
            if (roots.dev / name).exists():
                return str(roots.dev / name)
    return None


def vendor_npus(roots: Roots, start: int) -> list[Device]:
    """NPUs that are not /dev/accel devices: Rockchip's RKNPU, Hailo's PCIe modules, Qualcomm's
    Hexagon NPU. Each carries its vendor in ``details``."""
    found: list[Device] = []

    def add(name: str, source: str, details: tuple[tuple[str, str], ...]) -> None:
        index = start + len(found)
        found.append(Device("npu", index, name, f"npu:{index}", source, details))

    soc = rockchip_soc(roots)
    nodes = rockchip_npu_nodes(roots)
    if soc and nodes:
        add(f"Rockchip {soc.upper()} NPU", str(nodes[0]), (("vendor", "rockchip"), ("soc", soc)))
    for node in hailo_nodes(roots):
        add("Hailo AI accelerator", str(node), (("vendor", "hailo"),))
    qualcomm = qualcomm_npu(roots)
    if qualcomm:
        add("Qualcomm Hexagon NPU", qualcomm, (("vendor", "qualcomm"),))
    return found
