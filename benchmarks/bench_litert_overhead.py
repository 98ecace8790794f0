"""Per-call overhead of ``Model.run`` on the LiteRT backend over the raw TFLite interpreter loop.

edgeinfer's side is ``edgeinfer.load(path, backend="litert", device="cpu", threads=1)`` with the
default pool (``interpreters`` = the number of CPU cores), called as ``model.run(x)``. The raw
side is an ``ai_edge_litert.interpreter.Interpreter(model_path=..., num_threads=1)`` with tensors
allocated once, called as ``set_tensor(i, x); invoke(); get_tensor(o)``. Both get the same input
array object, in the model's native dtype (int8 for the int8 model: no ``float_io``).

The arms run interleaved in one process, as in ``bench_run_overhead.py``: each round times a short
block of calls of each arm, the order cycling through every permutation. Reported: the median
per-call time of each arm, the ratio of the medians (edgeinfer / raw) and, as its spread, the
interquartile range of the per-round ratio.

Two more arms separate the causes. "same" runs the raw loop on edgeinfer's own interpreter (the
first one of its pool): Model.run against it is the wrapper's cost alone, and it against the
separate raw interpreter is the noise floor (two interpreters of one file differ by themselves).
"lock" is ``Model.run`` on a second model loaded with ``options={"litert": {"interpreters": 1}}``,
whose pool is a plain lock around one interpreter instead of a semaphore plus a list.

Targets: ratio <= 1.15 on the small CNN (fp32), <= 1.03 on MobileNetV2 224 (int8; fp32 is
measured against the same target). The MobileNetV2 medians are also the absolute one-thread
latencies. Always exits 0.

    python benchmarks/bench_litert_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    Arm,
    Interleaved,
    format_duration,
    interleave,
    ratio_line,
    result_line,
    timer_overhead_ns,
)

BENCH = "litert_overhead"
SMALL_CNN = "small_cnn_fp32"
MOBILENET_INT8 = "mobilenet_v2_int8"
MOBILENET_FP32 = "mobilenet_v2_fp32"
CASES = (SMALL_CNN, MOBILENET_INT8, MOBILENET_FP32)
TARGETS = {SMALL_CNN: 1.15, MOBILENET_INT8: 1.03, MOBILENET_FP32: 1.03}
THREADS = 1
EDGE, RAW, SAME, LOCK = "edgeinfer", "raw", "same", "lock"
LABELS = {
    EDGE: "edgeinfer Model.run(x)",
    RAW: "raw set_tensor/invoke/get_tensor",
    SAME: "edgeinfer's own interpreter, raw loop",
    LOCK: "Model.run, interpreters=1 (lock)",
}


@dataclass(frozen=True)
class Budget:
    """How one model is measured: calls per arm per round, and seconds of rounds."""

    block: int
    seconds: float
    quick_seconds: float
    min_rounds: int = 24


BUDGETS = {
    SMALL_CNN: Budget(200, 12.0, 1.5),
    MOBILENET_INT8: Budget(4, 30.0, 3.0),
    MOBILENET_FP32: Budget(2, 16.0, 2.0),
}


def build_tflite_models(folder: Path, names: tuple[str, ...] = CASES) -> dict[str, Path]:
    """Build the named ``.tflite`` test models with the builders in tests/tflite_models.py."""
    from tflite_models import build_mobilenet_v2, build_small_cnn

    builders: dict[str, Callable[..., Path]] = {
        SMALL_CNN: build_small_cnn,
        MOBILENET_INT8: build_mobilenet_v2,
        MOBILENET_FP32: build_mobilenet_v2,
    }
    return {
        name: builders[name](folder / f"{name}.tflite", precision=name.rsplit("_", 1)[1])
        for name in names
    }


def native_input(shape: tuple[int, ...], dtype: np.dtype[Any], seed: int = 0) -> np.ndarray:
    """A fixed random input in the model's own dtype: standard normal floats, or any int8."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(shape).astype(dtype)


def litert_environment() -> str:
    """One line describing this machine and the versions in use."""
    from importlib.metadata import version

    return (
        f"{platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, ai-edge-litert {version('ai-edge-litert')}"
    )


def raw_step(interpreter: Any, input_index: int, x: np.ndarray, output_index: int) -> Any:
    """The raw loop body: what edgeinfer's ``Model.run`` is measured against."""
    interpreter.set_tensor(input_index, x)
    interpreter.invoke()
    return interpreter.get_tensor(output_index)


