"""The latency recorder and its statistics, checked against numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer._model.stats import BASELINE_CALLS, LatencyRecorder, stats_of

durations = st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(durations)
def test_percentiles_mean_std_match_numpy(values: list[int]) -> None:
    stats = stats_of(values)
    us = np.asarray(values, dtype=np.float64) / 1000.0
    for name, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9)):
        assert getattr(stats, name) == pytest.approx(
            float(np.percentile(us, q)), rel=1e-9, abs=1e-9
        )
    assert stats.mean == pytest.approx(float(us.mean()), rel=1e-9, abs=1e-9)
    assert stats.std == pytest.approx(float(us.std()), rel=1e-6, abs=1e-6)
    assert stats.min == us.min()
    assert stats.max == us.max()
    assert stats.count == len(values)


@settings(max_examples=100, deadline=None)
@given(durations, st.integers(min_value=1, max_value=64))
def test_the_ring_keeps_exactly_the_last_window(values: list[int], window: int) -> None:
    recorder = LatencyRecorder(window)
    clock = 0
    for value in values:
        recorder.record(clock, clock + value)
        clock += value + 1
    assert recorder.count == len(values)
    assert recorder.recent() == values[-window:]
    stats = recorder.stats()
    assert stats.window == min(window, len(values))
    assert stats.p50 == pytest.approx(float(np.percentile(np.asarray(values[-window:]) / 1e3, 50)))


def test_memory_is_fixed_whatever_the_number_of_calls() -> None:
    recorder = LatencyRecorder(16)
    for i in range(10_000):
        recorder.record(i, i + 5)
    assert len(recorder._durations) == 16
    assert recorder.count == 10_000


def test_throughput_over_the_wall_time_spanned() -> None:
    recorder = LatencyRecorder(8)
    for i in range(4):  # four 1 ms calls, one every 2 ms
        recorder.record(i * 2_000_000, i * 2_000_000 + 1_000_000)
    stats = recorder.stats()
    assert stats.throughput == pytest.approx(4 / 0.007)


def test_empty_is_none_never_zero() -> None:
    stats = LatencyRecorder().stats()
    assert stats.count == 0
    assert stats.p50 is None
    assert stats.mean is None
    assert stats.throughput is None
    assert stats.summary() == "no calls recorded"
    json.dumps(stats.to_dict())


def test_baseline_is_taken_from_the_first_calls() -> None:
    recorder = LatencyRecorder()
    for i in range(BASELINE_CALLS + 20):
        recorder.record(0, 1000 if i < BASELINE_CALLS else 9000)
    assert recorder.baseline_p50 == pytest.approx(1.0)
    recorder.reset()
    assert recorder.count == 0
    assert recorder.baseline_p50 == pytest.approx(1.0)


def test_bad_window() -> None:
    with pytest.raises(ValueError, match="window"):
        LatencyRecorder(0)
