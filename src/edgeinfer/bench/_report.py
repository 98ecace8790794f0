"""The results as programs read them: the JSON document and CSV (one row per run); and the notes
printed under the table (``_table``): failures, warnings, what did not run and why."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from edgeinfer.bench._latency import SEGMENTS
from edgeinfer.bench._schema import SCHEMA_VERSION

__all__ = ["CSV_COLUMNS", "document", "notes", "write_csv", "write_json"]

_RSS_METHODS = {
    "vmhwm": "the kernel's high-water mark (VmHWM, reset before each run)",
    "sampled": "sampled every 10 ms (psutil)",
}


def notes(doc: dict[str, Any]) -> list[str]:
    """The lines under the table: failures, parity, warnings, what did not run and why."""
    lines: list[str] = []
    runs = doc["runs"]
    for r in runs:
        if r["status"] != "ok":
            lines.append(f"FAILED {r['id']}: {r['error']}")
        elif r["parity"]["status"] == "fail":
            lines.append(
                f"PARITY FAIL {r['id']} against {r['parity']['reference']}: {r['parity']['reason']}"
            )
        for reason in r["invalid_reasons"] if r["status"] == "ok" else ():
            lines.append(f"invalid {r['id']}: {reason}")
        lines.extend(f"warning {r['id']}: {w}" for w in r["warnings"] if not _busy(w))
        lines.extend(_run_notes(r))
    busy = [r for r in runs if any(_busy(w) for w in r["warnings"])]
    if busy:
        loads = [
            state["load_average_1m"]
            for r in busy
            for state in r["system"].values()
            if state and state.get("load_average_1m") is not None
        ]
        lines.append(
            f"warning: busy machine during {len(busy)} of {len(runs)} run(s) (1-minute load up "
            f"to {max(loads):.1f} on {doc['fingerprint']['cores_logical']} logical cores): other "
            "processes competed for the CPU, so these figures are not the models' alone"
        )
    for item in doc["unavailable"]:
        fix = f"; fix: {item['hint']}" if item["hint"] else ""
        lines.append(f"not available: {item['backend']}: {item['reason']}{fix}")
    lines.extend(f"not run: {item['model']}: {item['reason']}" for item in doc["skipped"])
    ok = [r for r in runs if r["status"] == "ok"]
    energy = {r["energy"]["reason"] for r in ok if r["energy"]["joules_per_inference"] is None}
    if energy:
        lines.append(
            f"energy per inference: unknown ({'; '.join(sorted(e or '?' for e in energy))})"
        )
    temps = {r["system"]["before"]["unknown"].get("temperature_c") for r in ok}
    if ok and all(r["system"]["before"]["temperature_c"] is None for r in ok):
        lines.append(f"temperature: unknown ({'; '.join(sorted(t or '?' for t in temps))})")
    methods = sorted({_RSS_METHODS.get(r["rss_method"], "unknown") for r in ok})
    if methods:
        lines.append(f"peak RSS: {', '.join(methods)}; from before load to the loop's end")
    from edgeinfer.bench._select import selection_lines

    for entry in doc.get("selections") or ():
        lines.extend(selection_lines(entry, runs))
    s, fp = doc["settings"], doc["fingerprint"]
    lines.append(_rules_line(s))
    lines.append(
        f"machine {fp['id']}: {fp['cpu']}, {fp['cores_logical']} cores, {fp['os']}, "
        f"{fp['python']}; " + ", ".join(f"{k} {v}" for k, v in fp["runtimes"].items())
    )
    return lines


def _busy(warning: str) -> bool:
    return warning.startswith("busy machine")


def _run_notes(r: dict[str, Any]) -> list[str]:
    lines = []
    if r.get("converted_by") and r["status"] == "ok":
        lines.append(
            f"converted {r['id']} (* in the table): {r['converted_by']} converts the "
            f"{r['file_precision']} file to {r['precision']} at load; it reports "
            f"{r['runtime_precision'] or 'no precision'}"
        )
    if r.get("placement"):
        lines.append(f"placement {r['id']}: {r['placement']}")
    details = r.get("details") or {}
    if r["status"] == "ok" and "compile" in details:  # a compiling backend (tvm): its cost
        tune = f"; tune: {details['tune']}" if "tune" in details else ""
        lines.append(f"compile {r['id']}: {details['compile']}{tune}")
    profile = r.get("operator_profile")
    if profile:
        lines.append(
            f"operator profile {r['id']}: {profile['path']} ({profile['events']} operator "
            f"events over {profile['runs']} calls; open it in ui.perfetto.dev)"
            if profile["path"]
            else f"operator profile {r['id']}: none ({profile['reason']})"
        )
    return lines


def _rules_line(s: dict[str, Any]) -> str:
    if s.get("runs"):
        count = (
            f"exactly {s['runs']} queries"
            if not s["duration_s"]
            else (f">= {s['runs']} queries and {s['duration_s']:g} s")
        )
    else:
        count = f"{s['duration_s']:g} s and >= {s['min_queries']} queries"
    runs = s.get("warmup_runs") or 0
    warmup = f"{s['warmup_s']:g} s" + (
        f" and {runs} quer{'y' if runs == 1 else 'ies'}" if runs else ""
    )
    flight = s.get("concurrency") or 1
    in_flight = f"; {flight} queries in flight (threads)" if flight > 1 else ""
    return (
        f"{s['scenario']}, {s['harness_note']}; {count} per run after {warmup} of warm-up"
        f"{in_flight}; * = headline; CV = variation between {SEGMENTS} slices of each run"
    )


def document(
    records: Sequence[dict[str, Any]],
    *,
    fingerprint: dict[str, Any],
    settings: dict[str, Any],
    unavailable: Sequence[dict[str, Any]],
    skipped: Sequence[dict[str, str]],
    command: Sequence[str],
    created: str,
    elapsed_s: float,
    selections: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The JSON document (see ``_schema.SCHEMA``)."""
    ok = [r for r in records if r["status"] == "ok"]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "edgeinfer.bench",
        "created": created,
        "elapsed_s": round(elapsed_s, 3),
        "command": list(command),
        "settings": settings,
        "fingerprint": fingerprint,
        "runs": list(records),
        "unavailable": list(unavailable),
        "skipped": list(skipped),
        "selections": list(selections),
        "summary": {
            "runs": len(records),
            "ok": len(ok),
            "failed": len(records) - len(ok),
            "parity_failures": sum(r["parity"]["status"] == "fail" for r in ok),
            "invalid": sum(not r["valid"] for r in ok),
        },
    }


