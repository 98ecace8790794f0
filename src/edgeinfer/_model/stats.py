"""Always-on latency profiling: a fixed-size recorder and the statistics it yields.

Each ``Model.run`` costs two ``perf_counter_ns`` calls and one ``record``: two stores into
preallocated lists and an index update. Memory is fixed (``window`` calls); statistics are
computed only when asked for. Under concurrent calls a few samples may overwrite each other: the
recorder never locks the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edgeinfer._types import _ToDict

__all__ = ["BASELINE_CALLS", "DEFAULT_WINDOW", "LatencyRecorder", "LatencyStats", "stats_of"]

DEFAULT_WINDOW = 4096
_QUANTILES = (50.0, 90.0, 95.0, 99.0, 99.9)  # numpy's default (linear) interpolation
BASELINE_CALLS = 50  # the first calls after the cold one set the latency baseline


@dataclass(frozen=True, slots=True)
class LatencyStats(_ToDict):
    """Latency of a model's calls, in microseconds; ``None`` where there is nothing to measure.

    ``count`` is every call since the last reset; the other figures describe the most recent
    ``window`` calls. ``throughput`` is calls per second over the wall time since the last reset
    (from a measured loop: over the loop).
    ``first_call`` (the cold call), ``warmup`` and ``load_ms`` are kept apart from the rest.
    """

    count: int
    window: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    throughput: float | None
    first_call: float | None = None
    warmup: tuple[float, ...] = ()
    load_ms: float | None = None

    def summary(self) -> str:
        """One line a person reads."""
        if self.count == 0 or self.p50 is None:
            return "no calls recorded"
        return (
            f"{self.count} calls: p50 {self.p50:.1f} us, p90 {self.p90:.1f} us, p99 "
            f"{self.p99:.1f} us, mean {self.mean:.1f} us, {self.throughput or 0:.1f} calls/s"
        )


def stats_of(
    durations_ns: Sequence[int],
    *,
    count: int | None = None,
    span_ns: int | None = None,
    first_call: float | None = None,
    warmup: tuple[float, ...] = (),
    load_ms: float | None = None,
) -> LatencyStats:
    """Statistics of ``durations_ns`` (one per call). ``span_ns``: the wall time they covered."""
    n = len(durations_ns)
    total = n if count is None else count
    if n == 0:
        return LatencyStats(
            count=total,
            window=0,
            mean=None,
            std=None,
            min=None,
            max=None,
            p50=None,
            p90=None,
            p95=None,
            p99=None,
            p999=None,
            throughput=None,
            first_call=first_call,
            warmup=warmup,
            load_ms=load_ms,
        )
    micros = np.asarray(durations_ns, dtype=np.float64) / 1000.0
    p50, p90, p95, p99, p999 = (float(q) for q in np.percentile(micros, _QUANTILES))
    return LatencyStats(
        count=total,
        window=n,
        mean=float(micros.mean()),
        std=float(micros.std()),
        min=float(micros.min()),
        max=float(micros.max()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        p999=p999,
        throughput=n / (span_ns / 1e9) if span_ns else None,
        first_call=first_call,
        warmup=warmup,
        load_ms=load_ms,
    )


class LatencyRecorder:
    """A ring of the last ``window`` call durations (ns), plus the count and wall time since
    the last reset (for throughput)."""

    __slots__ = (
        "_durations",
        "_first_start",
        "_index",
        "_last_end",
        "_mask",
        "baseline_p50",
        "count",
        "first_call",
        "load_ms",
        "warmup",
        "window",
    )

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self._durations = [0] * window
        self._mask = window - 1 if window & (window - 1) == 0 else -1  # fast wrap for 2**k
        self._index = 0
        self._first_start = 0
        self._last_end = 0
        self.count = 0
        self.first_call: float | None = None
        self.warmup: tuple[float, ...] = ()
        self.load_ms: float | None = None
        self.baseline_p50: float | None = None  # us, of the first BASELINE_CALLS calls

    def record(self, start_ns: int, end_ns: int) -> None:
        """Store one call. The hot path: a few stores, no allocation beyond the ints."""
        index = self._index
        self._durations[index] = end_ns - start_ns
        self._last_end = end_ns
        mask = self._mask
        self._index = (index + 1) & mask if mask >= 0 else (index + 1) % self.window
        count = self.count + 1
        self.count = count
        if count <= BASELINE_CALLS:
            self._early(count, start_ns)

    def _early(self, count: int, start_ns: int) -> None:
        if count == 1:
            self._first_start = start_ns
        if count == BASELINE_CALLS and self.baseline_p50 is None:
            self.baseline_p50 = stats_of(self.recent(BASELINE_CALLS)).p50

    def reset(self) -> None:
        """Forget every call (the cold-call, warm-up, load and baseline figures stay)."""
        self._index = 0
        self.count = 0

    def recent(self, calls: int | None = None) -> list[int]:
        """The durations of the most recent ``calls`` (default: the whole window), oldest first."""
        stored = min(self.count, self.window)
        wanted = stored if calls is None else min(calls, stored)
        positions = [(self._index - wanted + k) % self.window for k in range(wanted)]
        return [self._durations[p] for p in positions]

    def stats(self) -> LatencyStats:
        """Statistics of the window; throughput over the wall time since the last reset."""
        span = self._last_end - self._first_start if self.count else None
        durations = self.recent()
        stats = stats_of(
            durations,
            count=self.count,
            span_ns=None,
            first_call=self.first_call,
            warmup=self.warmup,
            load_ms=self.load_ms,
        )
        if span:
            stats = replace(stats, throughput=self.count / (span / 1e9))
        return stats
