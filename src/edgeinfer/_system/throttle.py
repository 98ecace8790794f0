"""CPU clocks and throttling: cpufreq, Linux thermal-throttle counters, Raspberry Pi firmware flags.

Sources:
- ``/sys/devices/system/cpu/cpuN/cpufreq/{scaling_cur_freq,cpuinfo_max_freq,scaling_max_freq}``
  in kHz (Linux Documentation/admin-guide/pm/cpufreq.rst). ``cpuinfo_cur_freq`` is skipped: it
  is often readable by root only.
- ``/sys/devices/system/cpu/cpuN/thermal_throttle/{core,package}_throttle_count``: x86 events
  since boot (Documentation/ABI/testing/sysfs-devices-system-cpu, arch/x86/.../therm_throt.c).
- ``vcgencmd get_throttled`` prints ``throttled=0x50005``; bits 0-3 are "now", bits 16-19 the
  same conditions "has occurred since boot" (Raspberry Pi documentation, "vcgencmd"). The older
  ``/sys/devices/platform/soc/soc:firmware/get_throttled`` is not read: the kernel marks it
  deprecated and logs a warning with a stack trace on first read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer._planning.detect import Roots
from edgeinfer._system.sysfs import Notes, numbered, read_int
from edgeinfer._types import _ToDict

__all__ = [
    "CpuFrequency",
    "PiThrottled",
    "ThrottleCount",
    "decode_pi_throttled",
    "parse_get_throttled",
    "read_cpu_frequencies",
    "read_pi_throttled",
    "read_psutil_frequencies",
    "read_throttle_counts",
]

VCGENCMD_TIMEOUT = 1.0
PI_FLAGS = ("under_voltage", "arm_frequency_capped", "throttled", "soft_temperature_limit")
_THROTTLED = re.compile(r"throttled=0x([0-9a-fA-F]{1,8})\b")


@dataclass(frozen=True, slots=True)
class CpuFrequency(_ToDict):
    """The clock of one core in MHz: now, the hardware maximum, and the OS policy's limit.

    ``cpu`` is ``None`` for one figure covering every core (psutil on macOS and Windows).
    ``limit_mhz`` below ``max_mhz`` means a governor or power mode caps the clock.
    """

    cpu: int | None
    current_mhz: float | None
    max_mhz: float | None
    limit_mhz: float | None = None
    source: str = "cpufreq"


@dataclass(frozen=True, slots=True)
class ThrottleCount(_ToDict):
    """Thermal-throttle events since boot on one CPU (x86 Linux); ``package`` is per socket."""

    cpu: int
    core: int | None
    package: int | None


@dataclass(frozen=True, slots=True)
class PiThrottled(_ToDict):
    """Raspberry Pi firmware flags from ``vcgencmd get_throttled``, decoded.

    The first four are the state now; the ``_occurred`` ones say it happened since boot.
    """

    raw: int
    under_voltage: bool
    arm_frequency_capped: bool
    throttled: bool
    soft_temperature_limit: bool
    under_voltage_occurred: bool
    arm_frequency_capped_occurred: bool
    throttled_occurred: bool
    soft_temperature_limit_occurred: bool

    def now(self) -> tuple[str, ...]:
        """The conditions active now, e.g. ``("under_voltage", "throttled")``."""
        return tuple(name for name in PI_FLAGS if getattr(self, name))

    def since_boot(self) -> tuple[str, ...]:
        """The conditions that have occurred since boot."""
        return tuple(name for name in PI_FLAGS if getattr(self, f"{name}_occurred"))


def decode_pi_throttled(value: int) -> PiThrottled:
    """Decode the ``get_throttled`` bit field: bits 0-3 now, bits 16-19 since boot."""
    now = [bool(value >> bit & 1) for bit in range(4)]
    since = [bool(value >> bit & 1) for bit in range(16, 20)]
    return PiThrottled(value, *now, *since)


def parse_get_throttled(text: str) -> int | None:
    """``"throttled=0x50005"`` -> ``0x50005``; ``None`` when the text holds no such field."""
    match = _THROTTLED.search(text)
    return int(match.group(1), 16) if match else None


def read_pi_throttled(notes: Notes, timeout: float = VCGENCMD_TIMEOUT) -> PiThrottled | None:
    """Run ``vcgencmd get_throttled`` when it is on PATH; ``None`` with the reason otherwise."""
    field = "raspberry_pi"
    tool = shutil.which("vcgencmd")
    if tool is None:
        notes.append((field, "vcgencmd is not on PATH (not a Raspberry Pi, or no firmware tools)"))
        return None
    try:
        done = subprocess.run(
            [tool, "get_throttled"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        notes.append((field, f"vcgencmd get_throttled did not answer within {timeout:g} s"))
        return None
    except OSError as e:
        notes.append((field, f"vcgencmd could not run: {e.strerror or e}"))
        return None
    value = parse_get_throttled(done.stdout) if done.returncode == 0 else None
    if value is None:
        said = (done.stderr or done.stdout).strip()[:200] or "no output"
        notes.append((field, f"vcgencmd get_throttled failed (exit {done.returncode}): {said}"))
        return None
    return decode_pi_throttled(value)


def _cpus(roots: Roots) -> list[tuple[int, Path]]:
    return numbered((roots.sys / "devices" / "system" / "cpu").glob("cpu[0-9]*"), "cpu")


def _mhz(path: Path, notes: Notes, field: str) -> float | None:
    khz = read_int(path, notes, field)
    if khz is not None and khz <= 0:
        notes.append((field, f"{path}: {khz} kHz is not a clock"))
        return None
    return None if khz is None else khz / 1000.0


def read_cpu_frequencies(roots: Roots, notes: Notes) -> list[CpuFrequency]:
    """Per-core clocks from cpufreq in sysfs; empty when the kernel exposes no cpufreq."""
    found = []
    for index, cpu in _cpus(roots):
        policy = cpu / "cpufreq"
        if not policy.is_dir():
            continue
        field = f"cpu_frequencies[cpu{index}]"
        current = _mhz(policy / "scaling_cur_freq", notes, f"{field}.current_mhz")
        maximum = _mhz(policy / "cpuinfo_max_freq", notes, f"{field}.max_mhz")
        limit = _mhz(policy / "scaling_max_freq", notes, f"{field}.limit_mhz")
        found.append(CpuFrequency(index, current, maximum, limit))
    return found


def read_psutil_frequencies(psutil: Any, notes: Notes) -> list[CpuFrequency]:
    """``psutil.cpu_freq(percpu=True)``; its ``0.0`` for an unknown maximum becomes ``None``."""
    reader = getattr(psutil, "cpu_freq", None)
    entries = reader(percpu=True) if reader is not None else None
    if not entries:
        notes.append(("cpu_frequencies", "no cpufreq in sysfs and psutil reports no CPU clock"))
        return []
    single = len(entries) == 1
    found = []
    for index, entry in enumerate(entries):
        cpu = None if single else index
        field = f"cpu_frequencies[{'all' if single else f'cpu{index}'}]"
        current = float(entry.current) if entry.current and entry.current > 0 else None
        maximum = float(entry.max) if entry.max and entry.max > 0 else None
        if current is None:
            notes.append((f"{field}.current_mhz", f"psutil reported {entry.current!r}"))
        if maximum is None:
            notes.append((f"{field}.max_mhz", f"psutil reported {entry.max!r} (unknown)"))
        found.append(CpuFrequency(cpu, current, maximum, None, "psutil"))
    return found


def read_throttle_counts(roots: Roots, notes: Notes) -> list[ThrottleCount]:
    """The x86 ``thermal_throttle`` counters of each CPU; empty where the kernel has none."""
    found = []
    for index, cpu in _cpus(roots):
        folder = cpu / "thermal_throttle"
        if not folder.is_dir():
            continue
        field = f"cpu_throttle_counts[cpu{index}]"
        core = read_int(folder / "core_throttle_count", notes, f"{field}.core")
        package = read_int(folder / "package_throttle_count", notes, f"{field}.package")
        found.append(ThrottleCount(index, core, package))
    return found
