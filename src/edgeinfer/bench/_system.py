"""What the machine does around a run: peak memory, temperature and throttling, energy.

Peak RSS, by one of two methods (the result says which):

- ``vmhwm``: on Linux, the kernel's own high-water mark of resident memory (``VmHWM`` in
  ``/proc/self/status``), reset to the current RSS before the run by writing ``5`` to
  ``/proc/self/clear_refs``. Exact, and free: nothing samples.
- ``sampled``: elsewhere, psutil's RSS read every ``SAMPLE_SECONDS`` by a background thread;
  a spike shorter than that can be missed.

Both cover the whole run: load, first inference, parity, warm-up and the measured loop.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeinfer._system.snapshot import HealthSnapshot

__all__ = ["SAMPLE_SECONDS", "EnergyReading", "PeakRss", "energy_meter", "system_state"]

SAMPLE_SECONDS = 0.01
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_KB = re.compile(r"^(VmHWM|VmRSS):\s+(\d+)\s+kB", re.MULTILINE)


def _proc_status() -> dict[str, int]:
    try:
        text = _STATUS.read_text()
    except OSError:
        return {}
    return {key: int(value) * 1024 for key, value in _KB.findall(text)}


def _rss_now() -> int | None:
    status = _proc_status()
    if "VmRSS" in status:
        return status["VmRSS"]
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        return None


class PeakRss:
    """The process's resident-memory high-water mark between ``start()`` and ``stop()``."""

    def __init__(self) -> None:
        self.method: str | None = None
        self.before: int | None = None
        self.reason: str | None = None
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.before = _rss_now()
        try:
            _CLEAR_REFS.write_text("5")
            if "VmHWM" in _proc_status():
                self.method = "vmhwm"
                return
        except OSError:
            pass
        try:
            import psutil

            process = psutil.Process()
            self._peak = int(process.memory_info().rss)
        except Exception as error:
            self.reason = f"no VmHWM and psutil cannot read RSS: {error}"
            return
        self.method = "sampled"
        self._thread = threading.Thread(target=self._sample, args=(process,), daemon=True)
        self._thread.start()

    def _sample(self, process: Any) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                self._peak = max(self._peak, int(process.memory_info().rss))
            except Exception:
                return

    def stop(self) -> int | None:
        """The peak RSS in bytes, or ``None`` (see ``reason``)."""
        if self.method == "vmhwm":
            return _proc_status().get("VmHWM")
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            return self._peak
        return None


def system_state(snapshot: HealthSnapshot) -> dict[str, Any]:
    """Temperature and throttling from an ``edgeinfer.health()`` snapshot; ``None`` is unknown,
    with the reason in ``unknown``."""
    unknown: dict[str, str] = {}
    known = [t for t in snapshot.temperatures if t.celsius is not None]
    hottest = max(known, key=lambda t: t.celsius or 0.0) if known else None
    if hottest is None:
        unknown["temperature_c"] = snapshot.reason("temperatures") or "no readable sensor"
    flags: list[bool] = []
    pi = snapshot.raspberry_pi
    if pi is not None:
        flags.append(pi.throttled or pi.arm_frequency_capped or pi.soft_temperature_limit)
    flags.extend(bool(g.throttled) for g in snapshot.gpus or () if g.throttled is not None)
    counts = snapshot.cpu_throttle_counts
    events = sum((c.core or 0) + (c.package or 0) for c in counts) if counts else None
    if not flags and events is None:
        unknown["throttled"] = (
            "no throttling signal here (x86 thermal_throttle counters, Raspberry Pi firmware "
            "flags or NVIDIA clock reasons)"
        )
    clocks = [f.current_mhz for f in snapshot.cpu_frequencies if f.current_mhz is not None]
    return {
        "temperature_c": None if hottest is None else hottest.celsius,
        "sensor": None if hottest is None else hottest.name,
        "throttled": any(flags) if flags else None,
        "throttle_events": events,
        "cpu_mhz": round(sum(clocks) / len(clocks), 1) if clocks else None,
        "load_average_1m": None if snapshot.load_average is None else snapshot.load_average[0],
        "unknown": unknown,
    }


class EnergyReading:
    """Joules over the measured loop, from ``edgeinfer.bench._energy.EnergyMeter`` when it can
    read a power source here; otherwise ``None`` with the reason."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._meter: Any = None
        try:
            from edgeinfer.bench._energy import EnergyMeter
        except ImportError as error:
            self.reason = f"no energy meter: {error}"
            return
        try:
            meter = EnergyMeter()
        except Exception as error:
            self.reason = f"energy meter failed to start: {type(error).__name__}: {error}"
            return
        if not meter.available:
            self.reason = meter.reason or "no power source readable here"
            return
        self._meter = meter

    def start(self) -> None:
        if self._meter is not None:
            self._meter.start()

    def stop(self) -> float | None:
        if self._meter is None:
            return None
        try:
            joules = self._meter.stop()
        except Exception as error:
            self.reason = f"energy meter failed: {type(error).__name__}: {error}"
            return None
        if joules is None:
            self.reason = self._meter.reason or "the meter returned no reading"
            return None
        return float(joules)


def energy_meter() -> EnergyReading:
    """A meter for one run (unavailable meters give ``None`` and a reason)."""
    return EnergyReading()
