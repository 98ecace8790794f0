"""Verdicts and the choice: which variant the output folder serves first, and why.

- A variant whose accuracy drop exceeds the budget is ``over budget``; one that could not be
  made, opened or run ``failed``. The others met the budget.
- ``precision="auto"``: the fastest (p50) of those that met the budget *and the float
  original*: a variant is served only when it beats the original; else the original is.
- ``precision="int8"`` / ``"fp16"``: the fastest of those that met the budget, even when it is
  slower than the original (that precision was asked for: size, or a device that needs it; the
  reason says so); the original when none met the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgeinfer.optimize._report import VariantResult, Verdict

__all__ = ["choose"]


def _p50(result: VariantResult) -> float:
    return result.latency_p50_us if result.latency_p50_us is not None else float("inf")


def _ratio(a: VariantResult, b: VariantResult) -> str:
    return f"{_p50(a) / _p50(b):.2f}x the p50 of {b.recipe}"


def choose(
    original: VariantResult, variants: Sequence[VariantResult], precision: str, budget: float
) -> tuple[str, str, list[VariantResult]]:
    """``(chosen recipe, reason, results with verdicts)``, the original first."""
    judged: list[VariantResult] = []
    for result in variants:
        if result.verdict == Verdict.FAILED or result.accuracy is None:
            judged.append(result)
        elif result.accuracy.drop > budget:
            why = (
                f"accuracy drop {result.accuracy.drop:.4f} ({result.accuracy.metric}) > "
                f"budget {budget:g}"
            )
            judged.append(replace(result, verdict=Verdict.OVER_BUDGET, reason=why))
        else:
            judged.append(replace(result, verdict=Verdict.WITHIN_BUDGET, reason=""))
    eligible = [r for r in judged if r.verdict == Verdict.WITHIN_BUDGET]
    pool = [*eligible, original] if precision == "auto" else eligible
    best = min(pool, key=_p50) if pool else original
    if best is original:
        if not variants or all(r.verdict == Verdict.FAILED for r in judged):
            reason = "every variant failed; the float original is kept"
        elif not eligible:
            reason = (
                f"no variant met the accuracy budget (drop <= {budget:g}); the float "
                "original is kept"
            )
        else:
            reason = (
                "no variant within the accuracy budget was faster than the float original, "
                "which is kept"
            )
    else:
        speed = f"{best.speedup:.2f}x the original's speed" if best.speedup else "speed unknown"
        size = f"{best.size_ratio:.0%} of its size" if best.size_ratio else "size unknown"
        reason = f"the fastest within the accuracy budget ({speed}, {size})"
        if precision != "auto" and _p50(best) > _p50(original):
            reason += (
                f"; slower than the float original, kept because precision={precision!r} was "
                "asked (precision='auto' keeps the fastest)"
            )
    final = [replace(original, verdict=Verdict.CHOSEN if best is original else Verdict.REFERENCE,
                     reason="" if best is not original else original.reason)]  # fmt: skip
    for result in judged:
        if result is best:
            final.append(replace(result, verdict=Verdict.CHOSEN, reason=""))
        elif result.verdict == Verdict.WITHIN_BUDGET:
            final.append(replace(result, reason=f"slower: {_ratio(result, best)}"))
        else:
            final.append(result)
    return best.recipe, reason, final
