"""The bench's p50 against a plain timing loop of the raw runtime: same model, same process.

The issue's requirement: "the bench's p50 for a model agrees within 5% with a plain timing loop of
the raw runtime on the same machine in the same run". Two models, one thread everywhere:

- MobileNetV2 224 fp32 ``.onnx`` on ONNX Runtime (CPU provider, edgeinfer's SessionOptions);
- MobileNetV2 224 int8 ``.tflite`` on LiteRT (XNNPACK, native int8 input, no ``float_io``).

Arms, interleaved: each round times one block of every arm (about ``BLOCK_S`` seconds each), the
order cycling through every permutation, so drift hits all arms alike.

- ``bench``: the bench's own measured loop, ``edgeinfer.bench._run.measure`` (its built-in
  harness) on ``edgeinfer.load(path, backend=..., device="cpu", threads=1, fallback=False)``, fed
  the model's native dtype as the bench feeds it (an int8 model gets int8).
- ``loadgen``: the bench's LoadGen harness, ``edgeinfer.bench._loadgen.run_loadgen`` driving
  ``Model.run`` in SingleStream (when ``mlcommons-loadgen`` is installed).
- ``raw``: ``perf_counter_ns`` around ``InferenceSession.run(None, feeds)``, or around LiteRT's
  ``set_tensor(i, x); invoke(); get_tensor(o)``, on a separate session / interpreter.

An arm's p50 is the median of its per-round p50s (the same estimator for every arm; ``profile``
returns statistics, not samples). The ratio arm/raw is the median of the per-round ratios (paired:
load that comes and goes between rounds cancels). The verdict is two-sided: the larger of
bench/raw and raw/bench must be <= 1.05; the RESULT line's ratio is that "disagreement". Always
exits 0.

    python benchmarks/bench_cli_vs_raw.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    CPU_PROVIDER,
    MOBILENET,
    environment,
    example_input,
    format_duration,
    iqr,
    raw_session_options,
    result_line,
    verdict,
)

BENCH = "cli_vs_raw"
TARGET = 1.05
THREADS = 1
BLOCK_S = 0.4
QUICK_BLOCK_S = 0.15
SECONDS, QUICK_SECONDS = 24.0, 3.0  # per model
MIN_ROUNDS, QUICK_MIN_ROUNDS = 12, 4
BENCH_ARM, FLOAT_IO, LOADGEN, RAW = "bench", "float_io", "loadgen", "raw"
ONNX_CASE, TFLITE_CASE = "mobilenet_v2 onnxruntime", "mobilenet_v2_int8 litert"
Block = Callable[[int], list[float]]  # calls -> per-call latencies in us (or one p50)


@dataclass(frozen=True)
class Case:
    """One model: its file, backend and the raw runtime's step."""

    name: str
    path: Path
    backend: str


def bench_measure_source() -> str:
    """How the bench arm measures."""
    return "edgeinfer.bench._run.measure (the bench's built-in harness)"


def bench_block(model: Any, x: np.ndarray) -> Block:
    """The bench arm: the bench's measured loop, exactly ``calls`` queries of ``x``."""
    from edgeinfer.bench._run import Settings
    from edgeinfer.bench._run import measure as bench_measure

    feeds = [{model.inputs[0].name: x}]
    settings = Settings(duration=1e-6, min_queries=1, max_duration=3600.0)

    def block(calls: int) -> list[float]:
        rule = Settings(
            duration=settings.duration, min_queries=calls, max_duration=settings.max_duration
        )
        latencies, _ = bench_measure(model, feeds, rule)
        return [ns / 1000 for ns in latencies]

    return block


