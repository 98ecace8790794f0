"""A run's JSON record: its shape before the run (every field, failed until it succeeds), its
validity under the run rules, its warnings, and an error as one line with its fix once."""

from __future__ import annotations

import os
from typing import Any

from edgeinfer.bench._harness import Harness
from edgeinfer.bench._latency import CV_WARN
from edgeinfer.bench._matrix import RunSpec
from edgeinfer.bench._parity import Parity
from edgeinfer.bench._rules import Settings

__all__ = ["BUSY_LOAD", "add_warnings", "busy_load", "empty_record", "error_text", "validity"]

# A 1-minute load average above this many times the logical cores means other processes were
# competing for the CPU (the bench itself accounts for about one core, plus its runtime's threads).
BUSY_LOAD = 1.5


def empty_record(spec: RunSpec, settings: Settings, harness: Harness) -> dict[str, Any]:
    t = spec.target
    return {
        "id": spec.id,
        "model": t.name,
        "workload": t.workload,
        "group": t.group,
        "path": None if t.path is None else str(t.path),
        "format": t.format,
        "precision": spec.precision,
        "file_precision": t.precision,
        "converted_by": spec.backend if spec.convert else None,
        "runtime_precision": None,
        "placement": None,
        "details": {},
        "input_shapes": None,
        "backend": spec.backend,
        "device_requested": spec.device,
        "device": None,
        "threads": settings.threads,
        "scenario": settings.scenario,
        "concurrency": settings.concurrency,
        "harness": harness.name,
        "offline_mode": None,
        "batch": 1,
        "status": "failed",
        "error": None,
        "valid": False,
        "invalid_reasons": [],
        "build_s": None,
        "load_ms": None,
        "first_inference_ms": None,
        "warmup_queries": 0,
        "queries": 0,
        "samples": 0,
        "duration_s": None,
        "latency_us": None,
        "throughput": None,
        "headline": None,
        "variation": None,
        "peak_rss_bytes": None,
        "rss_before_bytes": None,
        "rss_method": None,
        "parity": Parity("skipped", reason="the run failed").to_dict(),
        "energy": {"joules": None, "joules_per_inference": None, "reason": "the run failed"},
        "system": {"before": None, "after": None},
        "operator_profile": None,
        "warnings": [],
    }


def error_text(error: BaseException) -> str:
    """``Type: message``, with the fix once: many errors already end with their hint."""
    text = f"{type(error).__name__}: {error}"
    hint = getattr(error, "hint", None)
    if hint and str(hint) not in text:
        text += f" (fix: {hint})"
    return text


def add_warnings(record: dict[str, Any]) -> None:
    """The run's warnings from its figures: an unsteady median, throttling."""
    cv = (record.get("variation") or {}).get("cv")
    if cv is not None and cv > CV_WARN:
        record["warnings"].append(
            f"unsteady: the median moved {cv:.0%} (CV) between the run's "
            f"{record['variation']['segments']} slices (other load, throttling or frequency "
            "scaling); run longer, on an idle machine"
        )
    before, after = record["system"]["before"], record["system"]["after"]
    if before and after:
        grew = (after["throttle_events"] or 0) > (before["throttle_events"] or 0)
        if grew or after["throttled"]:
            record["warnings"].append("the CPU throttled during the run")
    load = busy_load(record, os.cpu_count())
    if load is not None:
        record["warnings"].append(
            f"busy machine: 1-minute load {load:.1f} on {os.cpu_count()} logical cores (other "
            "processes competed for the CPU); these figures are not this model's alone"
        )


def busy_load(record: dict[str, Any], cores: int | None) -> float | None:
    """The run's highest 1-minute load average when it says the machine was busy, else None."""
    loads = [
        state.get("load_average_1m")
        for state in (record.get("system") or {}).values()
        if isinstance(state, dict)
    ]
    found = [load for load in loads if isinstance(load, (int, float))]
    if not cores or not found or max(found) <= BUSY_LOAD * cores:
        return None
    return float(max(found))


def validity(record: dict[str, Any], s: Settings) -> None:
    reasons = []
    if record["queries"] < s.min_queries:
        reasons.append(
            f"{record['queries']} queries < the minimum {s.min_queries} (stopped at the "
            f"{s.max_duration:g} s cap)"
        )
    # LoadGen applies its own duration rule (from its start); its wall time here runs from the
    # first query's start to the last one's end, a little shorter.
    short = record["duration_s"] is not None and record["duration_s"] < s.duration
    if short and record["harness"] == "builtin":
        reasons.append(f"ran {record['duration_s']:.2f} s < the minimum {s.duration:g} s")
    record["invalid_reasons"] = reasons
    record["valid"] = not reasons
