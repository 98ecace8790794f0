"""Cost of crash isolation (``load(..., isolate=True)``): a backend in its own process against the
same backend in this one, on ONNX Runtime (CPU provider, one intra-op thread).

Per call: ``OnnxRuntimeBackend.run(feeds)`` in this process against ``IsolatedBackend.run(feeds)``
(inputs and outputs through shared memory, control messages through a pipe) and
``IsolatedBackend.run(feeds, timeout=10)`` (the same plus a poll on the pipe), on the same file
and the same input array, interleaved: each round times a short block of calls of each arm, the
order cycling through every permutation. Reports the median per call of each arm, the overhead
(isolated - in-process) in us, and the ratio with the interquartile range of the per-round ratio.

Start: ``IsolatedBackend.start`` (spawn a process, import edgeinfer and onnxruntime there, open
the model, send back the specs) against ``OnnxRuntimeBackend.open`` here, alternated, each closed
untimed right after; the isolated close and the backend process's memory are reported apart.

Budgets, as RESULT lines whose ratio is measured / budget (so <= 1 passes): one-op per-call
overhead <= 100 us; MobileNetV2 isolated / in-process <= 1.05; start of the backend process
<= 1 s. Always exits 0.

    python benchmarks/bench_isolation.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import numpy as np

from _common import (
    MOBILENET,
    ONE_OP,
    build_models,
    environment,
    example_input,
    format_duration,
    interleave,
    iqr,
    result_line,
    timer_overhead_ns,
)

BENCH = "isolation"
TARGET = "edgeinfer.backends.onnxruntime.backend:OnnxRuntimeBackend"
THREADS = 1
LOCAL, ISOLATED, TIMEOUT = "in-process", "isolated", "isolated+timeout"
LABELS = {
    LOCAL: "OnnxRuntimeBackend.run(feeds)",
    ISOLATED: "IsolatedBackend.run(feeds)",
    TIMEOUT: "IsolatedBackend.run(feeds, timeout=10)",
}
OVERHEAD_BUDGET_US = 100.0  # one-op
RATIO_BUDGET = 1.05  # MobileNetV2
START_BUDGET_S = 1.0


@dataclass(frozen=True)
class Budget:
    """Calls per arm per round, seconds of rounds (full, quick), start rounds (full, quick)."""

    block: int
    seconds: tuple[float, float]
    starts: tuple[int, int]
    min_rounds: int = 20


BUDGETS = {ONE_OP: Budget(200, (10.0, 1.2), (10, 3)), MOBILENET: Budget(4, (25.0, 2.5), (6, 2))}


def _open_both(path: Path) -> tuple[Any, Any]:
    from edgeinfer import DeviceRequest, OpenOptions
    from edgeinfer._isolation.backend import IsolatedBackend
    from edgeinfer.backends.onnxruntime.backend import OnnxRuntimeBackend

    device, options = DeviceRequest("cpu"), OpenOptions(threads=THREADS)
    local = OnnxRuntimeBackend.open(path, device, options)
    isolated = IsolatedBackend.start("onnxruntime", TARGET, path, device, options)
    return local, isolated


def measure_calls(name: str, path: Path, quick: bool, timer_ns: float) -> dict[str, Any]:
    """Interleave timed blocks of every arm until the time budget is spent; medians in ns."""
    budget = BUDGETS[name]
    local, isolated = _open_both(path)
    feeds = {local.inputs[0].name: example_input(name)}
    first = perf_counter_ns()
    isolated.run(feeds)
    first_ns = perf_counter_ns() - first
    same = all(
        np.array_equal(a, b)
        for a, b in zip(local.run(feeds).values(), isolated.run(feeds).values(), strict=True)
    )
    arms: dict[str, tuple[Any, tuple[Any, ...]]] = {
        LOCAL: (local.run, (feeds,)),
        ISOLATED: (isolated.run, (feeds,)),
        TIMEOUT: (isolated.run, (feeds, 10.0)),
    }
    timed = interleave(name, arms, budget.block, budget.seconds[quick], budget.min_rounds, timer_ns)
    import psutil

    memory = psutil.Process(isolated.pid).memory_full_info()
    local.close()
    isolated.close()
    return {
        "rounds": timed.rounds,
        "calls": timed.calls,
        "medians": timed.medians,
        "per_round": timed.per_round,
        "first_ns": first_ns,
        "same": same,
        "rss": memory.rss,
        "uss": memory.uss,
    }


def measure_starts(name: str, path: Path, quick: bool) -> dict[str, np.ndarray]:
    """Alternate in-process opens and isolated starts; ns each, and the isolated closes."""
    from edgeinfer import DeviceRequest, OpenOptions
    from edgeinfer._isolation.backend import IsolatedBackend
    from edgeinfer.backends.onnxruntime.backend import OnnxRuntimeBackend

    device, options = DeviceRequest("cpu"), OpenOptions(threads=THREADS)
    times: dict[str, list[int]] = {LOCAL: [], ISOLATED: [], "close": []}

    def local() -> None:
        start = perf_counter_ns()
        backend = OnnxRuntimeBackend.open(path, device, options)
        times[LOCAL].append(perf_counter_ns() - start)
        backend.close()

    def isolated() -> None:
        start = perf_counter_ns()
        backend = IsolatedBackend.start("onnxruntime", TARGET, path, device, options)
        times[ISOLATED].append(perf_counter_ns() - start)
        start = perf_counter_ns()
        backend.close()
        times["close"].append(perf_counter_ns() - start)

    local()  # warm-up: file cache, onnxruntime imported here
    for round_ in range(BUDGETS[name].starts[quick]):
        for arm in (local, isolated) if round_ % 2 == 0 else (isolated, local):
            arm()
    return {arm: np.asarray(values) for arm, values in times.items()}


def report(name: str, calls: dict[str, Any], starts: dict[str, np.ndarray]) -> None:
    """Print one model's figures and its RESULT lines."""
    medians, per_round = calls["medians"], calls["per_round"]
    print(f"  {calls['rounds']} rounds, {calls['calls']} calls per arm; median per call:")
    for arm, median in medians.items():
        print(f"    {LABELS[arm]:<40} {format_duration(median):>10}")
    overhead = medians[ISOLATED] - medians[LOCAL]
    timeout_extra = medians[TIMEOUT] - medians[ISOLATED]
    ratio = medians[ISOLATED] / medians[LOCAL]
    low, high = iqr(per_round[ISOLATED] / per_round[LOCAL])
    print(f"    {'isolation overhead per call':<40} {format_duration(overhead):>10}")
    print(f"    {'timeout= adds':<40} {format_duration(timeout_extra):>10}")
    print(f"  ratio isolated/in-process {ratio:.3f} (per-round IQR {low:.3f}-{high:.3f})")
    print(f"  outputs identical to in-process: {calls['same']}")
    print(f"  first isolated call: {format_duration(calls['first_ns'])}")
    print(
        f"  backend process memory: RSS {calls['rss'] / 2**20:.1f} MiB, "
        f"USS (its own pages) {calls['uss'] / 2**20:.1f} MiB"
    )
    local, isolated, close = (float(np.median(starts[k])) for k in (LOCAL, ISOLATED, "close"))
    print(
        f"  start ({len(starts[ISOLATED])} of each, medians): in-process open "
        f"{format_duration(local)}, isolated start {format_duration(isolated)} "
        f"(range {format_duration(starts[ISOLATED].min())}-"
        f"{format_duration(starts[ISOLATED].max())}), isolated close {format_duration(close)}"
    )
    detail = (
        f"isolated {format_duration(medians[ISOLATED])}, in-process "
        f"{format_duration(medians[LOCAL])}, overhead {format_duration(overhead)}, "
        f"IQR {low:.3f}-{high:.3f}"
    )
    if name == ONE_OP:
        print(result_line(BENCH, f"{name} overhead", overhead / 1e3 / OVERHEAD_BUDGET_US, 1.0,
                          f"{detail}; budget {OVERHEAD_BUDGET_US:g} us"))  # fmt: skip
    else:
        print(result_line(BENCH, f"{name} per call", ratio / RATIO_BUDGET, 1.0,
                          f"{detail}; ratio {ratio:.3f}, budget {RATIO_BUDGET:g}"))  # fmt: skip
    print(
        result_line(
            BENCH,
            f"{name} start",
            isolated / 1e9 / START_BUDGET_S,
            1.0,
            f"isolated start {format_duration(isolated)}, in-process open "
            f"{format_duration(local)}; budget {START_BUDGET_S:g} s",
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (budgets are reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 10 s instead of about 60 s")
    args = parser.parse_args(argv)
    print(f"Isolated backend vs in-process backend ({environment()})")
    print(f"threads={THREADS}; time.perf_counter_ns per call; quick={args.quick}")
    timer_ns = timer_overhead_ns()
    print(f"timer cost {timer_ns:.0f} ns per call, subtracted from every per-call figure")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_models(Path(folder))
        for name in (ONE_OP, MOBILENET):
            print(f"\n[{name}] {paths[name].name}")
            calls = measure_calls(name, paths[name], args.quick, timer_ns)
            starts = measure_starts(name, paths[name], args.quick)
            report(name, calls, starts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