def loadgen_block(model: Any, x: np.ndarray, seconds: float) -> Block | None:
    """The LoadGen harness around ``Model.run``; ``None`` when LoadGen is not installed."""
    from edgeinfer.bench._loadgen import loadgen_available, run_loadgen

    ok, reason = loadgen_available()
    print(f"  loadgen arm: {reason}")
    if not ok:
        return None
    run = model.run

    def call() -> None:
        run(x)

    def block(calls: int) -> list[float]:
        latencies, _ = run_loadgen(call, "single-stream", seconds * 0.8, calls)
        return [ns / 1000 for ns in latencies]

    return block


def timed_loop(step: Callable[[], Any]) -> Block:
    """A plain ``perf_counter_ns`` loop around ``step``."""
    clock = time.perf_counter_ns

    def block(calls: int) -> list[float]:
        durations = [0] * calls
        for i in range(calls):
            start = clock()
            step()
            durations[i] = clock() - start
        return [ns / 1000 for ns in durations]

    return block


def raw_onnxruntime(path: Path) -> tuple[Block, np.ndarray]:
    """The raw session loop and its input (the same array object the other arms get)."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(path), sess_options=raw_session_options(ort, THREADS), providers=[CPU_PROVIDER]
    )
    x = example_input(MOBILENET)
    feeds = {session.get_inputs()[0].name: x}
    return timed_loop(lambda: session.run(None, feeds)), x


def raw_litert(path: Path) -> tuple[Block, np.ndarray]:
    """The raw interpreter loop (set_tensor, invoke, get_tensor) and its int8 input."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=THREADS)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    input_index = detail["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 127, size=tuple(detail["shape"]), dtype=np.int8, endpoint=True)
    set_tensor, invoke, get_tensor = (
        interpreter.set_tensor,
        interpreter.invoke,
        interpreter.get_tensor,
    )

    def step() -> Any:
        set_tensor(input_index, x)
        invoke()
        return get_tensor(output_index)

    return timed_loop(step), x


@dataclass(frozen=True)
class Outcome:
    """One model's figures: each arm's per-round p50s (us)."""

    case: Case
    rounds: int
    calls: int
    per_round: dict[str, np.ndarray]
    pooled: dict[str, float]  # p50 over every call, where the arm returns samples

    def p50(self, arm: str) -> float:
        return float(np.median(self.per_round[arm]))

    def ratio(self, arm: str) -> float:
        """The median of the per-round ratios ``arm / raw``: each pair ran back to back, so
        load that comes and goes between rounds cancels out."""
        return float(np.median(self.per_round[arm] / self.per_round[RAW]))

    def spread(self, arm: str) -> tuple[float, float]:
        return iqr(self.per_round[arm] / self.per_round[RAW])


def measure(case: Case, quick: bool) -> Outcome:
    """Interleave blocks of every arm until the case's time budget is spent."""
    import edgeinfer

    raw, x = (raw_onnxruntime if case.backend == "onnxruntime" else raw_litert)(case.path)
    model = edgeinfer.load(
        case.path, backend=case.backend, device="cpu", threads=THREADS, fallback=False
    )
    print(f"  {model.explain().splitlines()[1].strip()}")
    print(f"  input {model.inputs[0].name} {model.inputs[0].dtype} {list(x.shape)}")
    block_s = QUICK_BLOCK_S if quick else BLOCK_S
    arms: dict[str, Block] = {BENCH_ARM: bench_block(model, x), RAW: raw}
    lg = loadgen_block(model, x, block_s)
    if lg is not None:
        arms[LOADGEN] = lg
    models = [model]
    reference = next(iter(model.run(x).values()))
    raw(1)
    for _, block in arms.items():
        block(3)  # warm-up
    start = time.perf_counter()
    raw(5)
    call_s = (time.perf_counter() - start) / 5
    calls = max(5, round(block_s / call_s))
    if not np.all(np.isfinite(reference.astype(np.float64))):
        print("  WARNING: the model's output is not finite")
    orders = itertools.cycle(itertools.permutations(arms))
    per_round: dict[str, list[float]] = {arm: [] for arm in arms}
    samples: dict[str, list[float]] = {arm: [] for arm in arms}
    deadline = time.perf_counter() + (QUICK_SECONDS if quick else SECONDS)
    rounds = 0
    while rounds < (QUICK_MIN_ROUNDS if quick else MIN_ROUNDS) or time.perf_counter() < deadline:
        for arm in next(orders):
            values = arms[arm](calls)
            per_round[arm].append(float(np.median(values)))
            if len(values) > 1:
                samples[arm].extend(values)
        rounds += 1
    for opened in models:
        opened.close()
    return Outcome(
        case=case,
        rounds=rounds,
        calls=calls,
        per_round={arm: np.asarray(values) for arm, values in per_round.items()},
        pooled={arm: float(np.median(v)) for arm, v in samples.items() if v},
    )


