"""Models' latency, fallbacks and health, and the system snapshot, as Prometheus metrics.

``render(models)`` returns the text exposition format a fleet's monitoring scrapes (serve it from
any HTTP endpoint). With ``prometheus-client`` installed, ``register(models)`` adds a collector
to its registry instead (``prometheus_client.start_http_server`` then serves it), and ``render``
uses the client's own writer. Values that are unknown are left out, never reported as 0.

    edgeinfer_calls_total{model="mobilenet.onnx",backend="onnxruntime",device="cpu"} 1200
    edgeinfer_latency_microseconds{model="mobilenet.onnx",...,quantile="0.99"} 5120.4
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeinfer._model.model import Model
    from edgeinfer._system.snapshot import HealthSnapshot

__all__ = ["Family", "collect", "register", "render"]

_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"), ("0.999", "p999"))
_STATUS = ("ok", "degraded", "failed")


@dataclass(slots=True)
class Family:
    """One metric family: name, type (``gauge`` or ``counter``), help, and labelled samples."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, labels: Mapping[str, str], value: float | int | None) -> None:
        if value is not None:
            self.samples.append((dict(labels), float(value)))


def _name(model: Model) -> str:
    return Path(model.candidates[0].file).name  # the file that opened at load


def _models(models: Model | Mapping[str, Model] | Sequence[Model] | None) -> list[tuple[str, Any]]:
    from edgeinfer._model.model import Model

    if models is None:
        return []
    if isinstance(models, Model):
        return [(_name(models), models)]
    if isinstance(models, Mapping):
        return list(models.items())
    return [(_name(model), model) for model in models]


def _model_families(
    named: list[tuple[str, Any]], with_health: bool, snapshots: list[Any]
) -> list[Family]:
    calls = Family("edgeinfer_calls_total", "counter", "Calls since load or the last reset_stats.")
    latency = Family(
        "edgeinfer_latency_microseconds",
        "gauge",
        "Latency quantiles of the most recent calls, in microseconds.",
    )
    mean = Family("edgeinfer_latency_mean_microseconds", "gauge", "Mean latency of recent calls.")
    throughput = Family(
        "edgeinfer_throughput_calls_per_second",
        "gauge",
        "Calls per second since load or the last reset_stats.",
    )
    switches = Family(
        "edgeinfer_fallback_events_total", "counter", "Run-time fallback events, by kind."
    )
    preferred = Family(
        "edgeinfer_serving_preferred",
        "gauge",
        "1 when the preferred candidate serves, 0 on a fallback.",
    )
    status = Family(
        "edgeinfer_model_health_status",
        "gauge",
        "1 for the model's current health status (ok, degraded, failed).",
    )
    for name, model in named:
        labels = {"model": name, "backend": model.backend, "device": model.device}
        stats = model.stats()
        calls.add(labels, stats.count)
        for quantile, attribute in _QUANTILES:
            latency.add({**labels, "quantile": quantile}, getattr(stats, attribute))
        mean.add(labels, stats.mean)
        throughput.add(labels, stats.throughput)
        for kind, count in sorted(model.event_counts.items()):  # totals, never trimmed
            switches.add({"model": name, "kind": kind}, count)
        preferred.add({"model": name}, int(model.candidates[0].state == "serving"))
        if with_health:
            current = model.health()
            snapshots.append(current.system)  # reused for the system metrics: one sample
            for value in _STATUS:
                status.add({"model": name, "status": value}, int(value == current.status))
    return [calls, latency, mean, throughput, switches, preferred, status]


