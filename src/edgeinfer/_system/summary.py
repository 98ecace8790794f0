"""``HealthSnapshot.summary()``: the snapshot in a few lines a person reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeinfer._system.snapshot import HealthSnapshot

__all__ = ["summarize"]

_GIB = 1024**3


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def _cpu(s: HealthSnapshot) -> str:
    if s.cpu_percent is None:
        line = f"CPU use unknown ({s.reason('cpu_percent')})"
    else:
        line = f"CPU {_percent(s.cpu_percent)} over {s.cpu_interval:g} s"
        cores = s.cpu_percent_per_core or ()
        if cores:
            line += f" ({len(cores)} cores, busiest {_percent(max(cores))})"
    if s.load_average is not None:
        line += ", load " + " ".join(f"{x:.2f}" for x in s.load_average)
    return line


def _memory(s: HealthSnapshot) -> str:
    if s.memory_total is None or s.memory_used is None or s.memory_available is None:
        line = f"memory unknown ({s.reason('memory_total')})"
    else:
        line = (
            f"memory {s.memory_used / _GIB:.1f} of {s.memory_total / _GIB:.1f} GiB used, "
            f"{s.memory_available / _GIB:.1f} GiB available"
        )
    if s.process_rss is not None:
        line += f"; this process {s.process_rss / 1024**2:.0f} MiB"
    return line


def _hottest(s: HealthSnapshot) -> str:
    known = [t for t in s.temperatures if t.celsius is not None]
    if not known:
        return f"temperature unknown ({s.reason('temperatures') or 'no readable sensor'})"
    hot = max(known, key=lambda t: t.celsius or 0.0)
    limits = []
    if hot.high is not None:
        limits.append(f"throttles at {hot.high:g} °C")
    if hot.critical is not None:
        limits.append(f"critical {hot.critical:g} °C")
    tail = f" ({', '.join(limits)})" if limits else ""
    count = f"hottest of {len(known)} sensors" if len(known) > 1 else "temperature"
    return f"{count}: {hot.name} {hot.celsius:.1f} °C{tail}"


def _clocks(s: HealthSnapshot) -> str | None:
    now = [f.current_mhz for f in s.cpu_frequencies if f.current_mhz is not None]
    top = [f.max_mhz for f in s.cpu_frequencies if f.max_mhz is not None]
    caps = [f.limit_mhz for f in s.cpu_frequencies if f.limit_mhz is not None]
    if not now:
        return None
    spread = f"{min(now):.0f}" if min(now) == max(now) else f"{min(now):.0f}-{max(now):.0f}"
    line = f"CPU clock {spread} MHz"
    if top:
        line += f" of max {max(top):.0f} MHz"
    if caps and top and min(caps) < max(top):
        line += f", policy caps at {min(caps):.0f} MHz"
    return line


def _throttling(s: HealthSnapshot) -> list[str]:
    lines = []
    core = sum(c.core or 0 for c in s.cpu_throttle_counts)
    package = max((c.package or 0 for c in s.cpu_throttle_counts), default=0)
    if core or package:
        lines.append(f"CPU thermal throttle events since boot: {core} core, {package} package")
    pi = s.raspberry_pi
    if pi is not None:
        now = ", ".join(pi.now()) or "nothing"
        since = ", ".join(pi.since_boot()) or "nothing"
        lines.append(f"Raspberry Pi ({pi.raw:#x}): now {now}; since boot {since}")
    return lines


def _accelerators(s: HealthSnapshot) -> list[str]:
    lines = []
    j = s.jetson
    if j is not None:
        line = f"Jetson GPU {_percent(j.gpu_load_percent)} busy"
        if j.gpu_mhz is not None:
            line += f" at {j.gpu_mhz:.0f}" + (f" of {j.gpu_max_mhz:.0f}" if j.gpu_max_mhz else "")
            line += " MHz"
        if j.power_mode is not None or j.power_mode_id is not None:
            line += f", power mode {j.power_mode or '?'} ({j.power_mode_id})"
        lines.append(line)
    for g in s.gpus or ():
        line = f"gpu:{g.index} {g.name or 'NVIDIA GPU'}: {_percent(g.utilization_percent)} busy"
        if g.celsius is not None:
            line += f", {g.celsius:.0f} °C"
        if g.memory_used is not None and g.memory_total is not None:
            line += f", {g.memory_used / _GIB:.1f} of {g.memory_total / _GIB:.1f} GiB"
        if g.throttled:
            held = ", ".join(r for r in g.clock_reasons or () if r != "gpu_idle")
            line += f", clocks held by {held}"
        lines.append(line)
    return lines


def summarize(s: HealthSnapshot) -> str:
    """The lines of ``HealthSnapshot.summary()``."""
    lines = [_cpu(s), _memory(s), _hottest(s)]
    clocks = _clocks(s)
    if clocks:
        lines.append(clocks)
    lines += _throttling(s) + _accelerators(s)
    if s.unavailable:
        lines.append(f"{len(s.unavailable)} values unknown (see .unavailable for why)")
    return "\n".join(lines)
