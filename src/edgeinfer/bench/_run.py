"""One measured run, in this order: build the workload variant (once, cached), read the system's
temperature and throttling, load, the first inference (timed: the cold call), the other parity
inputs, warm-up, the measured loop (with energy where a meter reads), the system again.

Models are loaded with ``fallback=False`` and the backend pinned, so a run measures exactly the
backend it names; ``warmup=0``, so the first inference is really the first; native dtypes (an
int8 model is fed int8, quantised once from the same float inputs as the others, so the measured
loop is what the raw runtime would run); ``precision="fp32"`` for fp32 and int8 models, so a
backend that down-casts by default (OpenVINO's bf16 on CPUs that have it) runs the model at the
precision it was given (an int8 model's float parts stay fp32), or the precision a converting
run asks for (``--precision``); and the ``--option`` values of its backend. Warnings that
edgeinfer logs during a run are kept in the run's ``warnings``.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import ConfigurationError, EdgeInferError
from edgeinfer.bench._data import (
    Feeds,
    dynamic_batch,
    float_specs,
    floats,
    native,
    shaped_specs,
)
from edgeinfer.bench._harness import Harness, builtin_loop, concurrent_loop, warm_up
from edgeinfer.bench._latency import summarize
from edgeinfer.bench._matrix import RunSpec, workloads_module
from edgeinfer.bench._record import add_warnings, empty_record, error_text, validity
from edgeinfer.bench._references import References
from edgeinfer.bench._rules import Settings
from edgeinfer.bench._system import PeakRss, energy_meter, system_state

if TYPE_CHECKING:
    from edgeinfer._model.model import Model
    from edgeinfer._types import TensorSpec

__all__ = ["Outcome", "Session", "Settings", "error_text", "measure"]


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


class Session:
    """The runs of one bench; they share reference inputs and parity references per group."""

    def __init__(self, settings: Settings, harness: Harness) -> None:
        self.settings = settings
        self.harness = harness
        self.references = References(settings.parity_inputs, settings.inputs)

    # --- one run ----------------------------------------------------------------------------
    def run(self, spec: RunSpec, phase: Callable[[str], None] = lambda _: None) -> Outcome:
        """Measure one run; failures are recorded in the outcome, never raised."""
        record = empty_record(spec, self.settings, self.harness)
        outcome = Outcome(record)
        logger = logging.getLogger("edgeinfer")
        collector = _Collector(record["warnings"])
        logger.addHandler(collector)
        try:
            self._measure(spec, record, outcome, phase)
        except Exception as error:
            record["status"] = "failed"
            record["error"] = error_text(error)
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
            own = s.options.get(spec.backend)
            model = load(
                path,
                spec.device,
                backend=spec.backend,
                fallback=False,
                threads=s.threads,
                precision=spec.convert or (None if t.precision in ("fp16", "bf16") else "fp32"),
                warmup=0,
                options={spec.backend: own} if own else None,
            )
            record["load_ms"] = (time.perf_counter() - started) * 1e3
            try:
                record["device"] = model.device
                record["details"] = {str(k): str(v) for k, v in model.details.items()}
                record["runtime_precision"] = model.details.get("precision")
                record["placement"] = _placement(model)
                record["id"] = f"{t.name}/{t.format}/{spec.precision}/{spec.backend}/{model.device}"
                self._run_loaded(spec, model, record, outcome, phase)
            finally:
                model.close()
        finally:
            record["peak_rss_bytes"], record["rss_before_bytes"] = rss.stop(), rss.before
            record["rss_method"] = rss.method
        record["system"]["after"] = _health()
        add_warnings(record)

    def _run_loaded(
        self,
        spec: RunSpec,
        model: Model,
        record: dict[str, Any],
        outcome: Outcome,
        phase: Callable[[str], None],
    ) -> None:
        s = self.settings
        specs = shaped_specs(float_specs(model.inputs), s.shapes)
        feeds = self.references.feeds(spec.target, specs, model.inputs)
        if feeds is None and s.inputs:
            raise ConfigurationError(
                "the --inputs arrays do not fit this model (its inputs: "
                + ", ".join(f"{i.name} {list(i.shape or ())} {i.dtype}" for i in specs)
                + ")"
            )
        own = [
            native(model, f)
            for f in feeds or [_generated(specs, k) for k in range(s.parity_inputs)]
        ]
        record["input_shapes"] = {name: list(array.shape) for name, array in own[0].items()}
        started = time.perf_counter_ns()
        first = model.run(own[0])
        record["first_inference_ms"] = (time.perf_counter_ns() - started) / 1e6
        phase("parity")
        outputs = [floats(model, first)] + [floats(model, model.run(f)) for f in own[1:]]
        parity = self.references.check(
            spec.target, record["id"], outputs if feeds else None, spec.precision
        )
        record["parity"] = parity.to_dict()
        queries, per_query, mode = _queries(model, own, s)
        record["offline_mode"], record["batch"] = mode, per_query
        phase("warm-up")
        record["warmup_queries"] = warm_up(_caller(model, queries), s.warmup, s.warmup_runs)
        phase("measuring")
        meter = energy_meter()
        meter.start()
        latencies, ends, wall = _loop(model, queries, s, self.harness)
        joules = meter.stop()
        outcome.latencies_ns = latencies
        record.update(summarize(latencies, wall, per_query, ends))
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
        validity(record, s)
        if s.profile_ops is not None:
            phase("profiling operators")
            record["operator_profile"] = _profile_ops(model, queries[0], record["id"], s)


def _generated(specs: Sequence[TensorSpec], seed: int) -> Feeds:
    from edgeinfer.bench._references import generated

    return generated(specs, seed)


def _queries(model: Model, feeds: list[Feeds], s: Settings) -> tuple[list[Feeds], int, str | None]:
    """The queries of the loop, samples per query, and the Offline mode (``None`` otherwise).

    A model with a dynamic batch dimension gets queries of the size the data has (``--shape``,
    ``--inputs``; 1 for generated data), counted as that many samples; Offline batches
    ``offline_batch`` generated samples into one query when no size was given."""
    specs = model.inputs
    batched = dynamic_batch(specs)
    given = bool(s.shapes or s.inputs)
    first = next(iter(feeds[0].values())) if feeds and feeds[0] else None
    size = int(first.shape[0]) if batched and first is not None and first.ndim else 1
    if s.scenario != "offline":
        return feeds, size, None
    if not batched:
        return feeds, 1, "back-to-back"
    if given or s.offline_batch <= 1:
        return feeds, size, "batch"
    reps = itertools.islice(itertools.cycle(feeds), s.offline_batch)
    chosen = list(reps)
    batch = {spec.name: np.concatenate([f[spec.name] for f in chosen]) for spec in specs}
    return [batch], s.offline_batch * size, "batch"


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
    latencies, _ends, wall = _loop(model, queries, settings, harness)
    return latencies, wall


def _loop(
    model: Model, queries: Sequence[Feeds], s: Settings, harness: Harness | None
) -> tuple[list[int], list[int] | None, float]:
    """``measure``, with each query's end time when several are in flight (else ``None``)."""
    if s.concurrency > 1:
        calls = [_caller(model, queries) for _ in range(s.concurrency)]
        return concurrent_loop(calls, s.duration, s.min_queries, s.max_duration)
    loop = harness.loop if harness is not None else builtin_loop
    latencies, wall = loop(
        _caller(model, queries), s.scenario, s.duration, s.min_queries, s.max_duration
    )
    return latencies, None, wall