def _system_families(snapshot: HealthSnapshot) -> list[Family]:
    cpu = Family("edgeinfer_cpu_percent", "gauge", "CPU use over all cores, percent.")
    cpu.add({}, snapshot.cpu_percent)
    memory = Family("edgeinfer_memory_available_bytes", "gauge", "Memory available.")
    memory.add({}, snapshot.memory_available)
    rss = Family("edgeinfer_process_rss_bytes", "gauge", "Resident memory of this process.")
    rss.add({}, snapshot.process_rss)
    temperature = Family("edgeinfer_temperature_celsius", "gauge", "Temperature sensors.")
    for sensor in snapshot.temperatures:
        temperature.add({"sensor": sensor.name, "source": sensor.source}, sensor.celsius)
    throttled = Family(
        "edgeinfer_throttled",
        "gauge",
        "1 when a throttling condition is active now (Raspberry Pi, NVIDIA GPU).",
    )
    if snapshot.raspberry_pi is not None:
        active = set(snapshot.raspberry_pi.now())
        from edgeinfer._system.throttle import PI_FLAGS

        for flag in PI_FLAGS:
            throttled.add({"source": "raspberry_pi", "condition": flag}, int(flag in active))
    for gpu in snapshot.gpus or ():
        throttled.add(
            {"source": f"gpu{gpu.index}", "condition": "clocks_held_down"},
            None if gpu.throttled is None else int(gpu.throttled),
        )
    return [cpu, memory, rss, temperature, throttled]


def collect(
    models: Model | Mapping[str, Model] | Sequence[Model] | None = None,
    *,
    system: bool = True,
    health: bool = False,
) -> list[Family]:
    """Every metric family for ``models`` (one, a list, or ``{name: model}``), plus the system
    snapshot when ``system``. ``health=True`` also reruns each model's golden self-test."""
    snapshots: list[Any] = []
    families = _model_families(_models(models), health, snapshots)
    if system:
        from edgeinfer._system.snapshot import health as system_health

        # a second snapshot right after the first would measure CPU use over milliseconds
        families.extend(_system_families(snapshots[0] if snapshots else system_health()))
    return [family for family in families if family.samples]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value as the text format spells it: ``+Inf``, ``-Inf``, ``NaN``, else Go's
    float syntax, which Python's ``repr`` matches for finite floats."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _text(families: Iterable[Family]) -> str:
    """Prometheus' text exposition format 0.0.4, written by hand for installs without
    prometheus-client (tests parse it with prometheus-client's own parser)."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            inner = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            sample = f"{family.name}{{{inner}}}" if inner else family.name
            lines.append(f"{sample} {_number(value)}")
    return "\n".join(lines) + "\n"


def _client_families(families: Iterable[Family]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    for family in families:
        keys = list(family.samples[0][0]) if family.samples else []
        if family.kind == "counter":
            metric: Any = CounterMetricFamily(
                family.name.removesuffix("_total"), family.help, labels=keys
            )
        else:
            metric = GaugeMetricFamily(family.name, family.help, labels=keys)
        for labels, value in family.samples:
            metric.add_metric([labels[key] for key in keys], value)
        yield metric


class _Collector:
    def __init__(self, models: Any, system: bool, health: bool) -> None:
        self._arguments = (models, system, health)

    def collect(self) -> Iterator[Any]:
        models, system, health = self._arguments
        yield from _client_families(collect(models, system=system, health=health))


def register(
    models: Any = None, *, system: bool = True, health: bool = False, registry: Any = None
) -> Any:
    """Register a collector with prometheus-client (its default registry unless given)."""
    from prometheus_client import REGISTRY

    collector = _Collector(models, system, health)
    (registry or REGISTRY).register(collector)
    return collector


def render(models: Any = None, *, system: bool = True, health: bool = False) -> str:
    """The Prometheus text exposition of ``collect(...)``: through prometheus-client when it is
    installed, else edgeinfer's own writer (the same format)."""
    families = collect(models, system=system, health=health)
    if importlib.util.find_spec("prometheus_client") is None:
        return _text(families)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(_StaticCollector(families))
    text: str = generate_latest(registry).decode("utf-8")
    return text


class _StaticCollector:
    def __init__(self, families: list[Family]) -> None:
        self._families = families

    def collect(self) -> Iterator[Any]:
        yield from _client_families(self._families)
