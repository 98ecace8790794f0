"""``Model.profile()``: a measured loop, and per-operator profiles exported as Chrome traces.

Per-operator times come from the runtime itself where it offers them: ONNX Runtime's
``enable_profiling`` and OpenVINO's performance counters (a backend offers them by setting
``operator_profiling = True`` and implementing ``operator_events(feeds, runs)``). LiteRT's
Python API has no per-operator profiler; for it, and for any backend without one, the profile
says so instead of inventing numbers. The trace is the
Chrome trace-event JSON format, which Perfetto (ui.perfetto.dev) and chrome://tracing open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import ConfigurationError
from edgeinfer._model.stats import LatencyStats, stats_of
from edgeinfer._model.warmup import generated_inputs
from edgeinfer._types import OperatorEvent, _ToDict

if TYPE_CHECKING:
    from edgeinfer._model.chain import Link
    from edgeinfer._model.model import InputsLike, Model

__all__ = ["OperatorEvent", "OperatorProfile", "default_inputs", "measure", "operator_profile"]


@dataclass(frozen=True, slots=True)
class OperatorProfile(_ToDict):
    """Per-operator times of ``runs`` calls, or ``reason`` when the runtime offers none."""

    backend: str
    runs: int
    events: tuple[OperatorEvent, ...]
    reason: str | None = None

    def by_operator(self) -> list[tuple[str, str, float, int]]:
        """``(name, op_type, total us, calls)``, slowest first."""
        totals: dict[tuple[str, str], list[float]] = {}
        for event in self.events:
            totals.setdefault((event.name, event.op_type), []).append(event.duration)
        rows = [(name, kind, sum(times), len(times)) for (name, kind), times in totals.items()]
        return sorted(rows, key=lambda row: -row[2])

    def chrome_trace(self) -> dict[str, Any]:
        """The profile as Chrome trace events (one ``X`` event per operator execution)."""
        events = [
            {
                "name": e.name,
                "cat": e.op_type,
                "ph": "X",
                "ts": e.start,
                "dur": e.duration,
                "pid": 1,
                "tid": 1 + e.run,
                "args": {"op_type": e.op_type, "device": e.device},
            }
            for e in self.events
        ]
        meta = {
            "name": "process_name",
            "ph": "M",
            "pid": 1,
            "args": {"name": f"edgeinfer {self.backend}"},
        }
        return {"traceEvents": [meta, *events], "displayTimeUnit": "ms"}

    def to_chrome_trace(self, path: str | Path) -> Path:
        """Write the Chrome trace JSON to ``path`` (open it in Perfetto); returns the path."""
        target = Path(path)
        target.write_text(json.dumps(self.chrome_trace()))
        return target


def default_inputs(link: Link) -> InputsLike:
    """What ``profile()`` runs when the caller gives no inputs: the warm-up's inputs, else
    generated float inputs where that is safe; ``ConfigurationError`` says why not otherwise."""
    if link.golden_feeds is not None:
        return link.golden_feeds
    backend = link.backend
    metadata = backend.metadata() if backend is not None else {}
    names = backend.dim_names() if backend is not None else {}
    feeds, why = generated_inputs(link.inputs, names, metadata)
    if feeds is None:
        raise ConfigurationError(
            f"profile() needs inputs=...: edgeinfer does not generate inputs for this model ({why})"
        )
    return feeds


def measure(
    model: Model, n: int | None, duration: float | None, warmup: int, inputs: InputsLike
) -> LatencyStats:
    """Time ``n`` calls (or calls for ``duration`` seconds) after ``warmup`` untimed ones."""
    if (n is not None and n < 1) or (duration is not None and duration <= 0):
        raise ConfigurationError("profile needs n >= 1 or duration > 0")
    for _ in range(warmup):
        model.run(inputs)
    calls = n if n is not None else (None if duration is not None else 100)
    deadline = None if duration is None else time.perf_counter() + duration
    durations: list[int] = []
    started = time.perf_counter_ns()
    while (calls is None or len(durations) < calls) and (
        deadline is None or time.perf_counter() < deadline
    ):
        start = time.perf_counter_ns()
        model.run(inputs)
        durations.append(time.perf_counter_ns() - start)
    return stats_of(durations, span_ns=time.perf_counter_ns() - started)


def operator_profile(link: Link, runs: int, inputs: InputsLike) -> OperatorProfile:
    """Per-operator events from the serving session, or an empty profile that says why not."""
    session = link.backend
    name = link.name
    if session is None or link.check is None:
        return OperatorProfile(name, 0, (), f"{name} is not open")
    if not session.operator_profiling:
        reason = (
            f"{name} runs in its own process (isolate=True): its per-operator profiler is "
            "not reached from here; load without isolate to profile operators"
            if session.bounded_runs
            else f"{name} offers no per-operator profile"
        )
        return OperatorProfile(name, 0, (), reason)
    feeds: Mapping[str, np.ndarray] = link.check(inputs)
    events: Sequence[OperatorEvent] = session.operator_events(feeds, runs)
    return OperatorProfile(name, runs, tuple(events))
