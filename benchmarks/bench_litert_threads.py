"""One LiteRT ``Model`` shared by 8 threads: a lock around one interpreter, or an interpreter each?

Eight threads share one ``Model`` and each makes 500 calls (50 on MobileNetV2 with ``--quick``)
with its own fixed input, all released at once by a barrier. The small CNN's run lasts ~0.15 s,
so it is repeated 7 times in the process and the median round's wall time counts. The pool size is
``options={"litert": {"interpreters": N}}`` for N in (1, 2, os.cpu_count(), 8) (each size once),
with ``threads=1`` and with ``threads=None`` (the runtime's default) in ``load()``, on the small CNN
(fp32) and MobileNetV2 224 (int8, fed int8: the model's own dtype).

Reported for each: wall time from the barrier to the last thread's end, throughput (calls/s),
the throughput of one thread calling alone on the same ``Model`` just before (the reference),
per-call latency p50/p99/max as the threads saw it (``perf_counter_ns`` around ``model.run``),
when the first thread finished its calls (seconds after the barrier: far below the wall time
means the threads were not served fairly, some finishing before others had started), the
interpreters created (the backend's ``interpreters`` detail, from ``Model.explain()``), process
RSS growth (psutil) after load and after the run, each relative to just before ``load()``, and
throughput per MB of that growth after the run. Every output is compared, byte for byte, with the
output of a single-threaded call on the same input made before the run; the mismatch count must
be 0.

Each configuration runs in a fresh child process (this script with ``--child``), so that memory
one configuration allocated cannot hide another's growth. Before it reads the baseline RSS the
child imports numpy, psutil, ``ai_edge_litert.interpreter`` and the edgeinfer modules that a first
``load()`` imports, and calls ``edgeinfer.backends()``: the growth is then the interpreters, their
tensors and the run, not one-time imports (~5 MB of them). Always exits 0.

    python benchmarks/bench_litert_threads.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _common import BENCH_DIR
from bench_litert_overhead import (
    MOBILENET_INT8,
    SMALL_CNN,
    build_tflite_models,
    litert_environment,
    native_input,
)

WORKERS = 8
CALLS = 500  # per thread
QUICK_CALLS = {SMALL_CNN: 500, MOBILENET_INT8: 50}  # the small CNN's 4000 calls take ~0.2 s
# Rounds of the whole 8-thread run in one process; the figures are the median round's. One round
# of the small CNN lasts ~0.15 s, within reach of a scheduler hiccup, so it gets several.
ROUNDS = {SMALL_CNN: 7, MOBILENET_INT8: 1}
SOLO_CALLS = {SMALL_CNN: 4000, MOBILENET_INT8: 100}  # one thread alone, the reference throughput
MODELS = (SMALL_CNN, MOBILENET_INT8)
CPUS = os.cpu_count() or 1
POOL_SIZES = tuple(sorted({1, 2, CPUS, 8}))
THREAD_SETTINGS: tuple[int | None, ...] = (1, None)
CHILD_TAG = "CHILD "
MB = 1024 * 1024
# A throughput gain below 10% is within run-to-run noise on a shared 2-core machine.
NOTABLE = 1.10
# Modules the first edgeinfer.load() of a LiteRT model imports; imported before the baseline.
LOAD_MODULES = ("edgeinfer._model.load", "edgeinfer.backends.litert.backend")
InputKind = tuple[tuple[int, ...], np.dtype[Any]]  # an input's shape and dtype


@dataclass(frozen=True)
class Config:
    """One configuration: model, ``threads`` given to ``load()``, and the pool size."""

    model: str
    threads: int | None
    interpreters: int

    @property
    def threads_label(self) -> str:
        return "default" if self.threads is None else str(self.threads)

    @property
    def setting(self) -> str:
        return f"threads={self.threads_label} interpreters={self.interpreters}"

    @property
    def label(self) -> str:
        return f"{self.model} {self.setting}"


@dataclass(frozen=True)
class Figures:
    """What one child measured."""

    config: Config
    solo_per_s: float  # calls/s of one thread calling alone
    wall_s: float  # the median round's
    calls: int  # per round
    rounds: int
    p50_us: float
    p99_us: float
    max_us: float
    first_done_s: float
    created: str
    load_growth_mb: float
    run_growth_mb: float
    mismatches: int

    @property
    def throughput(self) -> float:
        return self.calls / self.wall_s

    @property
    def per_mb(self) -> float:
        """Calls/s per MB of RSS growth (growth floored at 1 MB: below that it is noise)."""
        return self.throughput / max(self.run_growth_mb, 1.0)


# --- the child: one configuration in a fresh process ---------------------------------------------
def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _interpreters_line(model: Any) -> str:
    """The ``interpreters`` detail from ``Model.explain()`` (e.g. ``2 created, up to 8``)."""
    for line in model.explain().splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "interpreters":
            return str(value)
    return "(not reported)"


def child(
    path: Path,
    threads: int | None,
    interpreters: int,
    calls: int,
    rounds: int,
    solo: int,
    kind: InputKind,
) -> dict[str, Any]:
    """Load the model, then ``rounds`` times run ``WORKERS`` threads of ``calls`` calls each;
    the figures (the median round's wall time, every call's latency) as a dict."""
    import importlib

    import psutil  # noqa: F401  (imported before the baseline, like everything else)
    from ai_edge_litert import interpreter as _runtime  # noqa: F401

    import edgeinfer

    edgeinfer.backends()  # detection and the registry: once per process, not per model
    for module in LOAD_MODULES:  # what load() imports on first use (~5 MB, once per process)
        importlib.import_module(module)

    inputs = [native_input(*kind, seed=seed) for seed in range(WORKERS)]
    latencies = np.zeros((rounds, WORKERS, calls), dtype=np.int64)
    latencies.fill(1)  # touch its pages now: before the baseline, not during the run
    mismatches = [0] * WORKERS
    finished = [0.0] * WORKERS
    before = _rss()
    model = edgeinfer.load(
        path,
        backend="litert",
        device="cpu",
        threads=threads,
        options={"litert": {"interpreters": interpreters}},
    )
    name = model.outputs[0].name
    expected = [model.run(x)[name].tobytes() for x in inputs]  # single-threaded reference
    after_load = _rss()
    started = time.perf_counter()
    for _ in range(solo):
        model.run(inputs[0])
    solo_per_s = solo / (time.perf_counter() - started)
    walls, firsts = [], []
    for round_ in range(rounds):
        barrier = threading.Barrier(WORKERS + 1)

        def work(worker: int, durations: np.ndarray, barrier: threading.Barrier) -> None:
            x, reference, run = inputs[worker], expected[worker], model.run
            barrier.wait()
            for i in range(calls):
                start = time.perf_counter_ns()
                result = run(x)
                durations[i] = time.perf_counter_ns() - start
                if result[name].tobytes() != reference:
                    mismatches[worker] += 1
            finished[worker] = time.perf_counter()

        workers = [
            threading.Thread(target=work, args=(i, latencies[round_, i], barrier))
            for i in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        barrier.wait()
        start = time.perf_counter()
        for worker in workers:
            worker.join()
        walls.append(time.perf_counter() - start)
        firsts.append(min(finished) - start)
    after_run = _rss()
    created = _interpreters_line(model)
    model.close()
    median = int(np.argsort(walls)[len(walls) // 2])
    every = latencies.ravel()
    return {
        "solo_per_s": solo_per_s,
        "wall_s": walls[median],
        "calls": WORKERS * calls,
        "rounds": rounds,
        "p50_us": float(np.percentile(every, 50)) / 1e3,
        "p99_us": float(np.percentile(every, 99)) / 1e3,
        "max_us": float(every.max()) / 1e3,
        "first_done_s": firsts[median],
        "created": created,
        "load_growth_mb": (after_load - before) / MB,
        "run_growth_mb": (after_run - before) / MB,
        "mismatches": sum(mismatches),
    }


def input_kind(path: Path) -> InputKind:
    """The first input's shape and dtype (read here, in the parent: a child reading them would
    create an interpreter before its baseline)."""
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    return tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"])


# --- the parent: every configuration, then the tables and the conclusion -------------------------
def run_config(
    config: Config, path: Path, calls: int, rounds: int, kind: InputKind
) -> Figures | None:
    """Run one configuration in a child process; ``None`` (and its output shown) if it failed."""
    command = [
        sys.executable,
        str(BENCH_DIR / "bench_litert_threads.py"),
        "--child",
        str(path),
        "--threads",
        "none" if config.threads is None else str(config.threads),
        "--interpreters",
        str(config.interpreters),
        "--calls",
        str(calls),
        "--rounds",
        str(rounds),
        "--solo",
        str(SOLO_CALLS[config.model]),
        "--input",
        ",".join(map(str, kind[0])) + ":" + kind[1].name,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(CHILD_TAG):
            return Figures(config=config, **json.loads(line[len(CHILD_TAG) :]))
    print(f"  {config.label}: the child failed (status {done.returncode})")
    print("    " + (done.stderr or done.stdout).strip().replace("\n", "\n    "))
    return None


def _row(figures: Figures) -> str:
    config = figures.config
    cells = (
        f"{config.threads_label:>7}",
        f"{config.interpreters:>4}",
        f"{figures.wall_s:>6.2f}",
        f"{figures.throughput:>7.0f}",
        f"{figures.solo_per_s:>7.0f}",
        f"{_us(figures.p50_us):>8}",
        f"{_us(figures.p99_us):>8}",
        f"{_us(figures.max_us):>8}",
        f"{figures.first_done_s:>6.2f} ",
        f"{figures.created:<18}",
        f"{figures.load_growth_mb:>6.1f}",
        f"{figures.run_growth_mb:>7.1f}",
        f"{figures.per_mb:>7.0f}",
        f"{figures.mismatches:>5}",
    )
    return "  " + " ".join(cells)


def _us(value: float) -> str:
    return f"{value / 1e3:.1f} ms" if value >= 1000 else f"{value:.1f} us"


def _header() -> str:
    cells = (
        f"{'threads':>7}",
        f"{'pool':>4}",
        f"{'wall s':>6}",
        f"{'calls/s':>7}",
        f"{'1 alone':>7}",
        f"{'p50':>8}",
        f"{'p99':>8}",
        f"{'max':>8}",
        f"{'first':>6} ",
        f"{'interpreters':<18}",
        f"{'RSS ld':>6}",
        f"{'RSS run':>7}",
        f"{'per MB':>7}",
        f"{'mism.':>5}",
    )
    return "  " + " ".join(cells)


def conclude(model: str, results: list[Figures]) -> tuple[list[str], list[bool]]:
    """One model's conclusion lines (best throughput per MB; whether a pool above the core count
    helps) and, for each ``threads`` setting, whether it helped."""
    best = max(results, key=lambda f: f.per_mb)
    fastest = max(results, key=lambda f: f.throughput)
    lines = [
        f"CONCLUSION {model}: best throughput per MB: {best.config.setting} "
        f"({best.throughput:.0f} calls/s, +{best.run_growth_mb:.1f} MB, "
        f"{best.per_mb:.0f} calls/s/MB); best throughput: {fastest.config.setting} "
        f"({fastest.throughput:.0f} calls/s, +{fastest.run_growth_mb:.1f} MB, "
        f"{fastest.throughput / fastest.solo_per_s:.2f}x one thread alone)"
    ]
    helped: list[bool] = []
    for threads in THREAD_SETTINGS:
        by_size = {f.config.interpreters: f for f in results if f.config.threads == threads}
        at_cores, above = by_size.get(CPUS), [f for n, f in by_size.items() if n > CPUS]
        if at_cores is None or not above:
            continue
        gains = ", ".join(
            f"{f.config.interpreters}: {f.throughput / at_cores.throughput:.2f}x" for f in above
        )
        helps = any(f.throughput >= NOTABLE * at_cores.throughput for f in above)
        helped.append(helps)
        lines.append(
            f"CONCLUSION {model} threads={at_cores.config.threads_label}: "
            f"interpreters > cores ({CPUS}) {'helps' if helps else 'does not help'} "
            f"(throughput vs {CPUS} interpreters: {gains})"
        )
    return lines, helped


def _load_average() -> str:
    """The 1, 5 and 15 minute load averages, or a note where the system has none."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):  # no load average on this system (Windows)
        return "(unavailable)"


