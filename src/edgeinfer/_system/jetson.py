"""Jetson: GPU load and clock from sysfs, and the nvpmodel power mode, all readable without root.

Sources:
- jetson_stats ``jtop/core/gpu.py`` (find_igpu, igpu_read_status, igpu_read_freq): the GPU is the
  ``/sys/class/devfreq/<dev>`` whose ``device/of_node/name`` is gpu, gp10b, gv11b or ga10b (gm20b
  added for TX1); ``<dev>/{cur_freq,max_freq}`` are in Hz and ``<dev>/device/load`` in per-mille.
- older and fixed paths seen on L4T boards: ``/sys/devices/gpu.0/load``,
  ``/sys/devices/platform/gpu.0/load``, ``/sys/devices/17000000.gv11b/load`` (Xavier),
  ``/sys/devices/17000000.ga10b/load`` and ``/sys/devices/platform/bus@0/17000000.gpu/load``
  (Orin), ``/sys/devices/57000000.gpu/load`` (Nano).
- power mode: ``/var/lib/nvpmodel/status`` (``pmode:0002``, written by nvpmodel, world-readable)
  and the names in ``/etc/nvpmodel.conf`` (``< POWER_MODEL ID=2 NAME=MAXN_SUPER >``). jtop runs
  ``nvpmodel -q`` instead; we spawn nothing.
- a Jetson says ``nvidia,tegra...`` in ``/sys/firmware/devicetree/base/compatible`` (also
  ``/proc/device-tree/compatible``); that check keeps other boards' GPU devfreq nodes out.

``/var`` and ``/etc`` are read under the parent of ``roots.sys`` (``/`` on a real machine), so a
fake tree keeps them next to its ``sys`` folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgeinfer._planning.detect import Roots
from edgeinfer._system.sysfs import Notes, read_int, read_text
from edgeinfer._types import _ToDict

__all__ = ["JETSON_GPU_NODES", "JetsonHealth", "read_jetson"]

JETSON_GPU_NODES = frozenset({"gpu", "gm20b", "gp10b", "gv11b", "ga10b"})
_FIXED_LOAD_NODES = (
    "devices/gpu.0/load",
    "devices/platform/gpu.0/load",
    "devices/17000000.gv11b/load",
    "devices/17000000.ga10b/load",
    "devices/platform/bus@0/17000000.gpu/load",
    "devices/57000000.gpu/load",
)
_PMODE = re.compile(r"pmode:\s*([0-9]{1,6})")


@dataclass(frozen=True, slots=True)
class JetsonHealth(_ToDict):
    """The integrated GPU of an NVIDIA Jetson and the board's power mode.

    ``gpu_load_percent`` is the driver's busy figure (per-mille / 10); ``gpu_mhz`` and
    ``gpu_max_mhz`` come from devfreq; ``power_mode`` is the nvpmodel name (``"MAXN"``,
    ``"15W"``), ``power_mode_id`` its number; ``source`` is the load node that answered.
    """

    gpu_load_percent: float | None
    gpu_mhz: float | None
    gpu_max_mhz: float | None
    power_mode: str | None
    power_mode_id: int | None
    source: str | None


def _is_tegra(roots: Roots) -> tuple[bool, str]:
    for path in (
        roots.sys / "firmware" / "devicetree" / "base" / "compatible",
        roots.proc / "device-tree" / "compatible",
    ):
        text, _ = read_text(path)
        if text is not None:
            if "nvidia,tegra" in text:
                return True, ""
            return False, "not a Jetson: the device tree does not say nvidia,tegra"
    return False, "not a Jetson: no device tree compatible string"


def _gpu_devfreq(roots: Roots) -> Path | None:
    folder = roots.sys / "class" / "devfreq"
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        name, _ = read_text(entry / "device" / "of_node" / "name")
        if name in JETSON_GPU_NODES:
            return entry
    return None


def _mhz(path: Path, notes: Notes, field: str) -> float | None:
    hz = read_int(path, notes, field)
    return None if hz is None or hz <= 0 else hz / 1e6


def _power_mode(roots: Roots, notes: Notes) -> tuple[str | None, int | None]:
    root = roots.sys.parent
    status, reason = read_text(root / "var" / "lib" / "nvpmodel" / "status")
    match = _PMODE.search(status or "")
    if match is None:
        notes.append(("jetson.power_mode", reason or f"no pmode in nvpmodel status {status!r}"))
        return None, None
    mode = int(match.group(1))
    conf, _ = read_text(root / "etc" / "nvpmodel.conf")
    named = re.search(rf"<\s*POWER_MODEL\s+ID={mode}\s+NAME=([^\s>]+)", conf or "")
    if named is None:
        notes.append(("jetson.power_mode", f"mode {mode} has no name in /etc/nvpmodel.conf"))
        return None, mode
    return named.group(1), mode


def read_jetson(roots: Roots, notes: Notes) -> JetsonHealth | None:
    """GPU load, GPU clock and power mode of a Jetson; ``None`` with the reason elsewhere."""
    tegra, why = _is_tegra(roots)
    if not tegra:
        notes.append(("jetson", why))
        return None
    devfreq = _gpu_devfreq(roots)
    candidates = [devfreq / "device" / "load"] if devfreq is not None else []
    candidates += [roots.sys / node for node in _FIXED_LOAD_NODES]
    load_node = next((path for path in candidates if path.is_file()), None)
    load = None
    if load_node is None:
        notes.append(("jetson.gpu_load_percent", "no GPU load node in devfreq or gpu.0"))
    else:
        per_mille = read_int(load_node, notes, "jetson.gpu_load_percent")
        load = None if per_mille is None else per_mille / 10.0
    if devfreq is None:
        notes.append(("jetson.gpu_mhz", "no GPU devfreq node under /sys/class/devfreq"))
        current = maximum = None
    else:
        current = _mhz(devfreq / "cur_freq", notes, "jetson.gpu_mhz")
        maximum = _mhz(devfreq / "max_freq", notes, "jetson.gpu_max_mhz")
    mode, mode_id = _power_mode(roots, notes)
    source = None if load_node is None else str(load_node)
    return JetsonHealth(load, current, maximum, mode, mode_id, source)
