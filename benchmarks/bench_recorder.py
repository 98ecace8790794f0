"""What always-on profiling costs per call: two ``perf_counter_ns`` reads and one
``LatencyRecorder.record``, as ``Model.run`` does them, against the same loop without them.

The two loops alternate in short blocks (medians over rounds), so drift hits both. The figure is
the difference of the per-iteration medians. Target: at most 0.3 us per call. Always exits 0.

    python benchmarks/bench_recorder.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from time import perf_counter_ns

import numpy as np

from _common import environment, verdict
from edgeinfer._model.stats import LatencyRecorder

BENCH = "recorder"
TARGET_US = 0.3
BLOCK = 20_000


def _with_recorder(recorder: LatencyRecorder, block: int) -> int:
    record = recorder.record
    started = perf_counter_ns()
    for _ in range(block):
        start = perf_counter_ns()
        end = perf_counter_ns()
        record(start, end)
    return perf_counter_ns() - started


def _without(block: int) -> int:
    started = perf_counter_ns()
    for _ in range(block):
        pass
    return perf_counter_ns() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 rounds instead of 200")
    args = parser.parse_args(argv)
    rounds = 20 if args.quick else 200
    recorder = LatencyRecorder()
    with_times, without_times = [], []
    for _ in range(rounds):
        with_times.append(_with_recorder(recorder, BLOCK) / BLOCK)
        without_times.append(_without(BLOCK) / BLOCK)
    cost_us = (float(np.median(with_times)) - float(np.median(without_times))) / 1000.0
    print(f"Always-on recorder cost ({environment()}); {rounds} rounds x {BLOCK} calls")
    print(f"  loop with two perf_counter_ns + record: {np.median(with_times):.0f} ns/iteration")
    print(f"  empty loop:                             {np.median(without_times):.0f} ns/iteration")
    print(f"  cost per call {cost_us:.3f} us  target <= {TARGET_US}: {verdict(cost_us, TARGET_US)}")
    print(
        f"RESULT {BENCH} | per-call cost | value {cost_us:.3f} us | target <= {TARGET_US} us | "
        f"{verdict(cost_us, TARGET_US)} | recorder window {recorder.window} calls, fixed memory"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
