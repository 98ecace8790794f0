"""The figures of one measured loop: percentiles, spread, variation, validity.

Percentiles interpolate linearly between closest ranks (``numpy.percentile``'s default, the same
as ``Model.stats()``); all latencies are microseconds. Spread: ``std`` (population) and ``iqr``
(p75 - p25). Variation: the loop is cut into ``SEGMENTS`` consecutive slices of equal query count,
each standing for one short run; ``cv`` is the coefficient of variation (std / mean) of their
medians. Above ``CV_WARN`` the numbers move from one slice to the next (other load, throttling,
frequency scaling) and the run carries a warning. The slices' medians, p90s and throughputs are
kept: ``--compare`` tests two runs' slices against each other (``_compare``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeinfer._model.stats import stats_of

__all__ = ["CV_WARN", "MIN_SEGMENT_QUERIES", "SEGMENTS", "summarize"]

SEGMENTS = 10
MIN_SEGMENT_QUERIES = 4
CV_WARN = 0.10


def _slices(count: int) -> list[tuple[int, int]]:
    size = count // SEGMENTS
    return [(k * size, (k + 1) * size) for k in range(SEGMENTS)]


def variation(
    latencies_ns: Sequence[int],
    samples_per_query: int = 1,
    ends_ns: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Per slice: median and p90 latency (us) and throughput (samples/s); the CV of the
    medians; or ``None`` with why. ``ends_ns``: each query's end (perf_counter_ns), in the
    order of ``latencies_ns``, when queries overlap (``--concurrency``): a slice's throughput
    is then its samples over the time between the previous slice's last end and its own; else
    its samples over the sum of its latencies (queries back to back)."""
    if len(latencies_ns) // SEGMENTS < MIN_SEGMENT_QUERIES:
        return {
            "cv": None,
            "segments": SEGMENTS,
            "segment_p50_us": [],
            "segment_p90_us": [],
            "segment_throughput": [],
            "reason": f"needs at least {SEGMENTS * MIN_SEGMENT_QUERIES} queries",
        }
    medians, p90s, rates = [], [], []
    for a, b in _slices(len(latencies_ns)):
        part = np.asarray(latencies_ns[a:b], dtype=np.float64) / 1000.0
        medians.append(float(np.median(part)))
        p90s.append(float(np.percentile(part, 90)))
        if ends_ns is None:
            span_ns = float(np.sum(part)) * 1000.0
        else:
            begin = ends_ns[a - 1] if a else ends_ns[0] - latencies_ns[0]
            span_ns = float(ends_ns[b - 1] - begin)
        rates.append((b - a) * samples_per_query / (span_ns / 1e9) if span_ns > 0 else 0.0)
    mean = statistics.fmean(medians)
    cv = statistics.pstdev(medians) / mean if mean > 0 else None
    return {
        "cv": cv,
        "segments": SEGMENTS,
        "segment_p50_us": [round(m, 3) for m in medians],
        "segment_p90_us": [round(m, 3) for m in p90s],
        "segment_throughput": [round(r, 3) for r in rates],
        "reason": None,
    }


def summarize(
    latencies_ns: Sequence[int],
    wall_s: float,
    samples_per_query: int,
    ends_ns: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Latency figures (us), throughput (samples/s) and variation of one loop (``ends_ns``:
    see ``variation``)."""
    stats = stats_of(latencies_ns)
    ordered = sorted(d / 1000.0 for d in latencies_ns)
    p25 = float(np.percentile(ordered, 25)) if ordered else None
    p75 = float(np.percentile(ordered, 75)) if ordered else None
    latency = {
        "min": stats.min,
        "mean": stats.mean,
        "std": stats.std,
        "iqr": None if p25 is None or p75 is None else p75 - p25,
        "p25": p25,
        "p50": stats.p50,
        "p75": p75,
        "p90": stats.p90,
        "p95": stats.p95,
        "p99": stats.p99,
        "p999": stats.p999,
        "max": stats.max,
    }
    queries = len(latencies_ns)
    return {
        "queries": queries,
        "samples": queries * samples_per_query,
        "duration_s": wall_s,
        "latency_us": latency,
        "throughput": queries * samples_per_query / wall_s if wall_s > 0 and queries else None,
        "variation": variation(latencies_ns, samples_per_query, ends_ns),
    }
