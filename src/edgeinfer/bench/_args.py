"""The command line of ``python -m edgeinfer.bench``: the parser, and the settings it implies."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from edgeinfer.bench._harness import HARNESSES
from edgeinfer.bench._matrix import (
    DEFAULT_BUDGET_S,
    DEFAULT_MIN_QUERIES,
    MAX_DEFAULT_DURATION,
    MIN_DEFAULT_DURATION,
    QUICK_DURATION,
    QUICK_MIN_QUERIES,
    default_duration,
)
from edgeinfer.bench._run import Settings

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PARITY",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "parser",
    "settings",
]

EXIT_OK, EXIT_FAILED, EXIT_PARITY, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2, 3, 64
PRECISION_CHOICES = ("fp32", "fp16", "bf16", "int8")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 64 (EX_USAGE): 2 means a parity failure here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _names(text: str) -> list[str]:
    """``cpu,gpu`` -> ``["cpu", "gpu"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _precisions(text: str) -> list[str]:
    found = _names(text)
    for name in found:
        if name not in PRECISION_CHOICES:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not one of {', '.join(PRECISION_CHOICES)}"
            )
    return found


def parser() -> argparse.ArgumentParser:
    """The command's parser (its help is the reference of the options)."""
    p = _Parser(
        prog="python -m edgeinfer.bench",
        description="Benchmark models on every backend and device this machine has: latency "
        "percentiles, throughput, load and first-run time, peak memory, output parity against "
        "a reference backend, temperature and energy where readable. With no MODEL: the "
        "reference workloads, every variant this machine can build.",
        epilog="Exit status: 0 ok; 1 a run failed; 2 a backend failed output parity; 3 "
        "--compare found a regression beyond the noise; 64 bad arguments. "
        "Run rules and fields: docs/bench.md.",
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="a model file or folder, or a "
        "reference workload name (mobilenet_v2, ds_cnn); default: all workloads",
    )
    p.add_argument(
        "--device",
        action="extend",
        type=_names,
        metavar="DEV",
        help="auto (default: what edgeinfer.load picks), cpu, gpu, gpu:1, npu, edgetpu, "
        "... or 'all' (every device found); repeat or separate with commas for several",
    )
    p.add_argument(
        "--backend",
        action="extend",
        type=_names,
        metavar="NAME",
        help="only these backends (default: every available one that reads the model); "
        "repeat or separate with commas",
    )
    p.add_argument(
        "--precision",
        action="extend",
        type=_precisions,
        metavar="P",
        help="fp32, fp16, bf16 or int8: only these workload variants; for MODEL paths, the "
        "files' precision (default: read from the file name, else fp32)",
    )
    p.add_argument("--threads", type=_positive(int), metavar="N", help="intra-op threads")
    p.add_argument(
        "--scenario",
        choices=("single-stream", "offline"),
        default="single-stream",
        help="MLPerf scenario: single-stream (headline p90 latency, default) or "
        "offline (headline throughput)",
    )
    p.add_argument(
        "--duration",
        type=_positive(float),
        metavar="S",
        help=f"minimum measured seconds per run (default: {DEFAULT_BUDGET_S:g} s shared by the "
        f"runs, {MIN_DEFAULT_DURATION:g} to {MAX_DEFAULT_DURATION:g} s each; --quick: "
        f"{QUICK_DURATION:g})",
    )
    p.add_argument(
        "--min-queries",
        type=_positive(int),
        metavar="N",
        help=f"minimum queries per run (default {DEFAULT_MIN_QUERIES}; --quick "
        f"{QUICK_MIN_QUERIES})",
    )
    p.add_argument(
        "--max-duration",
        type=_positive(float),
        metavar="S",
        help="built-in loop: stop here even short of --min-queries (default 3 x duration)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        metavar="S",
        help="untimed warm-up seconds per run (default: 20%% of the duration, 0.1 to 1 s)",
    )
    p.add_argument("--quick", action="store_true", help="short runs: a rough look in seconds")
    p.add_argument(
        "--harness",
        choices=HARNESSES,
        default="auto",
        help="loadgen (MLPerf LoadGen), builtin, or auto (LoadGen when installed)",
    )
    p.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per run ('-': stdout)")
    p.add_argument(
        "--compare",
        metavar="OLD.json",
        help="compare with an earlier --json file; "
        "exit 3 on a regression beyond the measured noise",
    )
    p.add_argument("--plot", metavar="FILE.png", help="latency CDF plot (needs matplotlib)")
    p.add_argument("--list", action="store_true", help="show what would run, and exit")
    p.add_argument("--plain", action="store_true", help="plain text, no rich table or bar")
    p.add_argument("--schema", action="store_true", help="print the JSON Schema and exit")
    return p


def settings(args: argparse.Namespace, runs: int) -> Settings:
    """The run settings for these arguments and this many runs."""
    duration = args.duration or default_duration(runs, args.quick)
    warmup = args.warmup if args.warmup is not None else min(1.0, max(0.1, 0.2 * duration))
    queries = args.min_queries or (QUICK_MIN_QUERIES if args.quick else DEFAULT_MIN_QUERIES)
    return Settings(
        scenario=args.scenario,
        duration=duration,
        min_queries=queries,
        max_duration=args.max_duration or 3 * duration,
        warmup=max(0.0, warmup),
        threads=args.threads,
    )
