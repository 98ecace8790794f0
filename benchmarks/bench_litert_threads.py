"""One LiteRT ``Model`` shared by 8 threads: a lock around one interpreter, or an interpreter each?

Eight threads share one ``Model`` and each makes 500 calls (50 with ``--quick``) with its own
fixed input, all released at once by a barrier. The pool size is
``options={"litert": {"interpreters": N}}`` for N in (1, 2, os.cpu_count(), 8) (each size once),
with ``threads=1`` and with ``threads=None`` (the runtime's default) in ``load()``, on the small CNN
(fp32) and MobileNetV2 224 (int8, fed int8: the model's own dtype).

Reported for each: wall time from the barrier to the last thread's end, throughput (calls/s),
per-call latency p50/p99 as the threads saw it (``perf_counter_ns`` around ``model.run``), the
interpreters created (the backend's ``interpreters`` detail, from ``Model.explain()``), process
RSS growth (psutil) after load and after the run, each relative to just before ``load()``, and
throughput per MB of that growth after the run. Every output is compared, byte for byte, with the
output of a single-threaded call on the same input made before the run; the mismatch count must
be 0.

Each configuration runs in a fresh child process (this script with ``--child``), so that memory
one configuration allocated cannot hide another's growth. The child imports numpy, psutil,
edgeinfer and ``ai_edge_litert.interpreter`` before it reads the baseline RSS, so the growth is the
interpreters, their tensors and the run, not the runtime's import. Always exits 0.

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

BENCH = "litert_threads"
WORKERS = 8
CALLS, QUICK_CALLS = 500, 50
MODELS = (SMALL_CNN, MOBILENET_INT8)
CPUS = os.cpu_count() or 1
POOL_SIZES = tuple(sorted({1, 2, CPUS, 8}))
THREAD_SETTINGS: tuple[int | None, ...] = (1, None)
CHILD_TAG = "CHILD "
MB = 1024 * 1024
NOTABLE = 1.05  # a throughput gain below 5% is within this machine's run-to-run noise
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
    wall_s: float
    calls: int
    p50_us: float
    p99_us: float
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
            return value
    return "(not reported)"


def child(
    path: Path, threads: int | None, interpreters: int, calls: int, shape_dtype: InputKind
) -> dict[str, Any]:
    """Load the model, run ``WORKERS`` threads of ``calls`` calls each; the figures as a dict."""
    import psutil  # noqa: F401  (imported before the baseline, like everything else)
    from ai_edge_litert import interpreter as _runtime  # noqa: F401

    import edgeinfer

    inputs = [native_input(*shape_dtype, seed=seed) for seed in range(WORKERS)]
    latencies = [np.zeros(calls, dtype=np.int64) for _ in range(WORKERS)]
    mismatches = [0] * WORKERS
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
    barrier = threading.Barrier(WORKERS + 1)

    def work(worker: int) -> None:
        x, reference, durations = inputs[worker], expected[worker], latencies[worker]
        run = model.run
        barrier.wait()
        for i in range(calls):
            start = time.perf_counter_ns()
            result = run(x)
            durations[i] = time.perf_counter_ns() - start
            if result[name].tobytes() != reference:
                mismatches[worker] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    after_run = _rss()
    created = _interpreters_line(model)
    model.close()
    every = np.concatenate(latencies)
    return {
        "wall_s": wall,
        "calls": int(every.size),
        "p50_us": float(np.percentile(every, 50)) / 1e3,
        "p99_us": float(np.percentile(every, 99)) / 1e3,
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
def run_config(config: Config, path: Path, calls: int, kind: InputKind) -> Figures | None:
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
    return (
        f"  {config.threads_label:>7} {config.interpreters:>5} {figures.wall_s:>8.2f} "
        f"{figures.throughput:>9.0f} "
        f"{_us(figures.p50_us):>9} {_us(figures.p99_us):>9}  {figures.created:<20} "
        f"{figures.load_growth_mb:>6.1f} {figures.run_growth_mb:>6.1f} {figures.per_mb:>8.0f} "
        f"{figures.mismatches:>5}"
    )


def _us(value: float) -> str:
    return f"{value / 1e3:.2f} ms" if value >= 1000 else f"{value:.1f} us"


def _header() -> str:
    return (
        f"  {'threads':>7} {'pool':>5} {'wall s':>8} {'calls/s':>9} {'p50':>9} {'p99':>9}  "
        f"{'interpreters':<20} {'RSS+ld':>6} {'RSS+run':>6} {'calls/s/MB':>8} {'mism.':>5}"
    )


def conclude(model: str, results: list[Figures]) -> list[str]:
    """One model's conclusion lines: best throughput per MB; whether a pool above cores helps."""
    lines = []
    best = max(results, key=lambda f: f.per_mb)
    fastest = max(results, key=lambda f: f.throughput)
    lines.append(
        f"CONCLUSION {model}: best throughput per MB: {best.config.setting} "
        f"({best.throughput:.0f} calls/s, +{best.run_growth_mb:.1f} MB, "
        f"{best.per_mb:.0f} calls/s/MB); best throughput: {fastest.config.setting} "
        f"({fastest.throughput:.0f} calls/s, +{fastest.run_growth_mb:.1f} MB)"
    )
    for threads in THREAD_SETTINGS:
        by_size = {f.config.interpreters: f for f in results if f.config.threads == threads}
        at_cores, above = by_size.get(CPUS), [f for n, f in by_size.items() if n > CPUS]
        if at_cores is None or not above:
            continue
        gains = ", ".join(
            f"{f.config.interpreters}: {f.throughput / at_cores.throughput:.2f}x" for f in above
        )
        helps = any(f.throughput >= NOTABLE * at_cores.throughput for f in above)
        lines.append(
            f"CONCLUSION {model} threads={at_cores.config.threads_label}: "
            f"interpreters > cores ({CPUS}) {'helps' if helps else 'does not help'} "
            f"(throughput vs {CPUS} interpreters: {gains})"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run every configuration; always returns 0 (a child that fails is reported)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLS} calls per thread")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="1", help=argparse.SUPPRESS)
    parser.add_argument("--interpreters", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=CALLS, help=argparse.SUPPRESS)
    parser.add_argument("--input", default="", help=argparse.SUPPRESS)  # "1,32,32,3:float32"
    args = parser.parse_args(argv)
    if args.child is not None:
        threads = None if args.threads == "none" else int(args.threads)
        shape, dtype = args.input.split(":")
        kind = (tuple(int(d) for d in shape.split(",")), np.dtype(dtype))
        figures = child(args.child, threads, args.interpreters, args.calls, kind)
        print(CHILD_TAG + json.dumps(figures), flush=True)
        return 0

    calls = QUICK_CALLS if args.quick else CALLS
    print(f"LiteRT: one Model shared by {WORKERS} threads ({litert_environment()})")
    print(
        f"{WORKERS} threads x {calls} calls each; pool sizes {POOL_SIZES} (os.cpu_count() = "
        f"{CPUS}); load(threads=1) and load(threads=None); one fresh process per configuration"
    )
    mismatches = 0
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as folder:
        paths = build_tflite_models(Path(folder), MODELS)
        conclusions: list[str] = []
        for model in MODELS:
            print(f"\n[{model}] RSS growth in MB relative to before load(); p50/p99 per call")
            print(_header())
            results = []
            kind = input_kind(paths[model])
            for threads in THREAD_SETTINGS:
                for size in POOL_SIZES:
                    figures = run_config(Config(model, threads, size), paths[model], calls, kind)
                    if figures is not None:
                        print(_row(figures), flush=True)
                        results.append(figures)
                        mismatches += figures.mismatches
            if results:
                conclusions.extend(conclude(model, results))
    print(f"\nmismatches against the single-thread outputs: {mismatches} (must be 0)")
    for line in conclusions:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