def _open_arms(path: Path) -> tuple[list[Any], dict[str, Arm]]:
    """The edgeinfer models and every arm; checks that every arm gives the same output."""
    from ai_edge_litert.interpreter import Interpreter

    import edgeinfer

    model = edgeinfer.load(path, backend="litert", device="cpu", threads=THREADS)
    one = {"litert": {"interpreters": 1}}
    locked = edgeinfer.load(path, backend="litert", device="cpu", threads=THREADS, options=one)
    raw = Interpreter(model_path=str(path), num_threads=THREADS)
    raw.allocate_tensors()
    input_index = raw.get_input_details()[0]["index"]
    output_index = raw.get_output_details()[0]["index"]
    spec = model.inputs[0]
    shape = tuple(int(d) for d in raw.get_input_details()[0]["shape"])
    x = native_input(shape, spec.dtype)  # the same array object on every arm
    arms: dict[str, Arm] = {
        EDGE: (model.run, (x,)),
        RAW: (raw_step, (raw, input_index, x, output_index)),
        LOCK: (locked.run, (x,)),
    }
    print(f"  input {spec.name} {spec.dtype} {list(shape)}; {model.explain().splitlines()[1]}")
    pool = getattr(getattr(model, "_backend", None), "_pool", None)
    own = pool.interpreters()[0] if pool is not None else None
    if own is None:
        print("  note: edgeinfer's interpreter is out of reach (internals moved): no same arm")
    else:
        arms[SAME] = (raw_step, (own, input_index, x, output_index))
    reference = raw_step(raw, input_index, x, output_index)
    for arm, (function, args) in arms.items():
        result = function(*args)
        got = next(iter(result.values())) if isinstance(result, dict) else result
        if not np.array_equal(got, reference):
            print(f"  WARNING: the {arm} arm's output differs from the raw interpreter's")
    return [model, locked], arms


def measure(name: str, path: Path, quick: bool, timer_ns: float) -> Interleaved:
    """Interleave timed blocks of every arm on model ``name`` until its time budget is spent."""
    budget = BUDGETS[name]
    models, arms = _open_arms(path)
    seconds = budget.quick_seconds if quick else budget.seconds
    outcome = interleave(name, arms, budget.block, seconds, budget.min_rounds, timer_ns)
    for model in models:
        model.close()
    return outcome


def report(outcome: Interleaved) -> None:
    """Print one model's figures, its verdict and its RESULT line."""
    target = TARGETS[outcome.name]
    medians = outcome.medians
    print(f"  {outcome.rounds} rounds, {outcome.calls} calls per arm; median per call:")
    for arm, median in medians.items():
        print(f"    {LABELS[arm]:<38} {format_duration(median):>10}")
    print(f"    {'edgeinfer - raw':<38} {format_duration(medians[EDGE] - medians[RAW]):>10}")
    print(ratio_line(outcome, EDGE, RAW, "ratio edgeinfer/raw", target, width=36))
    detail = f"edgeinfer {format_duration(medians[EDGE])}, raw {format_duration(medians[RAW])}"
    low, high = outcome.spread(EDGE, RAW)
    detail += f", IQR {low:.3f}-{high:.3f}"
    if SAME in medians:
        print(ratio_line(outcome, EDGE, SAME, "wrapper only (same interpreter)", target, width=36))
        print(ratio_line(outcome, SAME, RAW, "interpreter vs interpreter (floor)", None, width=36))
        detail += f"; same-interpreter {outcome.ratio(EDGE, SAME):.3f}"
        detail += f"; floor {outcome.ratio(SAME, RAW):.3f}"
    print(ratio_line(outcome, LOCK, RAW, "interpreters=1 (lock) / raw", None, width=36))
    detail += f"; interpreters=1 {outcome.ratio(LOCK, RAW):.3f}"
    print(result_line(BENCH, outcome.name, outcome.ratio(EDGE, RAW), target, detail))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (targets are reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 10 s instead of about 65 s")
    args = parser.parse_args(argv)
    print(f"LiteRT Model.run overhead vs the raw interpreter loop ({litert_environment()})")
    print(f"num_threads={THREADS} everywhere; perf_counter_ns per call; quick={args.quick}")
    timer_ns = timer_overhead_ns()
    print(f"timer cost {timer_ns:.0f} ns per call, subtracted from every figure")
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_tflite_models(Path(folder))
        for name in CASES:
            print(f"\n[{name}] {paths[name].name}")
            report(measure(name, paths[name], args.quick, timer_ns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
