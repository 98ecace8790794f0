"""The command line of ``python -m edgeinfer.bench``: the parser, the syntax of ``--shape`` and
``--option``, and the settings the arguments imply.

Light on purpose: nothing here imports numpy or the backend registry, so that a bad argument is
refused (exit 64, one line) before anything heavy loads. What needs the file system or the
registry is checked next, still before the first run, by ``_checks``.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from edgeinfer.bench._rules import (
    DEFAULT_BUDGET_S,
    DEFAULT_MIN_QUERIES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_RAN,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_REGRESSION,
    EXIT_USAGE,
    HARNESSES,
    MAX_DEFAULT_DURATION,
    MIN_DEFAULT_DURATION,
    QUICK_DURATION,
    QUICK_MIN_QUERIES,
    Settings,
    default_duration,
)
from edgeinfer.bench._syntax import parse_option, parse_shape

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING_RAN",
    "EXIT_OK",
    "EXIT_PARITY",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "HARNESSES",
    "PRECISION_CHOICES",
    "parser",
    "settings",
]

PRECISION_CHOICES = ("fp32", "fp16", "bf16", "int8")
EXIT_STATUS = (
    f"Exit status: {EXIT_OK} every run ok; {EXIT_FAILED} a run failed; {EXIT_PARITY} a backend "
    f"failed output parity; {EXIT_REGRESSION} --compare found a regression that passes the "
    f"statistical test; {EXIT_NOTHING_RAN} nothing could run here (each combination says why); "
    f"{EXIT_USAGE} bad arguments (checked before the first run); {EXIT_INTERRUPTED} interrupted "
    f"(the finished runs are reported). Several: {EXIT_PARITY} before {EXIT_REGRESSION} before "
    f"{EXIT_FAILED}. Run rules and fields: docs/bench.md."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exits 64 (EX_USAGE): 2 means a parity
    failure here."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (--help lists the options)\n")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


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


def _selection(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("measured selection (load(..., select='fastest'))")
    group.add_argument(
        "--select",
        choices=("fastest",),
        help="after the runs, load each MODEL with select='fastest' and report which candidate "
        "it chose and its figures beside the bench's own rows",
    )
    group.add_argument(
        "--placement",
        action="store_true",
        help="only print where each MODEL runs: edgeinfer.load(MODEL) with --device/--backend/"
        "--threads/--option as given, then Model.placement()'s full table (operations on the "
        "accelerator, on the CPU, by type and precision)",
    )
    group.add_argument(
        "--save-selection",
        action="store_true",
        help="only fill the selection cache: edgeinfer.load(MODEL, select='fastest', "
        "refresh=True) for each MODEL (a folder of model folders: each of them), with "
        "--device/--backend/--threads/--option/--precision/--float-io as given, and print "
        "what it chose",
    )
    group.add_argument(
        "--max-error",
        type=_positive(float),
        metavar="X",
        help="select: the largest relative output error of an eligible candidate (load's "
        "max_error, default 1e-2)",
    )
    group.add_argument(
        "--select-budget",
        type=_positive(float),
        metavar="S",
        help="select: seconds of measuring per model (load's select_budget, default 2)",
    )
    group.add_argument(
        "--float-io",
        action="store_true",
        help="select: load with float_io=True (quantised candidates take float inputs)",
    )


def _inputs_and_load(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("inputs, load options and profiles")
    group.add_argument(
        "--shape",
        action="append",
        type=parse_shape,
        metavar="NAME:DIMS",
        help="sizes of a dynamic input, e.g. images:1x3x640x640 (no NAME: the only input); "
        "repeat for several inputs",
    )
    group.add_argument(
        "--inputs",
        action="append",
        metavar="FILE",
        help="input data: a .npz (one array per input name) or a .npy (the only input); "
        "repeat for several queries, cycled through (default: generated float noise)",
    )
    group.add_argument(
        "--option",
        action="append",
        type=parse_option,
        metavar="BACKEND.KEY=VALUE",
        help="a backend option passed to load(options=...), e.g. "
        "openvino.performance_hint=THROUGHPUT, onnxruntime.session_options."
        "graph_optimization_level=ORT_ENABLE_BASIC, onnxruntime.providers='[\"...\"]'; repeat",
    )
    group.add_argument(
        "--threads",
        type=_positive(int),
        metavar="N",
        help="intra-op threads of each runtime (load's threads=)",
    )
    group.add_argument(
        "--profile-ops",
        metavar="DIR",
        help="after each run, per-operator profiles as Chrome traces (DIR/<run>.json; open "
        "them in ui.perfetto.dev) where the runtime has a profiler",
    )


def _timing(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("run rules")
    group.add_argument(
        "--scenario",
        choices=("single-stream", "offline"),
        default="single-stream",
        help="MLPerf scenario: single-stream (headline p90 latency, default) or "
        "offline (headline throughput)",
    )
    group.add_argument(
        "--duration",
        type=_positive(float),
        metavar="S",
        help=f"minimum measured seconds per run (default: {DEFAULT_BUDGET_S:g} s shared by the "
        f"runs, {MIN_DEFAULT_DURATION:g} to {MAX_DEFAULT_DURATION:g} s each; --quick: "
        f"{QUICK_DURATION:g}; with --runs: none)",
    )
    group.add_argument(
        "--runs",
        type=_positive(int),
        metavar="N",
        help="exactly N measured queries per run (benchmark_app -niter, LiteRT --num_runs); "
        "with --duration, at least N and at least that long",
    )
    group.add_argument(
        "--min-queries",
        type=_positive(int),
        metavar="N",
        help=f"duration-based runs: minimum queries per run (default {DEFAULT_MIN_QUERIES}; "
        f"--quick {QUICK_MIN_QUERIES})",
    )
    group.add_argument(
        "--max-duration",
        type=_positive(float),
        metavar="S",
        help="built-in loop: stop here even short of --min-queries (default 3 x duration)",
    )
    group.add_argument(
        "--warmup",
        type=float,
        metavar="S",
        help="untimed warm-up seconds per run (default: 20%% of the duration, 0.1 to 1 s; "
        "0 with --warmup-runs)",
    )
    group.add_argument(
        "--warmup-runs",
        type=_count,
        metavar="N",
        help="untimed warm-up queries per run (default 1 besides the warm-up seconds)",
    )
    group.add_argument(
        "--concurrency",
        type=_positive(int),
        default=1,
        metavar="N",
        help="N queries in flight on one model, from N threads (built-in loop): the table then "
        "shows throughput and per-query latency together",
    )
    group.add_argument("--quick", action="store_true", help="short runs: a rough look in seconds")
    group.add_argument(
        "--harness",
        choices=HARNESSES,
        default="auto",
        help="loadgen (MLPerf LoadGen), builtin, or auto (LoadGen when installed, for runs of "
        "one query in flight timed by duration)",
    )


def parser() -> argparse.ArgumentParser:
    """The command's parser (its help is the reference of the options)."""
    p = _Parser(
        prog="python -m edgeinfer.bench",
        description="Benchmark models on every backend and device this machine has: latency "
        "percentiles, throughput, load and first-run time, peak memory, output parity against "
        "a reference backend, temperature and energy where readable. With no MODEL: the "
        "reference workloads, every variant this machine can build.",
        epilog=EXIT_STATUS,
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
        help="fp32, fp16, bf16 or int8: a file of that precision runs as it is; where none "
        "exists, a backend that converts (openvino: its fp16/bf16 precision hint; tensorrt: "
        "its fp16/bf16 builder flags) runs the fp32 file converted at load, and the others "
        "are listed as not run (for them --precision only filters)",
    )
    p.add_argument(
        "--file-precision",
        choices=PRECISION_CHOICES,
        metavar="P",
        help="the precision of the MODEL files (default: read from the file name: int8, "
        "quant, fp16, bf16; else fp32)",
    )
    _timing(p)
    _inputs_and_load(p)
    _selection(p)
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    out.add_argument("--csv", metavar="FILE", help="write one CSV row per run ('-': stdout)")
    out.add_argument(
        "--compare",
        metavar="OLD.json",
        help="compare with an earlier --json file: 'within noise' unless a change passes a "
        "Mann-Whitney test on the runs' slices (exit 3 on a regression)",
    )
    out.add_argument("--plot", metavar="FILE.png", help="latency CDF plot (needs matplotlib)")
    out.add_argument("--list", action="store_true", help="show what would run, and exit")
    out.add_argument("--plain", action="store_true", help="plain text, no rich table or bar")
    out.add_argument("--schema", action="store_true", help="print the JSON Schema and exit")
    return p


