"""The JSON Schema (draft 2020-12) of ``--json`` output; ``--schema`` prints it.

``schema_version`` changes only when a field is removed or changes meaning; new fields may be
added within a version (readers ignore what they do not know).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_NUM = {"type": ["number", "null"]}
_INT = {"type": ["integer", "null"]}
_STR = {"type": ["string", "null"]}
_BOOL = {"type": ["boolean", "null"]}


def _object(properties: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["object", "null"] if nullable else "object",
        "required": list(properties),
        "properties": properties,
    }
    return schema


_LATENCY = _object(
    dict.fromkeys(
        ("min", "mean", "std", "iqr", "p25", "p50", "p75", "p90", "p95", "p99", "p999", "max"),
        _NUM,
    ),
    nullable=True,
)

_SYSTEM_STATE = _object(
    {
        "temperature_c": _NUM,
        "sensor": _STR,
        "throttled": _BOOL,
        "throttle_events": _INT,
        "cpu_mhz": _NUM,
        "load_average_1m": _NUM,
        "unknown": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    nullable=True,
)

_PARITY = _object(
    {
        "status": {"enum": ["reference", "pass", "fail", "skipped"]},
        "reference": _STR,
        "inputs": {"type": "integer", "minimum": 0},
        "max_abs_error": _NUM,
        "max_rel_error": _NUM,
        "top1_agreement": _NUM,
        "top5_agreement": _NUM,
        "thresholds": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "number"},
        },
        "reason": _STR,
    }
)

_RUN = _object(
    {
        "id": {"type": "string"},
        "model": {"type": "string"},
        "workload": _STR,
        "group": {"type": "string"},
        "path": _STR,
        "format": {"type": "string"},
        "precision": {"type": "string"},
        "file_precision": {"type": "string"},
        "converted_by": _STR,
        "runtime_precision": _STR,
        "placement": _STR,
        "details": {"type": "object", "additionalProperties": {"type": "string"}},
        "input_shapes": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "array", "items": {"type": "integer"}},
        },
        "backend": {"type": "string"},
        "device_requested": {"type": "string"},
        "device": _STR,
        "threads": _INT,
        "scenario": {"enum": ["single-stream", "offline"]},
        "concurrency": {"type": "integer", "minimum": 1},
        "harness": {"enum": ["builtin", "loadgen"]},
        "offline_mode": {"enum": [None, "back-to-back", "batch"]},
        "batch": {"type": "integer", "minimum": 1},
        "status": {"enum": ["ok", "failed"]},
        "error": _STR,
        "valid": {"type": "boolean"},
        "invalid_reasons": {"type": "array", "items": {"type": "string"}},
        "build_s": _NUM,
        "load_ms": _NUM,
        "first_inference_ms": _NUM,
        "warmup_queries": {"type": "integer", "minimum": 0},
        "queries": {"type": "integer", "minimum": 0},
        "samples": {"type": "integer", "minimum": 0},
        "duration_s": _NUM,
        "latency_us": _LATENCY,
        "throughput": _NUM,
        "headline": _object(
            {"metric": {"enum": ["p90_us", "throughput"]}, "value": _NUM}, nullable=True
        ),
        "variation": _object(
            {
                "cv": _NUM,
                "segments": {"type": "integer"},
                "segment_p50_us": {"type": "array", "items": {"type": "number"}},
                "segment_p90_us": {"type": "array", "items": {"type": "number"}},
                "segment_throughput": {"type": "array", "items": {"type": "number"}},
                "reason": _STR,
            },
            nullable=True,
        ),
        "peak_rss_bytes": _INT,
        "rss_before_bytes": _INT,
        "rss_method": {"enum": [None, "vmhwm", "sampled"]},
        "parity": _PARITY,
        "energy": _object({"joules": _NUM, "joules_per_inference": _NUM, "reason": _STR}),
        "system": _object({"before": _SYSTEM_STATE, "after": _SYSTEM_STATE}),
        "operator_profile": _object(
            {
                "path": _STR,
                "runs": {"type": "integer"},
                "events": {"type": "integer"},
                "reason": _STR,
            },
            nullable=True,
        ),
        "warnings": {"type": "array", "items": {"type": "string"}},
    }
)

_CANDIDATE = {
    "type": "object",
    "required": ["backend", "device", "file"],
    "properties": {
        "backend": {"type": "string"},
        "device": {"type": "string"},
        "file": {"type": "string"},
    },
}

_SELECTION = _object(
    {
        "model": {"type": "string"},
        "path": {"type": "string"},
        "chosen": {**_CANDIDATE, "type": ["object", "null"]},
        "cached": _BOOL,
        "seconds": _NUM,
        "reference": _STR,
        "max_error": _NUM,
        "trials": {
            "type": "array",
            "items": _object(
                {
                    "backend": {"type": "string"},
                    "device": {"type": "string"},
                    "file": {"type": "string"},
                    "eligible": {"type": "boolean"},
                    "p50_us": _NUM,
                    "calls": {"type": "integer"},
                    "max_error": _NUM,
                    "top1_agreement": _NUM,
                    "precision": _STR,
                    "reason": {"type": "string"},
                }
            ),
        },
        "notes": {"type": "array", "items": {"type": "string"}},
        "error": _STR,
        "run_id": _STR,
        "fastest_run_id": _STR,
        "ratio": _NUM,
    }
)

_BACKEND = _object(
    {
        "name": {"type": "string"},
        "available": {"type": "boolean"},
        "version": _STR,
        "reason": {"type": "string"},
        "hint": _STR,
    }
)

_FINGERPRINT = _object(
    {
        "id": {"type": "string"},
        "cpu": {"type": "string"},
        "cores_logical": _INT,
        "cores_physical": _INT,
        "memory_bytes": _INT,
        "governor": _STR,
        "system": {"type": "string"},
        "release": {"type": "string"},
        "os": {"type": "string"},
        "machine": {"type": "string"},
        "python": {"type": "string"},
        "numpy": {"type": "string"},
        "edgeinfer": {"type": "string"},
        "threads": _INT,
        "runtimes": {"type": "object", "additionalProperties": _STR},
        "backends": {"type": "array", "items": _BACKEND},
        "devices": {"type": "array", "items": {"type": "object"}},
    }
)

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/edgeinfer/edgeinfer/docs/bench.schema.json",
    "title": "edgeinfer.bench results",
    **_object(
        {
            "schema_version": {"const": SCHEMA_VERSION},
            "tool": {"const": "edgeinfer.bench"},
            "created": {"type": "string"},
            "elapsed_s": {"type": "number"},
            "command": {"type": "array", "items": {"type": "string"}},
            "settings": _object(
                {
                    "scenario": {"enum": ["single-stream", "offline"]},
                    "duration_s": {"type": "number"},
                    "min_queries": {"type": "integer"},
                    "max_duration_s": _NUM,
                    "runs": _INT,
                    "warmup_s": {"type": "number"},
                    "warmup_runs": {"type": "integer", "minimum": 0},
                    "concurrency": {"type": "integer", "minimum": 1},
                    "threads": _INT,
                    "harness": {"enum": ["builtin", "loadgen"]},
                    "harness_note": {"type": "string"},
                    "parity_inputs": {"type": "integer"},
                    "precision": {"type": ["array", "null"], "items": {"type": "string"}},
                    "options": {"type": "object"},
                    "shapes": {"type": "array", "items": {"type": "object"}},
                    "inputs": {"type": "array", "items": {"type": "string"}},
                    "profile_ops": _STR,
                    "quick": {"type": "boolean"},
                }
            ),
            "fingerprint": _FINGERPRINT,
            "runs": {"type": "array", "items": _RUN},
            "unavailable": {
                "type": "array",
                "items": _object(
                    {
                        "backend": {"type": "string"},
                        "reason": {"type": "string"},
                        "hint": _STR,
                        "formats": {"type": "array", "items": {"type": "string"}},
                    }
                ),
            },
            "skipped": {
                "type": "array",
                "items": _object({"model": {"type": "string"}, "reason": {"type": "string"}}),
            },
            "selections": {"type": "array", "items": _SELECTION},
            "summary": _object(
                {
                    "runs": {"type": "integer"},
                    "ok": {"type": "integer"},
                    "failed": {"type": "integer"},
                    "parity_failures": {"type": "integer"},
                    "invalid": {"type": "integer"},
                }
            ),
        }
    ),
}
