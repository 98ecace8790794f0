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
        "backend": {"type": "string"},
        "device_requested": {"type": "string"},
        "device": _STR,
        "threads": _INT,
        "scenario": {"enum": ["single-stream", "offline"]},
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
        "warnings": {"type": "array", "items": {"type": "string"}},
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
                    "max_duration_s": {"type": "number"},
                    "warmup_s": {"type": "number"},
                    "threads": _INT,
                    "harness": {"enum": ["builtin", "loadgen"]},
                    "harness_note": {"type": "string"},
                    "parity_inputs": {"type": "integer"},
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
