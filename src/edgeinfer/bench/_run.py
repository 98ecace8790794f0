"""One measured run, in this order: build the workload variant (once, cached), read the system's
temperature and throttling, load, the first inference (timed: the cold call), the other parity
inputs, warm-up, the measured loop (with energy where a meter reads), the system again.

Models are loaded with ``fallback=False`` and the backend pinned, so a run measures exactly the
backend it names; ``warmup=0``, so the first inference is really the first; native dtypes (an
int8 model is fed int8, quantised once from the same float inputs as the others, so the measured
loop is what the raw runtime would run); and ``precision="fp32"`` for fp32
and int8 models, so a backend that down-casts by default (OpenVINO's bf16 on CPUs that have it)
runs the model at the precision it was given (an int8 model's float parts stay fp32). Warnings
that edgeinfer logs during a run are kept in the run's ``warnings``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.bench._harness import Harness, builtin_loop, warm_up
from edgeinfer.bench._latency import CV_WARN, summarize
from edgeinfer.bench._matrix import RunSpec, workloads_module
from edgeinfer.bench._parity import Parity
from edgeinfer.bench._references import Feeds, References
from edgeinfer.bench._system import PeakRss, energy_meter, system_state

if TYPE_CHECKING:
    from edgeinfer._model.model import Model
    from edgeinfer._types import TensorSpec

__all__ = ["Outcome", "Session", "Settings", "measure"]


@dataclass(frozen=True, slots=True)
class Settings:
    """How every run of one bench is measured (see docs/bench.md for the run rules)."""

    scenario: str = "single-stream"
    duration: float = 10.0
    min_queries: int = 64
    max_duration: float = 30.0
    warmup: float = 1.0
    threads: int | None = None
    parity_inputs: int = 8
    offline_batch: int = 8


@dataclass(slots=True)
class Outcome:
    """One run: its JSON record and its raw latencies (ns), kept for plots only."""

    record: dict[str, Any]
    latencies_ns: list[int] = field(default_factory=list)


class _Collector(logging.Handler):
    """Keeps the warnings edgeinfer logs during a run (the run's ``warnings``)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def _health() -> dict[str, Any]:
    from edgeinfer._system.snapshot import health

    return system_state(health())


def _empty_record(spec: RunSpec, settings: Settings, harness: Harness) -> dict[str, Any]:
    t = spec.target
    return {
        "id": spec.id,
        "model": t.name,
        "workload": t.workload,
        "group": t.group,
        "path": None if t.path is None else str(t.path),
        "format": t.format,
        "precision": t.precision,
        "backend": spec.backend,
        "device_requested": spec.device,
        "device": None,
        "threads": settings.threads,
        "scenario": settings.scenario,
        "harness": harness.name,
        "offline_mode": None,
        "batch": 1,
        "status": "failed",
        "error": None,
        "valid": False,
        "invalid_reasons": [],
        "build_s": None,
        "load_ms": None,
        "first_inference_ms": None,
        "warmup_queries": 0,
        "queries": 0,
        "samples": 0,
        "duration_s": None,
        "latency_us": None,
        "throughput": None,
        "headline": None,
        "variation": None,
        "peak_rss_bytes": None,
        "rss_before_bytes": None,
        "rss_method": None,
        "parity": Parity("skipped", reason="the run failed").to_dict(),
        "energy": {"joules": None, "joules_per_inference": None, "reason": "the run failed"},
        "system": {"before": None, "after": None},
        "warnings": [],
    }


class Session:
    """The runs of one bench; they share reference inputs and parity references per group."""

    def __init__(self, settings: Settings, harness: Harness) -> None:
        self.settings = settings
        self.harness = harness
        self.references = References(settings.parity_inputs)

    # --- one run ----------------------------------------------------------------------------
    def run(self, spec: RunSpec, phase: Callable[[str], None] = lambda _: None) -> Outcome:
        """Measure one run; failures are recorded in the outcome, never raised."""
        record = _empty_record(spec, self.settings, self.harness)
        outcome = Outcome(record)
        logger = logging.getLogger("edgeinfer")
        collector = _Collector(record["warnings"])
        logger.addHandler(collector)
        try:
            self._measure(spec, record, outcome, phase)
        except Exception as error:
            record["status"] = "failed"
            hint = getattr(error, "hint", None)
            record["error"] = f"{type(error).__name__}: {error}" + (
                f" (fix: {hint})" if hint else ""
            )
        finally:
            logger.removeHandler(collector)
        return outcome

    def _path(self, spec: RunSpec, record: dict[str, Any], phase: Callable[[str], None]) -> Path:
        t = spec.target
        if t.path is not None:
            return t.path
        assert t.workload is not None
        phase("building")
        started = time.perf_counter()
        path = Path(workloads_module().ensure(t.workload, t.format, t.precision))
        record["build_s"] = round(time.perf_counter() - started, 3)
        record["path"] = str(path)
        return path

    def _measure(
        self,
        spec: RunSpec,
        record: dict[str, Any],
        outcome: Outcome,
        phase: Callable[[str], None],
    ) -> None:
        from edgeinfer._model.load import load

        s, t = self.settings, spec.target
        path = self._path(spec, record, phase)
        record["system"]["before"] = _health()
        rss = PeakRss()
        rss.start()
        try:
            phase("loading")
            started = time.perf_counter()
            model = load(
                path,
                spec.device,
                backend=spec.backend,
                fallback=False,
                threads=s.threads,
                precision=None if t.precision in ("fp16", "bf16") else "fp32",
                warmup=0,
            )
            record["load_ms"] = (time.perf_counter() - started) * 1e3
            try:
                record["device"] = model.device
                record["id"] = f"{t.name}/{t.format}/{t.precision}/{spec.backend}/{model.device}"
                self._run_loaded(spec, model, record, outcome, phase)
            finally:
                model.close()
        finally:
            record["peak_rss_bytes"], record["rss_before_bytes"] = rss.stop(), rss.before
            record["rss_method"] = rss.method
        record["system"]["after"] = _health()
        self._warnings(record)

    def _run_loaded(
        self,
        spec: RunSpec,
        model: Model,
        record: dict[str, Any],
        outcome: Outcome,
        phase: Callable[[str], None],
    ) -> None:
        s = self.settings
        # Quantised models run on their native integer tensors, as the raw runtime would: the
        # float references are quantised once here and outputs dequantised for parity only, so
        # no (de)quantisation is inside the measured loop.
        float_specs = _float_specs(model.inputs)
        feeds = self.references.feeds(spec.target, float_specs)
        own = [
            _native(model, f)
            for f in feeds or [_generated(float_specs, k) for k in range(s.parity_inputs)]
        ]
        started = time.perf_counter_ns()
        first = model.run(own[0])
        record["first_inference_ms"] = (time.perf_counter_ns() - started) / 1e6
        phase("parity")
        outputs = [_floats(model, first)] + [_floats(model, model.run(f)) for f in own[1:]]
        parity = self.references.check(spec.target, record["id"], outputs if feeds else None)
        record["parity"] = parity.to_dict()
        queries, per_query, mode = _queries(model, own, s)
        record["offline_mode"], record["batch"] = mode, per_query
        phase("warm-up")
        record["warmup_queries"] = warm_up(_caller(model, queries), s.warmup)
        phase("measuring")
        meter = energy_meter()
        meter.start()
        latencies, wall = measure(model, queries, s, self.harness)
        joules = meter.stop()
        outcome.latencies_ns = latencies
        record.update(summarize(latencies, wall, per_query))
        record["status"] = "ok"
        samples = record["samples"]
        record["energy"] = {
            "joules": joules,
            "joules_per_inference": joules / samples if joules is not None and samples else None,
            "reason": None if joules is not None else meter.reason,
        }
        metric = "p90_us" if s.scenario == "single-stream" else "throughput"
        value = record["latency_us"]["p90"] if metric == "p90_us" else record["throughput"]
        record["headline"] = {"metric": metric, "value": value}
        _validity(record, s)

    @staticmethod
    def _warnings(record: dict[str, Any]) -> None:
        cv = (record.get("variation") or {}).get("cv")
        if cv is not None and cv > CV_WARN:
            record["warnings"].append(
                f"unsteady: the median moved {cv:.0%} (CV) between the run's "
                f"{record['variation']['segments']} slices (other load, throttling or frequency "
                "scaling); run longer, on an idle machine"
            )
        before, after = record["system"]["before"], record["system"]["after"]
        if before and after:
            grew = (after["throttle_events"] or 0) > (before["throttle_events"] or 0)
            if grew or after["throttled"]:
                record["warnings"].append("the CPU throttled during the run")


def _generated(specs: Sequence[TensorSpec], seed: int) -> Feeds:
    from edgeinfer.bench._references import generated

    return generated(specs, seed)


def _float_specs(specs: Sequence[TensorSpec]) -> list[TensorSpec]:
    """The specs a caller feeding floats sees: quantised tensors as float32."""
    from edgeinfer._kit.quantization import float_spec, is_quantized

    return [float_spec(spec) if is_quantized(spec) else spec for spec in specs]


def _native(model: Model, feed: Feeds) -> Feeds:
    """``feed`` with quantised inputs quantised by the model's own parameters."""
    from edgeinfer._kit.quantization import is_quantized, quantize

    return {
        spec.name: quantize(feed[spec.name], spec.quantization, spec.dtype)  # type: ignore[arg-type]
        if is_quantized(spec)
        else feed[spec.name]
        for spec in model.inputs
    }


def _floats(model: Model, outputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs in order, quantised ones dequantised by the model's own parameters."""
    from edgeinfer._kit.quantization import dequantize, is_quantized

    return [
        dequantize(outputs[spec.name], spec.quantization)  # type: ignore[arg-type]
        if is_quantized(spec)
        else outputs[spec.name]
        for spec in model.outputs
    ]


def _queries(model: Model, feeds: list[Feeds], s: Settings) -> tuple[list[Feeds], int, str | None]:
    """The queries of the loop, samples per query, and the Offline mode (``None`` otherwise)."""
    if s.scenario != "offline":
        return feeds, 1, None
    specs = model.inputs
    batched = all(spec.shape and spec.shape[0] is None for spec in specs)
    if not batched or s.offline_batch <= 1:
        return feeds, 1, "back-to-back"
    reps = itertools.islice(itertools.cycle(feeds), s.offline_batch)
    chosen = list(reps)
    batch = {spec.name: np.concatenate([f[spec.name] for f in chosen]) for spec in specs}
    return [batch], s.offline_batch, "batch"


def _caller(model: Model, queries: Sequence[Feeds]) -> Callable[[], None]:
    """One query per call, cycling through ``queries``."""
    following = itertools.cycle(queries).__next__
    run = model.run

    def call() -> None:
        run(following())

    return call


def measure(
    model: Model, queries: Sequence[Feeds], settings: Settings, harness: Harness | None = None
) -> tuple[list[int], float]:
    """The measured loop of a run, on a loaded model: each query's latency (ns) and the wall
    time (s), under ``settings``' run rules, through ``harness`` (default: the built-in loop).
    No warm-up: the caller does it. ``queries`` are cycled through, one per call."""
    loop = harness.loop if harness is not None else builtin_loop
    s = settings
    return loop(_caller(model, queries), s.scenario, s.duration, s.min_queries, s.max_duration)


def _validity(record: dict[str, Any], s: Settings) -> None:
    reasons = []
    if record["queries"] < s.min_queries:
        reasons.append(
            f"{record['queries']} queries < the minimum {s.min_queries} (stopped at the "
            f"{s.max_duration:g} s cap)"
        )
    # LoadGen applies its own duration rule (from its start); its wall time here runs from the
    # first query's start to the last one's end, a little shorter.
    short = record["duration_s"] is not None and record["duration_s"] < s.duration
    if short and record["harness"] == "builtin":
        reasons.append(f"ran {record['duration_s']:.2f} s < the minimum {s.duration:g} s")
    record["invalid_reasons"] = reasons
    record["valid"] = not reasons
