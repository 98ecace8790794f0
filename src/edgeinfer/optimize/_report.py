"""What ``edgeinfer.optimize`` measured and chose: one ``VariantResult`` per file (the float
original first), the recipes that did not run and why, and the choice with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer._types import _ToDict
from edgeinfer.optimize._accuracy import Accuracy
from edgeinfer.optimize._calibration import CalibrationSummary
from edgeinfer.optimize._recipes import Skip

__all__ = [
    "REPORT_FILE",
    "SCHEMA",
    "OptimizationReport",
    "SkippedRecipe",
    "VariantResult",
    "Verdict",
]

SCHEMA = "edgeinfer.optimize/1"
REPORT_FILE = "report.json"


class Verdict:
    """The verdict strings of a variant."""

    REFERENCE = "reference"  # the float original: what accuracy is measured against
    CHOSEN = "chosen"  # served first from the output folder
    WITHIN_BUDGET = "within budget"  # met the accuracy budget, another was faster
    OVER_BUDGET = "over budget"  # its accuracy drop exceeds the budget
    FAILED = "failed"  # could not be made, opened or run: ``reason`` says why


@dataclass(frozen=True, slots=True)
class VariantResult(_ToDict):
    """One variant as measured. ``recipe`` is ``"original"`` for the float model. ``file``: its
    name in the output folder (``None`` when it was not kept). ``size_ratio``: its size over the
    original's; ``speedup``: the original's p50 over its p50 (above 1 is faster). Latency is
    the p50 of ``calls`` interleaved calls through ``Model.run`` on the target backend."""

    recipe: str
    precision: str
    summary: str
    file: str | None
    size_bytes: int | None
    size_ratio: float | None
    latency_p50_us: float | None
    latency_p90_us: float | None
    calls: int
    speedup: float | None
    accuracy: Accuracy | None
    verdict: str
    reason: str
    seconds_to_make: float | None = None

    def line(self) -> str:
        """One line a person reads."""
        parts = [f"{self.recipe} ({self.precision})"]
        if self.size_bytes is not None:
            parts.append(f"{self.size_bytes / 1e6:.2f} MB")
        if self.latency_p50_us is not None:
            parts.append(f"p50 {self.latency_p50_us / 1000:.2f} ms")
        if self.accuracy is not None and self.recipe != "original":
            parts.append(f"drop {self.accuracy.drop:.3f} ({self.accuracy.metric})")
        return f"{', '.join(parts)}: {self.verdict}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True, slots=True)
class SkippedRecipe(_ToDict):
    """A recipe that did not run here; ``kind``: package, model, target or data; ``hint``: how
    to make it run (a pip command)."""

    recipe: str
    precision: str
    reason: str
    kind: str
    hint: str | None = None

    @classmethod
    def of(cls, skip: Skip) -> SkippedRecipe:
        return cls(skip.recipe, skip.precision, skip.reason, skip.kind, skip.hint)


@dataclass(frozen=True, slots=True)
class OptimizationReport(_ToDict):
    """What ``edgeinfer.optimize()`` made, measured and chose.

    ``variants``: the float original first, then each variant made, with its file, size,
    latency on ``backend``/``device`` and accuracy against the original on held-back samples,
    and a verdict. ``chosen``: the recipe served first from ``out`` (``"original"`` when no
    variant earned its place; ``reason`` says why). ``skipped``: recipes that did not run here.
    ``max_accuracy_drop``: the budget (see docs/optimize.md for what "drop" means).
    """

    model: str
    format: str
    backend: str
    device: str
    precision: str
    max_accuracy_drop: float
    calibration: CalibrationSummary
    variants: tuple[VariantResult, ...]
    skipped: tuple[SkippedRecipe, ...]
    chosen: str
    reason: str
    out: str | None
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def chosen_variant(self) -> VariantResult:
        return next(v for v in self.variants if v.recipe == self.chosen)

    @property
    def original(self) -> VariantResult:
        return self.variants[0]

    @property
    def optimized(self) -> bool:
        """Whether a variant (not the float original) is served first."""
        return self.chosen != "original"

    def to_dict(self) -> dict[str, Any]:
        found = _ToDict.to_dict(self)
        return {"schema": SCHEMA, **found}

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON; written to ``path`` too when given."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def lines(self) -> list[str]:
        """The report in words: the choice, every variant, what did not run."""
        where = f"{self.backend} on {self.device}"
        lines = [
            f"edgeinfer.optimize {Path(self.model).name} ({self.format}, {self.precision}) "
            f"measured on {where}: serving {self.chosen}; {self.reason}"
        ]
        lines.extend(f"  - {variant.line()}" for variant in self.variants)
        lines.extend(
            f"  not applicable: {s.recipe}: {s.reason}" + (f" ({s.hint})" if s.hint else "")
            for s in self.skipped
        )
        lines.extend(f"  note: {note}" for note in self.notes)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())
