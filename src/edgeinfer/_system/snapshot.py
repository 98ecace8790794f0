"""``edgeinfer.health()``: one cheap snapshot of the machine a model runs on.

CPU use and load, memory, temperatures with their limits, CPU clocks, throttling (x86 counters,
Raspberry Pi firmware flags, NVIDIA clock reasons), a Jetson's GPU and power mode, Coral Edge TPU
temperature. Every value that cannot be read is ``None`` and its reason is in ``unavailable``;
the function never raises. psutil is imported here, on the first call, and nowhere else.

CPU use: ``interval > 0`` measures over that many seconds (it blocks). ``interval=0`` reports
the use since this thread's previous sample, like ``psutil.cpu_percent(None)``; the first call
in a thread has no previous sample, so it primes psutil and blocks ``PRIME_SECONDS`` (0.1 s)
rather than report psutil's meaningless first ``0.0``. ``cpu_interval`` says how many seconds
the figures cover (other ``psutil.cpu_percent`` calls in the same thread shorten that window).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edgeinfer._planning.detect import Roots
from edgeinfer._system.jetson import JetsonHealth, read_jetson
from edgeinfer._system.nvml import GpuHealth, read_nvml
from edgeinfer._system.summary import summarize
from edgeinfer._system.sysfs import Notes
from edgeinfer._system.thermal import (
    Temperature,
    read_apex,
    read_psutil_temperatures,
    read_thermal_zones,
)
from edgeinfer._system.throttle import (
    CpuFrequency,
    PiThrottled,
    ThrottleCount,
    read_cpu_frequencies,
    read_pi_throttled,
    read_psutil_frequencies,
    read_throttle_counts,
)
from edgeinfer._types import _ToDict

# The value types of the snapshot are re-exported so that the package can name them all here.
__all__ = [
    "PRIME_SECONDS",
    "CpuFrequency",
    "GpuHealth",
    "HealthSnapshot",
    "JetsonHealth",
    "PiThrottled",
    "Temperature",
    "ThrottleCount",
    "health",
]

PRIME_SECONDS = 0.1
T = TypeVar("T")
# Each thread's last CPU sample (monotonic time). Thread-local, not keyed by thread id: ids are
# reused once a thread ends, and a new thread must prime, not inherit a dead one's sample.
_last_sample = threading.local()


@dataclass(frozen=True, slots=True)
class HealthSnapshot(_ToDict):
    """The machine at one moment. ``None`` means unknown; the reason is in ``unavailable``.

    ``time`` is Unix seconds; ``system``/``machine`` the OS and architecture (no host name, no
    user data). CPU figures are percentages (``cpu_percent`` of the whole machine, 0-100;
    ``cpu_percent_per_core`` per logical core) over ``cpu_interval`` seconds. Memory figures
    are bytes; ``process_rss`` is this process's resident memory.
    """

    time: float
    system: str
    machine: str
    cpu_count: int | None
    cpu_percent: float | None
    cpu_percent_per_core: tuple[float, ...] | None
    cpu_interval: float | None
    load_average: tuple[float, float, float] | None
    memory_total: int | None
    memory_used: int | None
    memory_available: int | None
    process_rss: int | None
    temperatures: tuple[Temperature, ...]
    cpu_frequencies: tuple[CpuFrequency, ...]
    cpu_throttle_counts: tuple[ThrottleCount, ...]
    raspberry_pi: PiThrottled | None
    jetson: JetsonHealth | None
    gpus: tuple[GpuHealth, ...] | None
    unavailable: tuple[tuple[str, str], ...]

    def reason(self, field: str) -> str | None:
        """Why ``field`` (or a value inside it, ``temperatures[...]``) is unknown, if it is."""
        for name, why in self.unavailable:
            if name == field or name.startswith((f"{field}.", f"{field}[")):
                return why
        return None

    def summary(self) -> str:
        """A few lines for people: CPU, memory, the hottest sensor, throttling, accelerators."""
        return summarize(self)


def _guard(notes: Notes, field: str, default: T, read: Callable[..., T], *args: Any) -> T:
    """Run one reader; an unexpected error becomes a reason, never an exception."""
    try:
        return read(*args)
    except Exception as e:
        notes.append((field, f"{type(e).__name__}: {e}"))
        return default


def _cpu_use(psutil: Any, interval: float) -> tuple[float, tuple[float, ...], float]:
    previous: float | None = getattr(_last_sample, "time", None)
    start = time.monotonic()
    if interval > 0 or previous is None:
        psutil.cpu_percent(None)
        psutil.cpu_percent(None, percpu=True)
        time.sleep(interval if interval > 0 else PRIME_SECONDS)
        previous = start
    total = float(psutil.cpu_percent(None))
    cores = tuple(float(c) for c in psutil.cpu_percent(None, percpu=True))
    now = time.monotonic()
    _last_sample.time = now
    return total, cores, round(now - previous, 3)


def _memory(psutil: Any) -> tuple[int, int, int]:
    memory = psutil.virtual_memory()
    return int(memory.total), int(memory.used), int(memory.available)


def _load_average(notes: Notes) -> tuple[float, float, float] | None:
    getloadavg = getattr(os, "getloadavg", None)
    if getloadavg is None:
        notes.append(("load_average", "the OS has no load average (os.getloadavg, Windows)"))
        return None
    try:
        one, five, fifteen = getloadavg()
    except OSError as e:
        notes.append(("load_average", f"os.getloadavg failed: {e}"))
        return None
    return float(one), float(five), float(fifteen)


_CPU_FIELDS = ("cpu_percent", "cpu_percent_per_core", "cpu_interval")
_MEMORY_FIELDS = ("memory_total", "memory_used", "memory_available")
_PSUTIL_FIELDS = (*_CPU_FIELDS, *_MEMORY_FIELDS, "process_rss")


def _from_psutil(interval: float, notes: Notes) -> tuple[Any, dict[str, Any]]:
    """psutil (or ``None``) and the CPU, memory and RSS figures it gives."""
    values: dict[str, Any] = dict.fromkeys(_PSUTIL_FIELDS)
    try:
        import psutil
    except ImportError as e:
        notes.extend((field, f"psutil is not importable: {e}") for field in _PSUTIL_FIELDS)
        return None, values
    readers: tuple[tuple[tuple[str, ...], Callable[[], tuple[Any, ...]]], ...] = (
        (_CPU_FIELDS, lambda: _cpu_use(psutil, interval)),
        (_MEMORY_FIELDS, lambda: _memory(psutil)),
        (("process_rss",), lambda: (int(psutil.Process().memory_info().rss),)),
    )
    for fields, read in readers:
        try:
            values.update(zip(fields, read(), strict=True))
        except Exception as e:
            notes.extend((field, f"psutil: {type(e).__name__}: {e}") for field in fields)
    return psutil, values


def _temperatures(
    roots: Roots, psutil: Any, notes: Notes
) -> tuple[tuple[GpuHealth, ...] | None, list[Temperature]]:
    found: list[Temperature] = _guard(notes, "temperatures", [], read_thermal_zones, roots, notes)
    if psutil is not None and roots.sys == Path("/sys"):
        found += _guard(notes, "temperatures", [], read_psutil_temperatures, psutil, found, notes)
    found += _guard(notes, "temperatures", [], read_apex, roots, notes)
    no_gpus: tuple[tuple[GpuHealth, ...] | None, list[Temperature]] = (None, [])
    gpus, gpu_temperatures = _guard(notes, "gpus", no_gpus, read_nvml, notes)
    found += gpu_temperatures
    if not found:
        notes.append(("temperatures", "no thermal zone, hwmon sensor, Edge TPU or GPU reading"))
    return gpus, found


def _frequencies(roots: Roots, psutil: Any, notes: Notes) -> list[CpuFrequency]:
    found: list[CpuFrequency] = _guard(
        notes, "cpu_frequencies", [], read_cpu_frequencies, roots, notes
    )
    if found:
        return found
    if psutil is not None and roots.sys == Path("/sys"):
        return _guard(notes, "cpu_frequencies", [], read_psutil_frequencies, psutil, notes)
    notes.append(("cpu_frequencies", f"no cpufreq under {roots.sys}/devices/system/cpu"))
    return []


def health(roots: Roots | None = None, *, interval: float = 0.0) -> HealthSnapshot:
    """A snapshot of CPU, memory, temperatures, clocks, throttling and accelerators. Never raises.

    ``roots`` points the sysfs readers at another tree (tests); psutil's own sysfs-based
    readers (hwmon temperatures, its cpufreq fallback) are used only with the real ``/sys``.
    ``interval`` is the CPU measuring window in seconds (see the module docstring).
    """
    roots = roots or Roots()
    notes: Notes = []
    stamp = time.time()
    psutil, use = _from_psutil(interval if interval > 0 else 0.0, notes)
    cpu_count = os.cpu_count()
    if cpu_count is None:
        notes.append(("cpu_count", "os.cpu_count() could not tell"))
    load_average = _load_average(notes)
    gpus, temperatures = _temperatures(roots, psutil, notes)
    frequencies = _frequencies(roots, psutil, notes)
    counts: list[ThrottleCount] = _guard(
        notes, "cpu_throttle_counts", [], read_throttle_counts, roots, notes
    )
    if not counts:
        notes.append(("cpu_throttle_counts", "no thermal_throttle counters (x86 Linux only)"))
    raspberry_pi = _guard(notes, "raspberry_pi", None, read_pi_throttled, notes)
    jetson = _guard(notes, "jetson", None, read_jetson, roots, notes)
    return HealthSnapshot(
        time=stamp,
        system=roots.os_name(),
        machine=roots.arch(),
        cpu_count=cpu_count,
        load_average=load_average,
        temperatures=tuple(temperatures),
        cpu_frequencies=tuple(frequencies),
        cpu_throttle_counts=tuple(counts),
        raspberry_pi=raspberry_pi,
        jetson=jetson,
        gpus=gpus,
        unavailable=tuple(notes),
        **use,
    )
