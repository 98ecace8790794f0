"""``python -m edgeinfer.bench``: the order of things, from the arguments to the exit status.

Every argument is checked before the first run (``_checks``): a bad one is one line on standard
error and exit 64, nothing measured. Then the plan, the runs, the measured selection
(``--select``), and the outputs. Exit status (``_rules``): 0 all runs ok; 1 a run failed; 2 a
backend failed output parity; 3 ``--compare`` found a regression that passes the test; 4 nothing
could run here; 64 bad arguments; 130 interrupted (the finished runs reported). When several
apply, 2 before 3 before 1.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeinfer._errors import ConfigurationError, ModelError
from edgeinfer.bench._args import parser, settings
from edgeinfer.bench._checks import Checked, check_arguments
from edgeinfer.bench._harness import Harness, pick_harness
from edgeinfer.bench._rules import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_RAN,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_REGRESSION,
    EXIT_USAGE,
    Settings,
    UsageError,
)

if TYPE_CHECKING:  # imported where used: a bad argument is refused before they load
    from edgeinfer.bench._matrix import Plan
    from edgeinfer.bench._run import Outcome

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING_RAN",
    "EXIT_OK",
    "EXIT_PARITY",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "main",
]
_PROG = "python -m edgeinfer.bench"


def _settings_dict(args: argparse.Namespace, s: Settings, harness: Harness) -> dict[str, Any]:
    return {
        "scenario": s.scenario,
        "duration_s": s.duration,
        "min_queries": s.min_queries,
        "max_duration_s": s.max_duration if s.max_duration != float("inf") else None,
        "runs": args.runs,
        "warmup_s": s.warmup,
        "warmup_runs": s.warmup_runs,
        "concurrency": s.concurrency,
        "threads": s.threads,
        "harness": harness.name,
        "harness_note": harness.note,
        "parity_inputs": s.parity_inputs,
        "precision": args.precision,
        "options": s.options,
        "shapes": [{"input": name, "shape": list(dims)} for name, dims in s.shapes],
        "inputs": list(args.inputs or ()),
        "profile_ops": None if s.profile_ops is None else str(s.profile_ops),
        "quick": args.quick,
    }


def _print_plan(plan: Plan) -> None:
    print(f"{len(plan.runs)} run(s):")
    for spec in plan.runs:
        print(f"  {spec.label:<28} on {spec.backend}/{spec.device}")
    for item in plan.skipped:
        print(f"  not run: {item['model']}: {item['reason']}")
    for item in plan.unavailable:
        fix = f"; fix: {item['hint']}" if item["hint"] else ""
        print(f"  not available: {item['backend']}: {item['reason']}{fix}")
    from edgeinfer._planning.detect import devices

    print("devices: " + ", ".join(f"{d.id} ({d.name})" for d in devices()))


def _run_all(plan: Plan, s: Settings, harness: Harness, plain: bool) -> tuple[list[Outcome], bool]:
    """The runs, and whether Ctrl-C cut them short."""
    from edgeinfer.bench._progress import make_progress
    from edgeinfer.bench._run import Session

    session = Session(s, harness)
    progress = make_progress(plain)
    outcomes: list[Outcome] = []
    try:
        for index, spec in enumerate(plan.runs, 1):
            progress.begin(index, len(plan.runs), spec)
            outcome = session.run(spec, progress.phase)
            progress.end(outcome.record)
            outcomes.append(outcome)
    except KeyboardInterrupt:
        print(f"\ninterrupted: reporting the {len(outcomes)} finished run(s)", file=sys.stderr)
        return outcomes, True
    finally:
        progress.close()
    return outcomes, False


def _outputs(
    args: argparse.Namespace,
    doc: dict[str, Any],
    outcomes: list[Outcome],
    old: dict[str, Any] | None,
) -> int:
    """Table, files, comparison and plot; returns the exit status."""
    from edgeinfer.bench._report import write_csv, write_json
    from edgeinfer.bench._table import print_results

    if args.json != "-" and args.csv != "-":
        print_results(doc, plain=args.plain)
    if args.json:
        write_json(doc, args.json)
    if args.csv:
        write_csv(doc["runs"], args.csv)
    regressions = 0
    if old is not None:
        from edgeinfer.bench._compare import compare

        comparison = compare(old, doc)
        print(
            "\n".join(comparison.lines(args.compare)),
            file=sys.stderr if "-" in (args.json, args.csv) else sys.stdout,
        )
        regressions = len(comparison.regressions)
    if args.plot:
        _plot(args.plot, outcomes)
    summary = doc["summary"]
    if summary["parity_failures"]:
        return EXIT_PARITY
    if regressions:
        return EXIT_REGRESSION
    if summary["failed"]:
        return EXIT_FAILED
    return EXIT_OK if summary["runs"] else EXIT_NOTHING_RAN


def _plot(path: str, outcomes: list[Outcome]) -> None:
    from edgeinfer.bench._plot import plot_cdf

    runs = [
        {**o.record, "label": o.record["id"], "latencies_us": [x / 1000.0 for x in o.latencies_ns]}
        for o in outcomes
        if o.record["status"] == "ok"
    ]
    plot_cdf(runs, Path(path))
    print(f"latency CDF written to {path}", file=sys.stderr)


def _why_builtin(args: argparse.Namespace) -> str | None:
    if args.concurrency > 1:
        return f"--concurrency {args.concurrency}: queries from several threads"
    if args.runs is not None:
        return f"--runs {args.runs}: an exact query count"
    return None


def _prepare(args: argparse.Namespace, checked: Checked) -> tuple[Harness, Plan]:
    """The harness and the plan; the MODEL files checked against --shape and --inputs."""
    from edgeinfer.bench._matrix import build_plan, model_files
    from edgeinfer.bench._model_checks import check_models

    harness = pick_harness(args.harness, _why_builtin(args))
    files = [
        f for text in args.models if Path(text).expanduser().exists() for f in model_files(text)
    ]
    check_models(files, args.shape or (), checked.inputs)
    plan = build_plan(
        args.models, args.backend, args.device or ["auto"], args.precision, args.file_precision
    )
    return harness, plan


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (see the module docstring)."""
    args = parser().parse_args(argv)
    if args.schema:
        import json

        from edgeinfer.bench._schema import SCHEMA

        print(json.dumps(SCHEMA, indent=2))
        return EXIT_OK
    started, created = time.perf_counter(), datetime.datetime.now(datetime.timezone.utc)
    try:
        checked = check_arguments(args)
        if args.placement:
            from edgeinfer.bench._select import load_settings, placement_tables

            return placement_tables(args.models, load_settings(args, checked.options))
        if args.save_selection:
            from edgeinfer.bench._matrix import model_files
            from edgeinfer.bench._model_checks import check_models
            from edgeinfer.bench._select import load_settings, save_selection, selection_models

            for path in selection_models(args.models):  # before anything is measured
                check_models(model_files(str(path)), (), ())
            return save_selection(args.models, load_settings(args, checked.options))
        harness, plan = _prepare(args, checked)
    except (UsageError, ConfigurationError, FileNotFoundError, ModelError) as error:
        print(f"{_PROG}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.list:
        _print_plan(plan)
        return EXIT_OK
    if checked.profile_ops is not None:
        checked.profile_ops.mkdir(exist_ok=True)
    extra: dict[str, Any] = {"options": checked.options, "profile_ops": checked.profile_ops}
    if checked.inputs:
        extra.update(inputs=checked.inputs, parity_inputs=len(checked.inputs))
    chosen = settings(args, len(plan.runs), extra)
    outcomes, interrupted = (
        _run_all(plan, chosen, harness, args.plain) if plan.runs else ([], False)
    )
    records = [o.record for o in outcomes]
    selections: list[dict[str, Any]] = []
    if args.select and not interrupted:
        from edgeinfer.bench._select import attach_rows, load_settings, run_selection

        selections = run_selection(args.models, load_settings(args, checked.options))
        for entry in selections:
            attach_rows(entry, records)
    from edgeinfer.bench._fingerprint import fingerprint
    from edgeinfer.bench._report import document

    doc = document(
        records,
        fingerprint=fingerprint(args.threads),
        settings=_settings_dict(args, chosen, harness),
        unavailable=plan.unavailable,
        skipped=plan.skipped,
        command=list(sys.argv[1:] if argv is None else argv),
        created=created.isoformat(timespec="seconds"),
        elapsed_s=time.perf_counter() - started,
        selections=selections,
    )
    status = _outputs(args, doc, outcomes, checked.compare)
    return EXIT_INTERRUPTED if interrupted else status
