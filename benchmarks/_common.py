"""Helpers shared by the benchmark scripts: model building, statistics, verdict lines.

Not a benchmark itself. Each ``bench_*.py`` script puts this folder (where it lives) and the
repository's ``tests/`` folder on ``sys.path`` so that it runs as ``python benchmarks/bench_x.py``
from anywhere.
"""

from __future__ import annotations

import itertools
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TESTS_DIR = REPO_ROOT / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

ONE_OP = "one-op"
MOBILENET = "mobilenet_v2"
_MODEL_FILES = {ONE_OP: "one_op.onnx", MOBILENET: "mobilenet_v2.onnx"}
# Shape of the one input of each model (see tests/onnx_models.py).
INPUT_SHAPES: dict[str, tuple[int, ...]] = {ONE_OP: (1, 16), MOBILENET: (1, 3, 224, 224)}
CPU_PROVIDER = "CPUExecutionProvider"
# What edgeinfer's ONNX Runtime backend sets on SessionOptions (session_options() in
# src/edgeinfer/backends/onnxruntime/config.py): fatal-only logging, and intra-op threads when
# given.
# It leaves inter_op_num_threads at onnxruntime's default (0; unused in sequential mode).
EDGEINFER_LOG_SEVERITY = 4


def build_models(folder: Path, names: Sequence[str] = (ONE_OP, MOBILENET)) -> dict[str, Path]:
    """Build the named test models into ``folder`` with the builders in tests/onnx_models.py."""
    from onnx_models import build_mobilenet_v2, build_one_op

    builders: dict[str, Callable[[Path], Path]] = {
        ONE_OP: build_one_op,
        MOBILENET: build_mobilenet_v2,
    }
    return {name: builders[name](folder / _MODEL_FILES[name]) for name in names}


def example_input(name: str, seed: int = 0) -> np.ndarray:
    """A fixed random float32 input for the model ``name``."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(INPUT_SHAPES[name], dtype=np.float32)


def raw_session_options(ort: Any, threads: int | None) -> Any:
    """``SessionOptions`` identical to the ones edgeinfer builds for ``threads``."""
    options = ort.SessionOptions()
    options.log_severity_level = EDGEINFER_LOG_SEVERITY
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


def session_option_values(session: Any) -> dict[str, str]:
    """The public, non-callable SessionOptions attributes of an ``InferenceSession``."""
    options = session.get_session_options()
    values: dict[str, str] = {}
    for attribute in dir(options):
        if attribute.startswith("_"):
            continue
        value = getattr(options, attribute)
        if not callable(value):
            values[attribute] = repr(value)
    values["providers"] = repr(session.get_providers())
    values["provider_options"] = repr(session.get_provider_options())
    return values


def settings_difference(edge_session: Any, raw_session: Any) -> list[str]:
    """Every SessionOptions attribute and provider setting in which the two sessions differ."""
    edge = session_option_values(edge_session)
    raw = session_option_values(raw_session)
    return [
        f"{key}: edgeinfer {edge.get(key)} vs raw {raw.get(key)}"
        for key in sorted(set(edge) | set(raw))
        if edge.get(key) != raw.get(key)
    ]


def timer_overhead_ns(samples: int = 20000) -> float:
    """Median cost of one ``perf_counter_ns()`` pair, in ns: the floor of a timed call."""
    costs = np.empty(samples, dtype=np.int64)
    for i in range(samples):
        start = perf_counter_ns()
        costs[i] = perf_counter_ns() - start
    return float(np.median(costs))


def time_calls(function: Callable[..., Any], args: tuple[Any, ...], count: int) -> list[int]:
    """Call ``function(*args)`` ``count`` times; each call's duration in ns."""
    durations = [0] * count
    for i in range(count):
        start = perf_counter_ns()
        function(*args)
        durations[i] = perf_counter_ns() - start
    return durations


def iqr(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The 25th and 75th percentiles."""
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [25, 75])
    return float(low), float(high)


Arm = tuple[Callable[..., Any], tuple[Any, ...]]  # a callable and its arguments


@dataclass(frozen=True)
class Interleaved:
    """Per-call figures of arms timed in interleaved rounds, in ns after the timer's own cost."""

    name: str
    rounds: int
    calls: int  # per arm
    medians: dict[str, float]  # over every call of the arm
    per_round: dict[str, np.ndarray]  # each round's median

    def ratio(self, top: str, bottom: str) -> float:
        return self.medians[top] / self.medians[bottom]

    def spread(self, top: str, bottom: str) -> tuple[float, float]:
        """The interquartile range of the per-round ratio ``top / bottom``."""
        return iqr(self.per_round[top] / self.per_round[bottom])


def interleave(
    name: str, arms: dict[str, Arm], block: int, seconds: float, min_rounds: int, timer_ns: float
) -> Interleaved:
    """Warm every arm up, then time ``block`` calls of each arm per round, the order cycling
    through every permutation (so drift and frequency changes hit all arms alike), for at least
    ``min_rounds`` rounds and ``seconds`` seconds."""
    for function, args in arms.values():
        time_calls(function, args, max(3, block))  # warm-up
    orders = itertools.cycle(itertools.permutations(arms))
    every: dict[str, list[int]] = {arm: [] for arm in arms}
    per_round: dict[str, list[float]] = {arm: [] for arm in arms}
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < min_rounds or time.perf_counter() < deadline:
        for arm in next(orders):
            function, args = arms[arm]
            durations = time_calls(function, args, block)
            every[arm].extend(durations)
            per_round[arm].append(float(np.median(durations)) - timer_ns)
        rounds += 1
    return Interleaved(
        name=name,
        rounds=rounds,
        calls=rounds * block,
        medians={arm: float(np.median(values)) - timer_ns for arm, values in every.items()},
        per_round={arm: np.asarray(values) for arm, values in per_round.items()},
    )


def ratio_line(
    outcome: Interleaved, top: str, bottom: str, label: str, target: float | None, width: int = 34
) -> str:
    """``  label  ratio  (per-round IQR a-b)  target <= t: PASS``."""
    ratio = outcome.ratio(top, bottom)
    low, high = outcome.spread(top, bottom)
    text = f"  {label:<{width}} {ratio:.3f}  (per-round IQR {low:.3f}-{high:.3f})"
    if target is not None:
        text += f"  target <= {target:g}: {verdict(ratio, target)}"
    return text


def verdict(ratio: float, target: float) -> str:
    """``PASS`` when ``ratio <= target``, else ``MISS``."""
    return "PASS" if ratio <= target else "MISS"


def result_line(bench: str, case: str, ratio: float, target: float, detail: str) -> str:
    """One machine-greppable summary line; ``run_all.py`` collects the lines that start so."""
    return (
        f"RESULT {bench} | {case} | ratio {ratio:.3f} | target <= {target:g} | "
        f"{verdict(ratio, target)} | {detail}"
    )


def format_duration(ns: float) -> str:
    """A duration in ns as ``12.3 us`` or ``45.6 ms``."""
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.2f} us"


def environment() -> str:
    """One line describing this machine and the versions in use."""
    import onnxruntime

    return (
        f"{platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, onnxruntime {onnxruntime.__version__}"
    )
