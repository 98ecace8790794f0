"""Energy over a measured loop, from the counters and power sensors Linux exposes in sysfs.

Sources, first usable wins:

- **RAPL** (x86 Intel, and AMD since Linux 5.8): ``class/powercap/intel-rapl:N/energy_uj`` of
  each package domain (``name`` ``package-N``; the ``psys`` platform domain and the
  ``intel-rapl:N:M`` subdomains, which the package already counts, are left out). Counters wrap
  at ``max_energy_range_uj``; they are read every second in a thread, so any number of wraps
  between start and stop is counted. Since the fix for CVE-2020-8694 (Platypus, 2020) the files
  are readable by root only on most distributions.
- **INA3221** power monitor of NVIDIA Jetson boards (``bus/i2c/drivers/ina3221*/<bus-addr>/``):
  JetPack 5+ ``hwmon/hwmonN/inK_label`` + ``inK_input`` (mV) + ``currK_input`` (mA); JetPack 4
  ``iio:deviceN/rail_name_K`` + ``in_powerK_input`` (mW). The board's input rail (``VDD_IN``,
  ``POM_5V_IN``) when there is one, else the sum of the rails (as jetson-stats does); ``NC``
  channels and the "sum of shunt voltages" channel are skipped. Power is sampled at ~10 Hz in a
  thread and integrated (trapezoids).

A Raspberry Pi 5's PMIC (``vcgencmd pmic_read_adc``) takes tens of ms per reading, too slow to
integrate alongside a benchmark, so it is not used. Nothing here raises: an unreadable source
makes ``available`` false (or ``stop()`` ``None``) with the reason in ``reason``.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

__all__ = ["EnergyMeter"]

RAPL_PERIOD_S = 1.0  # a package counter wraps after minutes at the very least
POWER_PERIOD_S = 0.1
_RAPL_DOMAIN = re.compile(r"intel-rapl:\d+")
_INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
_CVE_HINT = (
    "readable by root only (Linux restricts RAPL since CVE-2020-8694): run as root, or "
    "`sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj`"
)


def _read_text(path: Path) -> str:
    """One sysfs file's text (a seam for tests)."""
    return path.read_text()


def _read_int(path: Path) -> int:
    return int(_read_text(path).split()[0])


