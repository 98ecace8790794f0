"""Temperatures: Linux thermal zones and their trip points, hwmon through psutil, Coral Edge TPUs.

Sources:
- thermal zones: ``/sys/class/thermal/thermal_zone*/{type,temp}`` and ``trip_point_N_{temp,type}``
  (Linux Documentation/driver-api/thermal/sysfs-api.rst), in millidegrees Celsius. Jetson zones
  are named ``CPU-therm``, ``GPU-therm``, ``SOC0-therm``, ``tj-therm`` ... and an offline
  sensor reads ``-256000`` (jetson_stats ``jtop/core/temperature.py``, TEMPERATURE_OFFLINE).
- Coral PCIe/M.2 Edge TPU: ``/sys/class/apex/apex_N/temp``, ``trip_point{0,1,2}_temp`` (the clock
  is divided at each: defaults 85/90/95 °C), ``hw_temp_warn1``/``hw_temp_warn2`` with
  ``hw_temp_warn{1,2}_en`` (warn2 drives the shutdown alarm line); all millidegrees (gasket-driver
  ``src/apex_driver.c``, ``apex_sysfs_attrs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer._planning.detect import Roots
from edgeinfer._system.sysfs import Notes, numbered, read_text
from edgeinfer._types import _ToDict

__all__ = [
    "Temperature",
    "parse_millidegrees",
    "read_apex",
    "read_psutil_temperatures",
    "read_thermal_zones",
]

# Outside this range a reading is an offline sensor or a driver placeholder, not a temperature.
PLAUSIBLE_CELSIUS = (-100.0, 250.0)
_MILLI = re.compile(r"[+-]?[0-9]{1,12}")
_TRIP = re.compile(r"trip_point_([0-9]+)_type")
_THROTTLING_TRIPS = ("passive", "hot")


@dataclass(frozen=True, slots=True)
class Temperature(_ToDict):
    """One temperature sensor in °C; ``celsius`` is ``None`` when it could not be read.

    ``high`` is where throttling starts (the lowest passive or hot trip point, or the sensor's own
    high mark); ``critical`` is where the system shuts down. ``trips`` holds every trip point as
    ``(type, celsius)`` with the kernel's types: ``active`` (fan), ``passive``, ``hot``,
    ``critical``. ``source`` says where it was read: ``thermal_zone3``, ``psutil``, ``apex``,
    ``nvml``.
    """

    name: str
    source: str
    celsius: float | None
    high: float | None = None
    critical: float | None = None
    trips: tuple[tuple[str, float], ...] = ()

    @property
    def headroom(self) -> float | None:
        """Degrees left before ``high`` (or ``critical``); ``None`` when either is unknown."""
        limit = self.high if self.high is not None else self.critical
        if self.celsius is None or limit is None:
            return None
        return round(limit - self.celsius, 3)


def parse_millidegrees(text: str) -> tuple[float | None, str | None]:
    """``"45250"`` -> ``(45.25, None)``; garbage or an implausible value -> ``(None, reason)``."""
    stripped = text.strip()
    if not _MILLI.fullmatch(stripped):
        return None, f"not a millidegree integer: {stripped[:40]!r}"
    celsius = int(stripped) / 1000.0
    low, high = PLAUSIBLE_CELSIUS
    if not low <= celsius <= high:
        return None, f"implausible {celsius:g} °C (sensor offline or placeholder)"
    return celsius, None


def _limits(trips: list[tuple[str, float]]) -> tuple[float | None, float | None]:
    throttle = [c for kind, c in trips if kind in _THROTTLING_TRIPS]
    critical = [c for kind, c in trips if kind == "critical"]
    return (min(throttle) if throttle else None, min(critical) if critical else None)


def _zone_trips(zone: Path, field: str, notes: Notes) -> list[tuple[str, float]]:
    indices = sorted(
        int(match.group(1))
        for path in zone.glob("trip_point_*_type")
        if (match := _TRIP.fullmatch(path.name))
    )
    trips: list[tuple[str, float]] = []
    for index in indices:
        label = f"trip_point_{index}"
        kind, reason = read_text(zone / f"{label}_type")
        raw, temp_reason = read_text(zone / f"{label}_temp")
        celsius, why = parse_millidegrees(raw) if raw is not None else (None, temp_reason)
        if kind is None or celsius is None:
            notes.append((f"{field}.{label}", reason or why or "unreadable"))
        elif celsius > 0:  # 0 marks a disabled trip point, e.g. on x86_pkg_temp
            trips.append((kind, celsius))
    return trips


def read_thermal_zones(roots: Roots, notes: Notes) -> list[Temperature]:
    """Every ``thermal_zone*`` under ``roots.sys/class/thermal``, with its trip points."""
    found = []
    zones = (roots.sys / "class" / "thermal").glob("thermal_zone*")
    for _, zone in numbered(zones, "thermal_zone"):
        field = f"temperatures[{zone.name}]"
        name = read_text(zone / "type")[0] or zone.name
        raw, reason = read_text(zone / "temp")
        celsius = None
        if raw is not None:
            celsius, reason = parse_millidegrees(raw)
        if celsius is None:
            notes.append((field, f"{name}: {reason}"))
        trips = _zone_trips(zone, field, notes)
        high, critical = _limits(trips)
        found.append(Temperature(name, zone.name, celsius, high, critical, tuple(trips)))
    return found


def read_apex(roots: Roots, notes: Notes) -> list[Temperature]:
    """Coral PCIe/M.2 Edge TPUs (``/sys/class/apex/apex_N``): temperature and its limits."""
    found = []
    for _, device in numbered((roots.sys / "class" / "apex").glob("apex_*"), "apex_"):
        field = f"temperatures[{device.name}]"
        raw, reason = read_text(device / "temp")
        celsius = None
        if raw is not None:
            celsius, reason = parse_millidegrees(raw)
        if celsius is None:
            notes.append((field, f"Edge TPU {device.name}: {reason}"))
        trips: list[tuple[str, float]] = []
        for index in range(3):
            value = _apex_milli(device / f"trip_point{index}_temp")
            if value is not None:
                trips.append(("passive", value))
        for kind, warn in (("hot", "hw_temp_warn1"), ("critical", "hw_temp_warn2")):
            enabled = read_text(device / f"{warn}_en")[0] == "1"
            value = _apex_milli(device / warn)
            if enabled and value is not None:
                trips.append((kind, value))
        high, critical = _limits(trips)
        found.append(Temperature(device.name, "apex", celsius, high, critical, tuple(trips)))
    return found


def _apex_milli(path: Path) -> float | None:
    raw, _ = read_text(path)
    return None if raw is None else parse_millidegrees(raw)[0]


def _positive(value: Any) -> float | None:
    """psutil's high/critical: ``None`` or a non-positive placeholder mean unknown."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= PLAUSIBLE_CELSIUS[1] else None