def _warmup(args: argparse.Namespace, duration: float) -> tuple[float, int]:
    if args.warmup is not None:
        seconds = max(0.0, args.warmup)
    elif args.warmup_runs is not None:
        seconds = 0.0
    else:
        seconds = min(1.0, max(0.1, 0.2 * duration))
    runs = args.warmup_runs if args.warmup_runs is not None else (1 if seconds > 0 else 0)
    return seconds, runs


def settings(args: argparse.Namespace, runs: int, extra: dict[str, Any] | None = None) -> Settings:
    """The run settings for these arguments and this many runs (``extra``: the checked
    ``options``, ``inputs`` and ``profile_ops`` from ``_checks``)."""
    if args.runs is not None:
        duration = args.duration or 0.0
        queries = args.runs
        cap = args.max_duration or float("inf")
    else:
        duration = args.duration or default_duration(runs, args.quick)
        queries = args.min_queries or (QUICK_MIN_QUERIES if args.quick else DEFAULT_MIN_QUERIES)
        cap = args.max_duration or 3 * duration
    warmup, warmup_runs = _warmup(args, duration or QUICK_DURATION)
    return Settings(
        scenario=args.scenario,
        duration=duration,
        min_queries=queries,
        max_duration=cap,
        warmup=warmup,
        warmup_runs=warmup_runs,
        threads=args.threads,
        exact=args.runs is not None,
        concurrency=args.concurrency,
        shapes=tuple(args.shape or ()),
        **(extra or {}),
    )
