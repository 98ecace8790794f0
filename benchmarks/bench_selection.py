"""Measured selection against the bench: is the candidate ``load(select="fastest")`` chooses the
fastest eligible one, as the bench measures them in the same run?

For each reference workload (``ds_cnn``, ``mobilenet_v2``, built by
``edgeinfer.bench._workloads.ensure``) two folders of variants, each one model for ``load()``:

- ``<workload>-onnx``: the fp32 ONNX file and its int8 variant (ONNX Runtime and OpenVINO each
  read both: four candidates);
- ``<workload>-tflite``: the fp32 TFLite file with its fp16 and int8 variants (LiteRT), loaded
  with ``float_io=True`` so that the int8 candidate takes the same float inputs and is judged by
  its outputs, not refused for its input type.

The ONNX and TFLite files are not put in one folder: they differ in layout (NCHW against NHWC),
so the selection, which feeds every candidate the same arrays, could only report the TFLite ones
as "not eligible: its inputs differ". One ``python -m edgeinfer.bench <folders> --select
fastest --float-io`` runs every file on every backend (the rows) and then the selection, in one
process. The figure: the bench's p50 of the chosen candidate over the lowest bench p50 among the
candidates the selection found eligible (its accuracy guard, max_error 1e-2 and top-1). The
int8 variants differ from fp32 by 2-4% of the logits' scale on these random-weight networks,
so they are not eligible: the choice is among fp32 (and fp16) candidates, as it must be.

The bench is run ``--rounds`` times (default 3, ``--quick`` 1), each a fresh selection and
fresh rows; the figure is the median of the rounds' ratios, so one round disturbed by other
load does not decide. Rows measured while the machine was busy (1-minute load above 1.5 x the
cores: the bench's "busy machine" warning) are counted in the detail: such figures say more
about the other processes than about the selection.

``--no-ort-spinning`` runs rows and selection with ONNX Runtime's intra-op threads not
spinning (``session.intra_op.allow_spinning=0``): a diagnostic. By default they spin after each
call, and on a machine with few cores they take CPU from the candidate timed next while the
selection interleaves its candidates (measured on a 2-core VM, MobileNetV2: OpenVINO 16.6 ms
timed alone, 27.7 ms interleaved with a spinning ONNX Runtime, 16.2 ms with a quiet one), which
the bench's rows, timed one backend at a time, do not see.

Target: ratio <= 1.10 per folder (moonshot 1.02). Always exits 0.

    python benchmarks/bench_selection.py [--quick] [--rounds N] [--no-ort-spinning]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from _common import result_line

BENCH = "selection"
TARGET, MOONSHOT = 1.10, 1.02
WORKLOADS = ("ds_cnn", "mobilenet_v2")
# (folder suffix, format, precisions): the variants put together as one model
GROUPS = (("onnx", "onnx", ("fp32", "int8")), ("tflite", "tflite", ("fp32", "fp16", "int8")))
SECONDS = {False: ("3", "2"), True: ("1", "1")}  # --duration per run, --select-budget


def build_folders(root: Path) -> list[Path]:
    """The folders of variants, copied from the workload cache."""
    from edgeinfer.bench._workloads import ensure

    folders = []
    for workload in WORKLOADS:
        for suffix, fmt, precisions in GROUPS:
            folder = root / f"{workload}-{suffix}"
            folder.mkdir()
            for precision in precisions:
                name = "model" + ("" if precision == "fp32" else f"_{precision}") + f".{fmt}"
                shutil.copy(ensure(workload, fmt, precision), folder / name)
            folders.append(folder)
    return folders


def run_bench(folders: list[Path], quick: bool, out: Path, extra: list[str]) -> dict[str, Any]:
    """The bench over every folder, with ``--select fastest``; its JSON document."""
    from edgeinfer.bench import main

    duration, budget = SECONDS[quick]
    argv = [*map(str, folders), "--select", "fastest", "--float-io", "--select-budget",
            budget, "--duration", duration, "--harness", "builtin", "--plain", "--json",
            str(out), *extra]  # fmt: skip
    print("python -m edgeinfer.bench " + " ".join(argv), flush=True)
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        status = main(argv)
    print(table.getvalue(), flush=True)
    print(f"bench exit status {status}")
    return dict(json.loads(out.read_text()))


def _p50(runs: list[dict[str, Any]], run_id: str | None) -> str:
    run = next((r for r in runs if r["id"] == run_id), None)
    return "?" if run is None else f"{run['latency_us']['p50'] / 1000:.3f} ms"


def _entry_ratio(entry: dict[str, Any]) -> float | None:
    return None if entry["error"] else entry.get("ratio")


def report(docs: list[dict[str, Any]]) -> list[str]:
    """One RESULT line per folder: the median ratio over the rounds."""
    lines = []
    for index, entry in enumerate(docs[-1]["selections"]):
        case = entry["model"]
        rounds = [doc["selections"][index] for doc in docs]
        ratios = sorted(r for e in rounds if (r := _entry_ratio(e)) is not None)
        busy = sum(
            any(w.startswith("busy machine") for w in run["warnings"])
            for doc in docs
            for run in doc["runs"]
            if run["model"] == case
        )
        rows = sum(run["model"] == case for doc in docs for run in doc["runs"])
        if not ratios:
            why = entry["error"] or "no bench row for the chosen or the eligible candidates"
            lines.append(
                f"RESULT {BENCH} | {case} | ratio n/a | target <= {TARGET:g} | MISS | {why}"
            )
            continue
        ratio = statistics.median(ratios)
        chosen = Counter(
            f"{e['chosen']['backend']}/{e['chosen']['device']} {Path(e['chosen']['file']).name}"
            for e in rounds
            if e["chosen"]
        )
        eligible = sum(t["eligible"] for t in entry["trials"])
        moonshot = "PASS" if ratio <= MOONSHOT else "MISS"
        last = docs[-1]["runs"]
        detail = (
            f"rounds {', '.join(f'{r:.3f}' for r in ratios)}; chose "
            + ", ".join(f"{name} ({n}x)" for name, n in chosen.most_common())
            + f"; last round: chosen row p50 {_p50(last, entry['run_id'])}, fastest eligible "
            f"row {entry['fastest_run_id']} p50 {_p50(last, entry['fastest_run_id'])}; "
            f"{eligible} of {len(entry['trials'])} candidates eligible; selection took "
            f"{entry['seconds']:.2f} s; {busy} of {rows} rows on a busy machine; "
            f"moonshot <= {MOONSHOT:g} {moonshot}"
        )
        lines.append(result_line(BENCH, case, ratio, TARGET, detail))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 s per run, 1 s of selection")
    parser.add_argument("--rounds", type=int, help="bench runs (default 3; --quick 1)")
    parser.add_argument(
        "--no-ort-spinning",
        action="store_true",
        help="ONNX Runtime's intra-op threads do not spin (a diagnostic, see above)",
    )
    args = parser.parse_args(argv)
    extra = (
        ["--option", 'onnxruntime.session_config={"session.intra_op.allow_spinning": "0"}']
        if args.no_ort_spinning
        else []
    )
    rounds = args.rounds or (1 if args.quick else 3)
    docs = []
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-selection-") as tmp:
        root = Path(tmp)
        folders = build_folders(root)
        for round_ in range(rounds):
            print(f"\n--- round {round_ + 1} of {rounds}", flush=True)
            docs.append(run_bench(folders, args.quick, root / f"result-{round_}.json", extra))
    for line in report(docs):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