def _profile_ops(model: Model, query: Feeds, run_id: str, s: Settings) -> dict[str, Any]:
    """``Model.profile(operators=True)`` written as a Chrome trace, or why there is none."""
    assert s.profile_ops is not None
    found: dict[str, Any] = {"path": None, "runs": 0, "events": 0, "reason": None}
    from edgeinfer._model.profile import OperatorProfile

    try:
        profile = model.profile(s.profile_runs, inputs=query, operators=True)
    except EdgeInferError as error:
        found["reason"] = error_text(error)
        return found
    if not isinstance(profile, OperatorProfile) or not profile.events:
        found["reason"] = getattr(profile, "reason", None) or "the runtime recorded no operator"
        return found
    target = s.profile_ops / (re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) + ".json")
    profile.to_chrome_trace(target)
    found.update(path=str(target), runs=profile.runs, events=len(profile.events))
    return found


def _placement(model: Model) -> str | None:
    """How much of the model the accelerator runs (``Model.placement().summary()``), for runs on
    an accelerator; ``None`` on the CPU, where there is nothing to place."""
    if model.device.split(":")[0] in ("cpu", "remote"):
        return None
    try:
        return model.placement().summary()
    except Exception as error:  # a report the runtime cannot give is a note, not a failed run
        return f"placement unknown: {type(error).__name__}: {error}"
