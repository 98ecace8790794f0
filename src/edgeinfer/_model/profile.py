"""``Model.profile()``: a measured loop, and per-operator profiles exported as Chrome traces.

Per-operator times come from the runtime itself where it offers them: ONNX Runtime's
``enable_profiling`` and OpenVINO's performance counters (a backend offers them by implementing
``operator_events(feeds, runs)``). LiteRT's Python API has no per-operator profiler; for it, and
for any backend without one, the profile says so instead of inventing numbers. The trace is the
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
from edgeinfer._model.inputs import generated_inputs
from edgeinfer._model.stats import LatencyStats, stats_of
from edgeinfer._types import _ToDict

if TYPE_CHECKING:
    from edgeinfer._model.model import InputsLike, Model

__all__ = ["OperatorEvent", "OperatorProfile", "measure", "operator_profile"]


@dataclass(frozen=True, slots=True)
class OperatorEvent(_ToDict):
    """One operator execution: ``start`` and ``duration`` in microseconds, ``run`` its call."""

    name: str
    op_type: str
    start: float
    duration: float
    run: int = 0
    device: str = ""


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


def measure(
    model: Model, n: int | None, duration: float | None, warmup: int, inputs: InputsLike | None
) -> LatencyStats:
    """Time ``n`` calls (or calls for ``duration`` seconds) after ``warmup`` untimed ones."""
    if (n is not None and n < 1) or (duration is not None and duration <= 0):
        raise ConfigurationError("profile needs n >= 1 or duration > 0")
    feeds = generated_inputs(model.inputs) if inputs is None else inputs
    for _ in range(warmup):
        model.run(feeds)
    calls = n if n is not None else (None if duration is not None else 100)
    deadline = None if duration is None else time.perf_counter() + duration
    durations: list[int] = []
    started = time.perf_counter_ns()
    while (calls is None or len(durations) < calls) and (
        deadline is None or time.perf_counter() < deadline
    ):
        start = time.perf_counter_ns()
        model.run(feeds)
        durations.append(time.perf_counter_ns() - start)
    return stats_of(durations, span_ns=time.perf_counter_ns() - started)


def operator_profile(model: Model, runs: int, inputs: InputsLike | None) -> OperatorProfile:
    """Per-operator events from the serving backend, or an empty profile that says why not."""
    backend = model._backend
    name = model.backend
    events_of = getattr(backend, "operator_events", None)
    if backend is None or events_of is None:
        isolated = backend is not None and hasattr(backend, "run_with_timeout")
        reason = (
            f"{name} runs in its own process (isolate=True): its per-operator profiler is "
            "not reached from here; load without isolate to profile operators"
            if isolated
            else f"{name} offers no per-operator profile"
        )
        return OperatorProfile(name, 0, (), reason)
    checker = model._chain.active.check
    assert checker is not None
    feeds: Mapping[str, np.ndarray] = checker(
        generated_inputs(model.inputs) if inputs is None else inputs
    )
    events: Sequence[OperatorEvent] = events_of(feeds, runs)
    return OperatorProfile(name, runs, tuple(events))