def write_json(doc: dict[str, Any], target: str) -> None:
    """``target`` is a file path, or ``-`` for standard output."""
    text = json.dumps(doc, indent=2, allow_nan=False)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n")


CSV_COLUMNS: tuple[str, ...] = (
    "id", "model", "workload", "format", "precision", "file_precision", "converted_by",
    "runtime_precision", "backend", "device", "scenario", "concurrency",
    "harness", "offline_mode", "batch", "threads", "status", "valid", "error", "build_s",
    "load_ms", "first_inference_ms", "warmup_queries", "queries", "samples", "duration_s",
    "latency_min_us", "latency_mean_us", "latency_std_us", "latency_iqr_us", "latency_p50_us",
    "latency_p90_us", "latency_p95_us", "latency_p99_us", "latency_p999_us", "latency_max_us",
    "throughput", "cv", "peak_rss_bytes", "rss_method", "parity_status", "parity_reference",
    "max_abs_error", "max_rel_error", "top1_agreement", "top5_agreement",
    "energy_j_per_inference", "energy_reason", "temperature_before_c", "temperature_after_c",
    "throttled_before", "throttled_after", "warnings",
)  # fmt: skip


def _csv_row(r: dict[str, Any]) -> dict[str, Any]:
    row = {k: r.get(k) for k in CSV_COLUMNS if k in r}
    for key, value in (r["latency_us"] or {}).items():
        if f"latency_{key}_us" in CSV_COLUMNS:
            row[f"latency_{key}_us"] = value
    row["cv"] = (r["variation"] or {}).get("cv")
    parity = r["parity"]
    row["parity_status"], row["parity_reference"] = parity["status"], parity["reference"]
    for key in ("max_abs_error", "max_rel_error", "top1_agreement", "top5_agreement"):
        row[key] = parity[key]
    row["energy_j_per_inference"] = r["energy"]["joules_per_inference"]
    row["energy_reason"] = r["energy"]["reason"]
    for when in ("before", "after"):
        state = r["system"][when] or {}
        row[f"temperature_{when}_c"] = state.get("temperature_c")
        row[f"throttled_{when}"] = state.get("throttled")
    row["warnings"] = " | ".join(r["warnings"])
    return {k: "" if v is None else v for k, v in row.items()}


def write_csv(records: Sequence[dict[str, Any]], target: str | TextIO) -> None:
    """One row per run, columns ``CSV_COLUMNS``; unknown values are empty cells."""
    handle: TextIO = io.StringIO() if isinstance(target, str) else target
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in records:
        writer.writerow(_csv_row(r))
    if isinstance(target, str):
        assert isinstance(handle, io.StringIO)
        text = handle.getvalue()
        if target == "-":
            sys.stdout.write(text)
        else:
            Path(target).write_text(text, newline="")
