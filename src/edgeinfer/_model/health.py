"""``Model.health()``: is the model still right, still fast, still where it should run?

- Golden self-test: a fixed input is run when each candidate opens and its output recorded;
  health reruns it on the serving candidate and compares.
- Latency drift: the p50 of the most recent calls against the p50 of the first calls.
- Placement: whether the preferred candidate (the first of the plan that opened) serves.
- The system snapshot (``edgeinfer.health()``): throttling and heat explain slow models.

Status is ``ok``, ``degraded`` (slower, on a fallback, system under strain) or ``failed`` (the
golden output changed or the serving backend cannot run), with the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer._errors import EdgeInferError
from edgeinfer._model.stats import BASELINE_CALLS, LatencyRecorder, stats_of
from edgeinfer._system.snapshot import HealthSnapshot
from edgeinfer._system.snapshot import health as system_health
from edgeinfer._types import _ToDict

if TYPE_CHECKING:
    from edgeinfer._model.chain import Link

__all__ = [
    "DRIFT_LIMIT",
    "ModelHealth",
    "compare_golden",
    "model_health",
    "system_strain",
]

DRIFT_LIMIT = 1.5  # recent p50 more than 1.5x the baseline is "degraded"
GOLDEN_RTOL = 1e-3


@dataclass(frozen=True, slots=True)
class ModelHealth(_ToDict):
    """The health of one model; ``reasons`` explain any status but ``ok``."""

    status: str
    reasons: tuple[str, ...]
    backend: str
    device: str
    preferred: bool
    golden: str
    golden_max_error: float | None
    baseline_p50: float | None
    recent_p50: float | None
    latency_drift: float | None
    system: HealthSnapshot | None = None


def compare_golden(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> float | None:
    """The largest relative error over float outputs (0.0 when all exact), ``None`` when an
    integer/bool output or a shape differs."""
    worst = 0.0
    for name, want in expected.items():
        have = got.get(name)
        if have is None or have.shape != want.shape:
            return None
        if want.dtype.kind == "f":
            scale = float(np.max(np.abs(want))) if want.size else 0.0
            error = float(np.max(np.abs(have.astype(np.float64) - want))) if want.size else 0.0
            worst = max(worst, error / max(scale, 1e-12))
        elif not np.array_equal(have, want):
            return None
    return worst


def _golden(link: Link) -> tuple[str, float | None, str | None]:
    if (
        link.golden is None
        or link.golden_feeds is None
        or link.backend is None
        or link.check is None
    ):
        return (
            "not recorded (the warm-up did not run: see Model.explain(); give "
            "load(..., warmup_inputs=...) to record one)",
            None,
            None,
        )
    try:
        got = link.backend.run(link.check(link.golden_feeds))
    except EdgeInferError as error:
        return "failed", None, f"the golden self-test raised {type(error).__name__}: {error}"
    error_size = compare_golden(link.golden, got)
    if error_size is None or error_size > GOLDEN_RTOL:
        size = "integer or shape mismatch" if error_size is None else f"{error_size:.2e}"
        return "failed", error_size, f"the golden output changed ({size})"
    return "passed", error_size, None


def system_strain(snapshot: HealthSnapshot) -> list[str]:
    """What in the system snapshot can slow a model down right now."""
    reasons = []
    pi = snapshot.raspberry_pi
    if pi is not None and pi.now():
        reasons.append(f"the Raspberry Pi reports now: {', '.join(pi.now())}")
    for sensor in snapshot.temperatures:
        headroom = sensor.headroom
        if headroom is not None and headroom <= 0:
            reasons.append(f"{sensor.name} at {sensor.celsius:.0f} C, at or past its trip point")
    for gpu in snapshot.gpus or ():
        if gpu.throttled:
            reasons.append(
                f"GPU {gpu.index} clocks held down: {', '.join(gpu.clock_reasons or ())}"
            )
    return reasons


def model_health(link: Link, preferred_link: Link, recorder: LatencyRecorder) -> ModelHealth:
    """The health of the model served by ``link`` (``preferred_link``: the plan's first that
    opened), from the golden self-test, ``recorder``'s latencies and the system."""
    reasons: list[str] = []
    failed = False
    golden, golden_error, golden_reason = _golden(link)
    if golden_reason:
        failed = True
        reasons.append(golden_reason)
    preferred = link is preferred_link
    if not preferred:
        reasons.append(
            f"running on a fallback ({link.name} on {link.device}), not on "
            f"{preferred_link.name} on {preferred_link.device}"
        )
    baseline = recorder.baseline_p50
    recent = stats_of(recorder.recent(BASELINE_CALLS)).p50 if recorder.count >= 1 else None
    drift = recent / baseline if recent is not None and baseline else None
    if drift is not None and drift > DRIFT_LIMIT and recorder.count >= 2 * BASELINE_CALLS:
        reasons.append(
            f"latency drifted: recent p50 {recent:.1f} us is {drift:.2f}x the "
            f"baseline {baseline:.1f} us"
        )
    snapshot = system_health()
    reasons.extend(system_strain(snapshot))
    status = "failed" if failed else ("degraded" if reasons else "ok")
    return ModelHealth(
        status,
        tuple(reasons),
        link.name,
        link.device,
        preferred,
        golden,
        golden_error,
        baseline,
        recent,
        drift,
        snapshot,
    )