def read_psutil_temperatures(
    psutil: Any, seen: list[Temperature], notes: Notes
) -> list[Temperature]:
    """hwmon sensors (Linux) or the platform's equivalent through ``psutil``.

    A sensor with the same name and reading as one already in ``seen`` is skipped: on Linux
    without hwmon, psutil falls back to the thermal zones this module reads itself.
    """
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        notes.append(("temperatures[psutil]", "psutil has no sensors_temperatures here"))
        return []
    known = {(t.name, t.celsius) for t in seen}
    found = []
    for chip, entries in sorted(reader().items()):
        for entry in entries:
            name = f"{chip}/{entry.label}" if entry.label else str(chip)
            try:
                celsius: float | None = float(entry.current)
            except (TypeError, ValueError):
                celsius = None
            if celsius is not None and not (
                PLAUSIBLE_CELSIUS[0] <= celsius <= PLAUSIBLE_CELSIUS[1]
            ):
                celsius = None
            if celsius is None:
                notes.append((f"temperatures[{name}]", f"psutil reported {entry.current!r}"))
            if (str(chip), celsius) in known or (name, celsius) in known:
                continue
            high, critical = _positive(entry.high), _positive(entry.critical)
            found.append(Temperature(name, "psutil", celsius, high, critical))
    return found
