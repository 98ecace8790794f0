"""Time of ``edgeinfer.load`` against creating a raw ``onnxruntime.InferenceSession``.

onnxruntime and edgeinfer are imported, and one session of each kind made, before anything is
timed. Then, in rounds whose order alternates, ``edgeinfer.load(path, backend="onnxruntime",
device="cpu", warmup=0)`` and ``InferenceSession(path, sess_options, providers=["CPU..."])``
(with the SessionOptions edgeinfer builds) are timed, each closed untimed right after. The same
rounds time the two steps edgeinfer's load adds before onnxruntime reads the file, each alone: the
ONNX safety scan (``_onnx_scan.check_onnx_file``) and format detection
(``_planning.sources.resolve_model_files``), so the overhead can be traced to its sources.

Target: ratio <= 1.1 on each model. Always exits 0.

    python benchmarks/bench_load_time.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import numpy as np

from _common import (
    CPU_PROVIDER,
    MOBILENET,
    ONE_OP,
    build_models,
    environment,
    format_duration,
    iqr,
    raw_session_options,
    result_line,
    verdict,
)

BENCH = "load_time"
TARGET = 1.1
EDGE, RAW, SCAN, FORMAT = "edgeinfer", "raw", "scan", "format"
LABELS = {
    EDGE: "edgeinfer.load(..., warmup=0)",
    RAW: "raw InferenceSession(...)",
    SCAN: "check_onnx_file (safety scan)",
    FORMAT: "resolve_model_files (format)",
}
# Seconds of rounds per model: (full, quick); at least MIN_ROUNDS rounds either way.
SECONDS = {ONE_OP: (6.0, 0.8), MOBILENET: (14.0, 1.5)}
MIN_ROUNDS = 10


def _timed(make: Callable[[], Any], close: Callable[[Any], None]) -> int:
    """ns that ``make()`` takes; what it made is closed afterwards, untimed."""
    start = perf_counter_ns()
    made = make()
    elapsed = perf_counter_ns() - start
    close(made)
    return elapsed


@dataclass(frozen=True)
class Outcome:
    """One model's per-round times in ns, by arm, and the first load's one-time cost."""

    name: str
    times: dict[str, np.ndarray]
    first_load_ns: int | None  # None unless this model was the process's first edgeinfer.load

    def median(self, arm: str) -> float:
        return float(np.median(self.times[arm]))


def measure(name: str, path: Path, quick: bool, first: bool) -> Outcome:
    """Interleave loads of both kinds, and edgeinfer's added steps alone, on model ``name``."""
    import onnxruntime as ort

    import edgeinfer
    from edgeinfer._kit.onnx_scan import check_onnx_file
    from edgeinfer._planning.sources import resolve_model_files

    def edge_load() -> Any:
        return edgeinfer.load(path, backend="onnxruntime", device="cpu", warmup=0)

    def raw_load() -> Any:
        return ort.InferenceSession(
            str(path), sess_options=raw_session_options(ort, None), providers=[CPU_PROVIDER]
        )

    def close_model(model: Any) -> None:
        model.close()

    def drop(_: Any) -> None:
        return None

    arms: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
        EDGE: (edge_load, close_model),
        RAW: (raw_load, drop),
        SCAN: (lambda: check_onnx_file(path), drop),
        FORMAT: (lambda: resolve_model_files(path), drop),
    }
    first_load = _timed(edge_load, close_model) if first else None
    for make, close in arms.values():
        _timed(make, close)  # warm-up: file cache, first-call paths
    times: dict[str, list[int]] = {arm: [] for arm in arms}
    order = list(arms)
    full, short = SECONDS[name]
    deadline = time.perf_counter() + (short if quick else full)
    rounds = 0
    while rounds < MIN_ROUNDS or time.perf_counter() < deadline:
        for arm in order if rounds % 2 == 0 else reversed(order):
            times[arm].append(_timed(*arms[arm]))
        rounds += 1
        if rounds % 16 == 0:
            gc.collect()  # closed sessions' memory goes back between rounds, not inside them
    return Outcome(name, {arm: np.asarray(v) for arm, v in times.items()}, first_load)


def report(outcome: Outcome) -> None:
    """Print one model's figures, its verdict and its RESULT line."""
    edge, raw = outcome.median(EDGE), outcome.median(RAW)
    ratio = edge / raw
    low, high = iqr(outcome.times[EDGE] / outcome.times[RAW])
    print(f"  {len(outcome.times[EDGE])} rounds; medians:")
    for arm in (RAW, EDGE):
        print(f"    {LABELS[arm]:<34} {format_duration(outcome.median(arm)):>10}")
    print(
        f"  ratio edgeinfer/raw {ratio:.3f}  (per-round IQR {low:.3f}-{high:.3f})  "
        f"target <= {TARGET:g}: {verdict(ratio, TARGET)}"
    )
    print(f"  where edgeinfer's extra {format_duration(edge - raw)} goes (each step timed alone):")
    steps = 0.0
    for arm in (SCAN, FORMAT):
        cost = outcome.median(arm)
        steps += cost
        print(f"    {LABELS[arm]:<34} {format_duration(cost):>10}  ({cost / raw:6.1%} of raw load)")
    rest = edge - raw - steps
    print(
        f"    {'the rest (plan, session, specs...)':<34} {format_duration(rest):>10}  "
        f"({rest / raw:6.1%} of raw load)"
    )
    if outcome.first_load_ns is not None:
        first_extra = outcome.first_load_ns - edge
        print(
            f"  the process's first edgeinfer.load took {format_duration(outcome.first_load_ns)}"
            f": {format_duration(first_extra)} more, once (backend module import, entry points, "
            "device detection)"
        )
    detail = (
        f"edgeinfer {format_duration(edge)}, raw {format_duration(raw)}, IQR {low:.3f}-{high:.3f}"
        f"; scan {format_duration(outcome.median(SCAN))}, format "
        f"{format_duration(outcome.median(FORMAT))}"
    )
    print(result_line(BENCH, outcome.name, ratio, TARGET, detail))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (the target is reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 5 s instead of about 25 s")
    args = parser.parse_args(argv)
    import onnxruntime

    print(f"edgeinfer.load vs raw InferenceSession creation ({environment()})")
    print(f"onnxruntime {onnxruntime.__version__} imported beforehand; quick={args.quick}")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_models(Path(folder))
        for position, name in enumerate((ONE_OP, MOBILENET)):
            size = paths[name].stat().st_size
            print(f"\n[{name}] {paths[name].name}, {size / 1e6:.2f} MB")
            report(measure(name, paths[name], args.quick, first=position == 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