LABELS = {
    BENCH_ARM: "bench measured loop (bench._run.measure)",
    FLOAT_IO: "bench arm with float_io=True",
    LOADGEN: "bench LoadGen harness (Model.run)",
    RAW: "raw runtime loop",
}


def report(outcome: Outcome) -> None:
    """Print one model's figures, the verdicts and the RESULT lines."""
    print(
        f"  {outcome.rounds} rounds of {outcome.calls} calls per arm (LoadGen: at least); "
        "p50 = median of the per-round p50s:"
    )
    for arm in (BENCH_ARM, FLOAT_IO, LOADGEN, RAW):
        if arm not in outcome.per_round:
            continue
        pooled = outcome.pooled.get(arm)
        extra = f"  (over all calls {format_duration(pooled * 1000)})" if pooled else ""
        print(f"    {LABELS[arm]:<36} {format_duration(outcome.p50(arm) * 1000):>10}{extra}")
    for arm in (BENCH_ARM, FLOAT_IO, LOADGEN):
        if arm not in outcome.per_round:
            continue
        ratio = outcome.ratio(arm)
        disagreement = max(ratio, 1 / ratio)
        low, high = outcome.spread(arm)
        print(
            f"  {arm}/raw {ratio:.3f} (median of per-round ratios; IQR {low:.3f}-{high:.3f}; "
            f"ratio of the p50s {outcome.p50(arm) / outcome.p50(RAW):.3f}); within 5%: "
            f"{verdict(disagreement, TARGET)}"
        )
        case = outcome.case.name + ("" if arm == BENCH_ARM else f" {arm}")
        detail = (
            f"{arm} p50 {format_duration(outcome.p50(arm) * 1000)}, raw p50 "
            f"{format_duration(outcome.p50(RAW) * 1000)}, {arm}/raw {ratio:.3f} "
            f"(IQR {low:.3f}-{high:.3f})"
        )
        print(result_line(BENCH, case, disagreement, TARGET, detail))


def build_cases(folder: Path) -> list[Case]:
    """MobileNetV2 fp32 ONNX and, when LiteRT is installed, MobileNetV2 int8 ``.tflite``."""
    from onnx_models import build_mobilenet_v2

    cases = [Case(ONNX_CASE, build_mobilenet_v2(folder / "mobilenet_v2.onnx"), "onnxruntime")]
    if importlib.util.find_spec("ai_edge_litert") is None:
        print("ai-edge-litert is not installed: the LiteRT case is skipped")
        return cases
    from tflite_models import build_mobilenet_v2 as build_tflite

    path = build_tflite(folder / "mobilenet_v2_int8.tflite", precision="int8")
    return [*cases, Case(TFLITE_CASE, path, "litert")]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (the verdicts are reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 15 s instead of about 60 s")
    args = parser.parse_args(argv)
    print(f"bench p50 vs a plain loop of the raw runtime ({environment()})")
    print(f"threads={THREADS} everywhere; perf_counter_ns per call; quick={args.quick}")
    print(f"bench arm: {bench_measure_source()}")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        for case in build_cases(Path(folder)):
            print(f"\n[{case.name}] {case.path.name}")
            report(measure(case, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
