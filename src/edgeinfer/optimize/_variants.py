"""Making the variants, then measuring them beside the float original.

Making: each recipe writes its file into the staging folder; a recipe that raises is a failed
variant with the converter's own message (it does not stop the others). Measuring: each file
opened through ``load()`` on the original's backend and device, its outputs on the held-back
samples compared with the original's, then every opened model timed together
(``_measure.time_interleaved``). A variant that cannot be opened or run there failed, with why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edgeinfer._errors import EdgeInferError
from edgeinfer._model.model import Model
from edgeinfer.optimize._accuracy import compare
from edgeinfer.optimize._calibration import Calibration
from edgeinfer.optimize._measure import open_variant, outputs_of, time_interleaved
from edgeinfer.optimize._output import discard
from edgeinfer.optimize._recipes import Recipe, Source, Target
from edgeinfer.optimize._report import VariantResult, Verdict

__all__ = ["Made", "make_variants", "measure_variants"]

Made = tuple[Recipe, Path, float]  # the recipe, its file, seconds it took
_REASON_LIMIT = 500


def _failed(recipe: Recipe, reason: str, seconds: float | None = None) -> VariantResult:
    return VariantResult(recipe.name, recipe.precision, recipe.summary, None, None, None, None,
                         None, 0, None, None, Verdict.FAILED, reason[:_REASON_LIMIT],
                         seconds)  # fmt: skip


def make_variants(
    recipes: Sequence[Recipe],
    source: Source,
    target: Target,
    calibration: Calibration,
    folder: Path,
) -> tuple[list[Made], list[VariantResult]]:
    """Each recipe's file in ``folder``, or a failed result with the reason."""
    made, failed = [], []
    for recipe in recipes:
        started = time.perf_counter()
        suffix = recipe.output_suffix or source.path.suffix
        path = folder / f"{source.path.stem}.{recipe.suffix}{suffix}"
        try:
            recipe.make(source, target, calibration.calibrate, path)
        except Exception as error:  # a converter's own failure: this variant failed, say why
            discard(path)
            reason = f"could not be made: {type(error).__name__}: {error}".strip()
            failed.append(_failed(recipe, reason, time.perf_counter() - started))
            continue
        made.append((recipe, path, time.perf_counter() - started))
    return made, failed


def _size(path: Path) -> int:
    """A model's bytes on disk: an OpenVINO IR counts its .bin, an ONNX file its external data."""
    size = path.stat().st_size
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        size += path.with_suffix(".bin").stat().st_size
    elif path.suffix == ".onnx":
        from edgeinfer._kit.onnx_scan import check_onnx_file

        size += sum(
            (path.parent / p).stat().st_size for p in set(check_onnx_file(path).external_data)
        )
    return size


def measure_variants(
    original: Model,
    made: Sequence[Made],
    calibration: Calibration,
    threads: int | None,
    seconds: float,
) -> tuple[VariantResult, list[VariantResult]]:
    """The original's result and each variant's: size, accuracy, latency (verdicts still to
    give: every variant that ran is provisionally ``within budget``)."""
    held = calibration.held_back
    reference = outputs_of(original, held)
    original_size = _size(Path(original.path))
    opened: dict[str, Model] = {"original": original}
    results: dict[str, VariantResult] = {}
    try:
        for recipe, path, took in made:
            try:
                model = open_variant(path, original.backend, original.device, threads, held[0])
                opened[recipe.name] = model
                accuracy = compare(reference, outputs_of(model, held))
            except (EdgeInferError, ValueError) as error:
                why = f"could not run on {original.backend}: {type(error).__name__}: {error}"
                results[recipe.name] = _failed(recipe, why, took)
                opened.pop(recipe.name, None)
                continue
            size = _size(path)
            results[recipe.name] = VariantResult(
                recipe.name, recipe.precision, recipe.summary, path.name, size,
                size / original_size, None, None, 0, None, accuracy, Verdict.WITHIN_BUDGET, "",
                took,
            )  # fmt: skip
        stats = time_interleaved(opened, held[0], seconds)
    finally:
        for name, model in opened.items():
            if name != "original":
                model.close()
    base = stats["original"]
    first = VariantResult("original", "float", "the float model, unchanged", None, original_size,
                          1.0, base.p50, base.p90, base.count, 1.0, compare(reference, reference),
                          Verdict.REFERENCE, "")  # fmt: skip
    timed = []
    for recipe, _, _ in made:
        result = results[recipe.name]
        found = stats.get(recipe.name)
        if found is not None:
            speed = base.p50 / found.p50 if base.p50 and found.p50 else None
            result = replace(result, latency_p50_us=found.p50, latency_p90_us=found.p90,
                             calls=found.count, speedup=speed)  # fmt: skip
        timed.append(result)
    return first, timed