def overall(best: dict[str, int], helped: list[bool]) -> str:
    """The one-line answer over every model."""
    sizes = ", ".join(f"{model} {size}" for model, size in best.items())
    if not helped:
        above = f"no pool size above {CPUS} was measured"
    elif any(helped):
        above = (
            f"interpreters > cores gave >= {NOTABLE - 1:.0%} more throughput in "
            f"{sum(helped)} of {len(helped)} settings"
        )
    else:
        above = (
            f"interpreters > cores never helped (never >= {NOTABLE - 1:.0%} more throughput "
            f"than {CPUS}, in {len(helped)} settings)"
        )
    return f"CONCLUSION on {CPUS} cores: best throughput per MB at interpreters = {sizes}; {above}"


def main(argv: list[str] | None = None) -> int:
    """Run every configuration; always returns 0 (a child that fails is reported)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="50 calls per thread on MobileNetV2 (~15 s)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="1", help=argparse.SUPPRESS)
    parser.add_argument("--interpreters", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=CALLS, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--solo", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--input", default="", help=argparse.SUPPRESS)  # "1,32,32,3:float32"
    args = parser.parse_args(argv)
    if args.child is not None:
        threads = None if args.threads == "none" else int(args.threads)
        shape, dtype = args.input.split(":")
        kind = (tuple(int(d) for d in shape.split(",")), np.dtype(dtype))
        measured = child(
            args.child, threads, args.interpreters, args.calls, args.rounds, args.solo, kind
        )
        print(CHILD_TAG + json.dumps(measured), flush=True)
        return 0

    print(f"LiteRT: one Model shared by {WORKERS} threads ({litert_environment()})")
    print(f"load average at the start: {_load_average()} (other processes compete for the cores)")
    print(
        f"pool sizes {POOL_SIZES} (os.cpu_count() = {CPUS}); load(threads=1) and "
        f"load(threads=None); one fresh process per configuration; quick={args.quick}"
    )
    mismatches = 0
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_tflite_models(Path(folder), MODELS)
        conclusions: list[str] = []
        best: dict[str, int] = {}
        helped: list[bool] = []
        for model in MODELS:
            calls = QUICK_CALLS[model] if args.quick else CALLS
            rounds = ROUNDS[model]
            print(
                f"\n[{model}] {WORKERS} threads x {calls} calls, {rounds} round(s), the median "
                "round's wall time; latency over every call; first: s until the first thread "
                "was done; RSS growth in MB after load and after the run; per MB: calls/s per MB "
                "of RSS run"
            )
            print(_header())
            results = []
            kind = input_kind(paths[model])
            for threads in THREAD_SETTINGS:
                for size in POOL_SIZES:
                    config = Config(model, threads, size)
                    figures = run_config(config, paths[model], calls, rounds, kind)
                    if figures is not None:
                        print(_row(figures), flush=True)
                        results.append(figures)
                        mismatches += figures.mismatches
            if results:
                lines, model_helped = conclude(model, results)
                conclusions.extend(lines)
                helped.extend(model_helped)
                best[model] = max(results, key=lambda f: f.per_mb).config.interpreters
    print(f"\nmismatches against the single-thread outputs: {mismatches} (must be 0)")
    for line in conclusions:
        print(line)
    print(overall(best, helped))
    print(f"load average at the end: {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
