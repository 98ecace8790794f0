"""``python -m edgeinfer.bench``: the order of things, from the arguments to the exit status.

Exit status: 0 all runs ok; 1 a run failed (or nothing could run); 2 a backend failed output
parity; 3 ``--compare`` found a regression beyond the noise; 64 bad arguments. When several
apply, the first in the order 2, 3, 1 wins.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeinfer._errors import ConfigurationError, ModelError
from edgeinfer.bench._args import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_REGRESSION,
    EXIT_USAGE,
    parser,
    settings,
)
from edgeinfer.bench._harness import Harness, pick_harness
from edgeinfer.bench._matrix import Plan, build_plan
from edgeinfer.bench._run import Outcome, Session, Settings

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_PARITY", "EXIT_REGRESSION", "EXIT_USAGE", "main"]


def _settings_dict(s: Settings, harness: Harness, quick: bool) -> dict[str, Any]:
    return {
        "scenario": s.scenario,
        "duration_s": s.duration,
        "min_queries": s.min_queries,
        "max_duration_s": s.max_duration,
        "warmup_s": s.warmup,
        "threads": s.threads,
        "harness": harness.name,
        "harness_note": harness.note,
        "parity_inputs": s.parity_inputs,
        "quick": quick,
    }


def _print_plan(plan: Plan) -> None:
    print(f"{len(plan.runs)} run(s):")
    for spec in plan.runs:
        print(f"  {spec.target.label:<28} on {spec.backend}/{spec.device}")
    for item in plan.skipped:
        print(f"  not run: {item['model']}: {item['reason']}")
    for item in plan.unavailable:
        fix = f"; fix: {item['hint']}" if item["hint"] else ""
        print(f"  not available: {item['backend']}: {item['reason']}{fix}")
    from edgeinfer._planning.detect import devices

    print("devices: " + ", ".join(f"{d.id} ({d.name})" for d in devices()))


def _run_all(plan: Plan, session: Session, plain: bool) -> list[Outcome]:
    from edgeinfer.bench._progress import make_progress

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
    finally:
        progress.close()
    return outcomes


def _outputs(args: argparse.Namespace, doc: dict[str, Any], outcomes: list[Outcome]) -> int:
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
    if args.compare:
        from edgeinfer.bench._compare import compare, load_results

        try:
            old = load_results(args.compare)
        except (OSError, ValueError) as error:
            print(f"--compare: {error}", file=sys.stderr)
            return EXIT_USAGE
        comparison = compare(old, doc)
        print(
            "\n".join(comparison.lines(args.compare)),
            file=sys.stderr if args.json == "-" else sys.stdout,
        )
        regressions = len(comparison.regressions)
    if args.plot:
        _plot(args.plot, doc, outcomes)
    summary = doc["summary"]
    if summary["parity_failures"]:
        return EXIT_PARITY
    if regressions:
        return EXIT_REGRESSION
    if summary["failed"] or not summary["runs"]:
        return EXIT_FAILED
    return EXIT_OK


def _plot(path: str, doc: dict[str, Any], outcomes: list[Outcome]) -> None:
    runs = [
        {**o.record, "label": o.record["id"], "latencies_us": [x / 1000.0 for x in o.latencies_ns]}
        for o in outcomes
        if o.record["status"] == "ok"
    ]
    try:
        from edgeinfer.bench._plot import plot_cdf

        plot_cdf(runs, Path(path))
    except ImportError as error:
        print(f"--plot skipped (the results above are complete): {error}", file=sys.stderr)
        return
    print(f"latency CDF written to {path}", file=sys.stderr)


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
        harness = pick_harness(args.harness)
        plan = build_plan(args.models, args.backend, args.device or ["auto"], args.precision)
    except (ConfigurationError, FileNotFoundError) as error:
        print(f"python -m edgeinfer.bench: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ModelError as error:
        print(f"python -m edgeinfer.bench: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.list:
        _print_plan(plan)
        return EXIT_OK
    chosen = settings(args, len(plan.runs))
    from edgeinfer.bench._fingerprint import fingerprint
    from edgeinfer.bench._report import document

    outcomes = _run_all(plan, Session(chosen, harness), args.plain) if plan.runs else []
    doc = document(
        [o.record for o in outcomes],
        fingerprint=fingerprint(args.threads),
        settings=_settings_dict(chosen, harness, args.quick),
        unavailable=plan.unavailable,
        skipped=plan.skipped,
        command=list(sys.argv[1:] if argv is None else argv),
        created=created.isoformat(timespec="seconds"),
        elapsed_s=time.perf_counter() - started,
    )
    return _outputs(args, doc, outcomes)
