"""The figures of one measured loop: percentiles, spread, variation, validity.

Percentiles interpolate linearly between closest ranks (``numpy.percentile``'s default, the same
as ``Model.stats()``); all latencies are microseconds. Spread: ``std`` (population) and ``iqr``
(p75 - p25). Variation: the loop is cut into ``SEGMENTS`` consecutive slices of equal query count,
each standing for one short run; ``cv`` is the coefficient of variation (std / mean) of their
medians. Above ``CV_WARN`` the numbers move from one slice to the next (other load, throttling,
frequency scaling) and the run carries a warning.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeinfer._model.stats import stats_of

__all__ = ["CV_WARN", "MIN_SEGMENT_QUERIES", "SEGMENTS", "summarize"]

SEGMENTS = 5
MIN_SEGMENT_QUERIES = 4
CV_WARN = 0.10


def variation(latencies_ns: Sequence[int]) -> dict[str, Any]:
    """The slice medians (us) and their coefficient of variation, or ``None`` with why."""
    size = len(latencies_ns) // SEGMENTS
    if size < MIN_SEGMENT_QUERIES:
        return {
            "cv": None,
            "segments": SEGMENTS,
            "segment_p50_us": [],
            "reason": f"needs at least {SEGMENTS * MIN_SEGMENT_QUERIES} queries",
        }
    medians = [
        statistics.median(latencies_ns[k * size : (k + 1) * size]) / 1000.0 for k in range(SEGMENTS)
    ]
    mean = statistics.fmean(medians)
    cv = statistics.pstdev(medians) / mean if mean > 0 else None
    return {
        "cv": cv,
        "segments": SEGMENTS,
        "segment_p50_us": [round(m, 3) for m in medians],
        "reason": None,
    }


def summarize(latencies_ns: Sequence[int], wall_s: float, samples_per_query: int) -> dict[str, Any]:
    """Latency figures (us), throughput (samples/s) and variation of one loop."""
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
        "variation": variation(latencies_ns),
    }