class _Source:
    """One energy source: ``begin()``, ``poll()`` every ``period`` seconds, ``joules()``."""

    period = POWER_PERIOD_S
    name = ""

    def begin(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        raise NotImplementedError

    def joules(self) -> float:
        raise NotImplementedError


class _Rapl(_Source):
    period = RAPL_PERIOD_S

    def __init__(self, domains: list[tuple[str, Path, int]]) -> None:
        self._domains = domains  # (name, energy_uj file, max_energy_range_uj)
        self._last: list[int] = []
        self._total_uj = 0
        self.name = "RAPL " + "+".join(name for name, _, _ in domains)

    def _read(self) -> list[int]:
        return [_read_int(path) for _, path, _ in self._domains]

    def begin(self) -> None:
        self._last = self._read()
        self._total_uj = 0

    def poll(self) -> None:
        now = self._read()
        for (_, _, wrap), before, after in zip(self._domains, self._last, now, strict=True):
            self._total_uj += after - before if after >= before else after + wrap - before
        self._last = now

    def joules(self) -> float:
        return self._total_uj / 1e6


class _PowerSensor(_Source):
    """Integrates milliwatts sampled at ``period`` over time."""

    def __init__(self, rails: list[tuple[str, tuple[Path, ...]]]) -> None:
        self._rails = rails  # (label, (mW file,) or (mV file, mA file))
        self._last: tuple[float, float] = (0.0, 0.0)
        self._mj = 0.0
        self.name = "INA3221 " + "+".join(label for label, _ in rails)

    def _milliwatts(self) -> float:
        total = 0.0
        for _, files in self._rails:
            if len(files) == 1:
                total += _read_int(files[0])
            else:
                total += _read_int(files[0]) * _read_int(files[1]) / 1000.0
        return total

    def begin(self) -> None:
        self._last = (time.monotonic(), self._milliwatts())
        self._mj = 0.0

    def poll(self) -> None:
        now, power = time.monotonic(), self._milliwatts()
        then, before = self._last
        self._mj += (before + power) / 2.0 * (now - then)
        self._last = (now, power)

    def joules(self) -> float:
        return self._mj / 1000.0


def _rapl(root: Path) -> tuple[_Rapl | None, str]:
    base = root / "class" / "powercap"
    try:
        folders = sorted(p for p in base.iterdir() if _RAPL_DOMAIN.fullmatch(p.name))
    except OSError:
        folders = []
    if not folders:
        return None, f"no RAPL package domain under {base} (x86 Linux only)"
    domains: list[tuple[str, Path, int]] = []
    for folder in folders:
        try:
            name = _read_text(folder / "name").strip()
        except (OSError, ValueError):
            name = folder.name
        if not name.startswith("package") and name != folder.name:
            continue  # psys: the whole platform, overlapping the packages
        try:
            _read_int(folder / "energy_uj")
            wrap = _read_int(folder / "max_energy_range_uj")
        except PermissionError:
            return None, f"RAPL counters ({folder / 'energy_uj'}) are {_CVE_HINT}"
        except (OSError, ValueError, IndexError) as e:
            return None, f"RAPL counter {folder / 'energy_uj'} is unreadable: {e}"
        domains.append((name, folder / "energy_uj", wrap))
    if not domains:
        return None, f"no RAPL package domain under {base} (only {folders[0].name})"
    return _Rapl(domains), ""


def _hwmon_rails(folder: Path) -> list[tuple[str, tuple[Path, ...]]]:
    rails: list[tuple[str, tuple[Path, ...]]] = []
    for label_file in sorted(folder.glob("in*_label")):
        channel = label_file.name[2 : -len("_label")]
        volts, amps = folder / f"in{channel}_input", folder / f"curr{channel}_input"
        label = _read_text(label_file).strip()
        if label.upper() == "NC" or label.lower().startswith("sum of") or not amps.exists():
            continue
        rails.append((label, (volts, amps)))
    return rails


def _iio_rails(folder: Path) -> list[tuple[str, tuple[Path, ...]]]:
    rails: list[tuple[str, tuple[Path, ...]]] = []
    for name_file in sorted(folder.glob("rail_name_*")):
        channel = name_file.name.removeprefix("rail_name_")
        label = _read_text(name_file).strip()
        power = folder / f"in_power{channel}_input"
        if label.upper() != "NC" and power.exists():
            rails.append((label, (power,)))
    return rails


def _ina3221(root: Path) -> tuple[_PowerSensor | None, str]:
    base = root / "bus" / "i2c" / "drivers"
    rails: list[tuple[str, tuple[Path, ...]]] = []
    try:
        for device in sorted(base.glob("ina3221*/*")):
            for hwmon in sorted(device.glob("hwmon/hwmon*")):
                rails += _hwmon_rails(hwmon)
            for iio in sorted(device.glob("iio:device*")):
                rails += _iio_rails(iio)
    except (OSError, ValueError) as e:
        return None, f"the INA3221 power monitor under {base} is unreadable: {e}"
    if not rails:
        return None, f"no INA3221 power monitor under {base} (NVIDIA Jetson)"
    inputs = [rail for rail in rails if rail[0].upper() in _INPUT_RAILS]
    sensor = _PowerSensor(inputs[:1] or rails)
    try:
        sensor.begin()
    except PermissionError:
        return None, f"the INA3221 power monitor under {base} is readable by root only"
    except (OSError, ValueError, IndexError) as e:
        return None, f"the INA3221 power monitor under {base} is unreadable: {e}"
    return sensor, ""


def _raspberry_pi(root: Path) -> bool:
    try:
        return "Raspberry Pi" in _read_text(root / "firmware" / "devicetree" / "base" / "model")
    except (OSError, ValueError):
        return False


class EnergyMeter:
    """Joules between ``start()`` and ``stop()`` from the first readable source under ``root``.

    ``available`` says whether one was found and ``reason`` why not (or, after a ``stop()`` that
    returned ``None``, why the reading failed); ``source`` names what is measured.
    """

    def __init__(self, root: Path = Path("/sys")) -> None:
        self.available = False
        self.reason: str | None = None
        self.source: str | None = None
        self._source: _Source | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = False
        self._error: str | None = None
        reasons: list[str] = []
        try:
            for find in (_rapl, _ina3221):
                source, why = find(Path(root))
                if source is not None:
                    self._source, self.source, self.available = source, source.name, True
                    return
                reasons.append(why)
            if _raspberry_pi(Path(root)):
                reasons.append("a Raspberry Pi's PMIC (vcgencmd pmic_read_adc) is too slow to use")
        except Exception as e:  # never raise
            reasons.append(f"energy sources could not be probed: {type(e).__name__}: {e}")
        self.reason = "; ".join(reasons)

    def start(self) -> None:
        """Take the first reading and start the sampling thread (restarts a running meter)."""
        self._halt()
        self._started = self._source is not None
        self._error = None
        if self._source is None:
            return
        try:
            self._source.begin()
        except Exception as e:
            self._fail(e)
            return
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._sample,
            args=(self._source, self._stopping),
            name="edgeinfer-energy",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> float | None:
        """Joules since ``start()``; ``None`` when a reading failed (``reason`` says why) or the
        meter is unavailable or was not started."""
        if not self._started or self._source is None:
            return None
        self._started = False
        self._halt()
        if self._error is None:
            try:
                self._source.poll()
            except Exception as e:
                self._fail(e)
        if self._error is not None:
            self.reason = self._error
            return None
        return self._source.joules()

    def _halt(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()

    def _sample(self, source: _Source, stopping: threading.Event) -> None:
        while not stopping.wait(source.period):
            try:
                source.poll()
            except Exception as e:
                self._fail(e)
                return

    def _fail(self, error: Exception) -> None:
        self._error = f"{self.source} stopped being readable: {type(error).__name__}: {error}"
