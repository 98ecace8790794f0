"""Per-call overhead of ``Model.run`` over a raw ``onnxruntime.InferenceSession.run``.

Both run the same file with the same SessionOptions (one intra-op thread, CPU provider) on the same
input array object, in one process, interleaved: each round times a short block of calls of each
arm, the order cycling through every permutation, so that clock-frequency changes and other drift
hit all arms equally. Reports the median per-call time of each arm, the ratio of the medians
(edgeinfer / raw) and, as its spread, the interquartile range of the per-round ratio.

A third arm calls edgeinfer's own InferenceSession directly. Against it, Model.run's ratio is the
wrapper's cost alone; against the raw session it shows how much two sessions of one file differ
by themselves (memory placement), which is the noise floor of the headline ratio.

A fourth arm calls that session's pybind binding (``session._sess.run``), which is what
edgeinfer's backend calls: ``InferenceSession.run`` re-checks the feeds' names in Python, which
``Model.run`` has already done. Against it, Model.run's ratio is the Python layers edgeinfer adds
(input check, timing, fallback bookkeeping) with nothing taken off.

Targets: ratio <= 1.15 on the one-op model, <= 1.03 on MobileNetV2. Always exits 0.

    python benchmarks/bench_run_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    CPU_PROVIDER,
    MOBILENET,
    ONE_OP,
    Arm,
    Interleaved,
    build_models,
    environment,
    example_input,
    format_duration,
    interleave,
    ratio_line,
    raw_session_options,
    result_line,
    settings_difference,
    timer_overhead_ns,
)

BENCH = "run_overhead"
TARGETS = {ONE_OP: 1.15, MOBILENET: 1.03}
THREADS = 1
EDGE, RAW, SAME, BINDING = "edgeinfer", "raw", "same", "binding"
LABELS = {
    EDGE: "edgeinfer Model.run(x)",
    RAW: "raw session.run(None, feeds)",
    SAME: "edgeinfer's own session, raw call",
    BINDING: "that session's binding _sess.run",
}


@dataclass(frozen=True)
class Budget:
    """How one model is measured: calls per arm per round, and seconds of rounds."""

    block: int
    seconds: float
    quick_seconds: float
    min_rounds: int = 24


BUDGETS = {ONE_OP: Budget(200, 12.0, 1.2), MOBILENET: Budget(4, 30.0, 3.0)}


def _open_arms(name: str, path: Path) -> tuple[Any, dict[str, Arm]]:
    """The edgeinfer model and every arm; checks that the sessions' settings are identical."""
    import onnxruntime as ort

    import edgeinfer

    model = edgeinfer.load(path, backend="onnxruntime", device="cpu", threads=THREADS)
    raw = ort.InferenceSession(
        str(path), sess_options=raw_session_options(ort, THREADS), providers=[CPU_PROVIDER]
    )
    x = example_input(name)
    feeds = {model.inputs[0].name: x}  # the same array object on every arm
    arms: dict[str, Arm] = {EDGE: (model.run, (x,)), RAW: (raw.run, (None, feeds))}
    own = getattr(getattr(model, "_backend", None), "_session", None)
    if own is None:
        print("  note: edgeinfer's session is out of reach (internals moved): no same-session arm")
        return model, arms
    arms[SAME] = (own.run, (None, feeds))
    names = [spec.name for spec in model.outputs]
    arms[BINDING] = (own._sess.run, (names, feeds, None))
    differences = settings_difference(own, raw)
    if differences:
        print("  WARNING: the two sessions differ, the comparison is not like for like:")
        for line in differences:
            print(f"    {line}")
    else:
        print("  settings: identical SessionOptions and providers in both sessions")
    edge_out = next(iter(model.run(x).values()))
    if not np.array_equal(edge_out, raw.run(None, feeds)[0]):
        print("  WARNING: edgeinfer and raw onnxruntime outputs differ")
    return model, arms


def measure(name: str, path: Path, quick: bool, timer_ns: float) -> Interleaved:
    """Interleave timed blocks of every arm on model ``name`` until its time budget is spent."""
    budget = BUDGETS[name]
    model, arms = _open_arms(name, path)
    seconds = budget.quick_seconds if quick else budget.seconds
    outcome = interleave(name, arms, budget.block, seconds, budget.min_rounds, timer_ns)
    model.close()
    return outcome


def report(outcome: Interleaved) -> None:
    """Print one model's figures, its verdict and its RESULT line."""
    target = TARGETS[outcome.name]
    medians = outcome.medians
    print(f"  {outcome.rounds} rounds, {outcome.calls} calls per arm; median per call:")
    for arm, median in medians.items():
        print(f"    {LABELS[arm]:<36} {format_duration(median):>10}")
    overhead = medians[EDGE] - medians[RAW]
    print(f"    {'edgeinfer - raw':<36} {format_duration(overhead):>10}")
    print(ratio_line(outcome, EDGE, RAW, "ratio edgeinfer/raw", target))
    detail = f"edgeinfer {format_duration(medians[EDGE])}, raw {format_duration(medians[RAW])}"
    low, high = outcome.spread(EDGE, RAW)
    detail += f", IQR {low:.3f}-{high:.3f}"
    if SAME in medians:
        print(ratio_line(outcome, EDGE, SAME, "wrapper only (same session)", target))
        print(ratio_line(outcome, SAME, RAW, "session vs session (noise floor)", None))
        detail += f"; same-session {outcome.ratio(EDGE, SAME):.3f}"
        detail += f"; session-vs-session {outcome.ratio(SAME, RAW):.3f}"
    if BINDING in medians:
        print(ratio_line(outcome, EDGE, BINDING, "edgeinfer's layers (vs the binding)", None))
        added = medians[EDGE] - medians[BINDING]
        print(f"    {'added by edgeinfer':<36} {format_duration(added):>10}")
        detail += f"; vs binding {outcome.ratio(EDGE, BINDING):.3f}"
    print(result_line(BENCH, outcome.name, outcome.ratio(EDGE, RAW), target, detail))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (targets are reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 5 s instead of about 45 s")
    args = parser.parse_args(argv)
    print(f"Model.run overhead vs raw InferenceSession.run ({environment()})")
    print(f"threads={THREADS} on every session; time.perf_counter_ns per call; quick={args.quick}")
    timer_ns = timer_overhead_ns()
    print(f"timer cost {timer_ns:.0f} ns per call, subtracted from every figure")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_models(Path(folder))
        for name in (ONE_OP, MOBILENET):
            print(f"\n[{name}] {paths[name].name}")
            report(measure(name, paths[name], args.quick, timer_ns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
