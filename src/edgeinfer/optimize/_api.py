"""``edgeinfer.optimize()``: make int8/fp16 variants of a model, measure each on the target
backend against the float original, keep the best, and write a folder ``load()`` serves.

The order of things: check the arguments and the output path; open the original on the target
(``backend``/``device``, no fallback); read the calibration data against its inputs; pick the
recipes that apply; make each variant into a staging folder; open each through ``load()``, run
the held-back samples, time them all interleaved; judge and choose; write the folder and the
report; rename the folder into place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    EdgeInferError,
    ModelIncompatible,
)
from edgeinfer._planning.formats import detect_format
from edgeinfer.optimize import _output
from edgeinfer.optimize._calibration import (
    DEFAULT_HOLDOUT,
    DEFAULT_MAX_SAMPLES,
    Calibration,
    read_calibration,
)
from edgeinfer.optimize._choose import choose
from edgeinfer.optimize._images import ImagePreprocessing
from edgeinfer.optimize._measure import open_variant
from edgeinfer.optimize._recipes import Skip, Source, Target, recipes_for
from edgeinfer.optimize._report import OptimizationReport, SkippedRecipe, VariantResult, Verdict
from edgeinfer.optimize._variants import make_variants, measure_variants

__all__ = ["DEFAULT_MAX_ACCURACY_DROP", "PRECISIONS", "optimize"]

PRECISIONS = ("int8", "fp16", "auto")
DEFAULT_MAX_ACCURACY_DROP = 0.01
DEFAULT_MEASURE_SECONDS = 2.0
_FEW_HELD_BACK = 20
_CLOSE = 0.05  # p50s closer than this are a close call on a shared machine
_log = logging.getLogger("edgeinfer")


def _check_arguments(
    precision: object, budget: object, holdout: object, max_samples: object, seconds: object
) -> float:
    if precision not in PRECISIONS:
        raise ConfigurationError(
            f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    checks = (
        ("max_accuracy_drop", budget, 0.0, 1.0, "a number in [0, 1]"),
        ("holdout", holdout, 1e-9, 1 - 1e-9, "a fraction in (0, 1)"),
        ("measure_seconds", seconds, 1e-9, float("inf"), "a positive number"),
    )
    for name, value, low, high, what in checks:
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise ConfigurationError(f"{name} must be {what}, got {value!r}")
    if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 2:
        raise ConfigurationError(f"max_samples must be an int >= 2, got {max_samples!r}")
    return DEFAULT_MAX_ACCURACY_DROP if budget is None else float(budget)  # type: ignore[arg-type]


def _source_file(path: str | Path) -> tuple[Path, str]:
    model = Path(path).expanduser()
    if not model.exists():
        raise FileNotFoundError(f"model file not found: {model}")
    if model.is_dir():
        raise ConfigurationError(f"{model} is a folder: optimize takes one model file")
    fmt = detect_format(model)
    if fmt not in ("onnx", "tflite"):
        raise ModelIncompatible(
            f"{model.name} is a {fmt} model: edgeinfer.optimize makes variants of float ONNX "
            "and TFLite models (compiled formats are built for one precision)"
        )
    return model, fmt


def _check_backend(backend: str | None, fmt: str) -> None:
    """A pinned backend must read the model's format: edgeinfer converts no format to another."""
    if backend is None:
        return
    from edgeinfer._planning.registry import entry, names

    formats = entry(backend).formats  # UnknownBackend for a name nobody registered
    if formats is None or fmt in formats:
        return
    readers = [n for n in names() if fmt in (entry(n).formats or ())]
    how = (
        " (ONNX to TFLite needs TensorFlow, which edgeinfer does not drive)"
        if fmt == "onnx"
        else ""
    )
    raise ConfigurationError(
        f"backend {backend!r} does not read {fmt} models{how}; the backends that do: "
        f"{', '.join(readers)}"
    )


def _nothing_runs(skips: Sequence[Skip], precision: str, name: str) -> EdgeInferError:
    listing = "; ".join(f"{s.recipe}: {s.reason}" for s in skips) or "no recipe for this format"
    kinds = {s.kind for s in skips}
    if "data" in kinds:
        return ConfigurationError(
            f"precision={precision!r} for {name} needs calibration data: give calibration=... "
            f"(arrays, an iterator, or a folder of images); {listing}"
        )
    package = next((s for s in skips if s.kind == "package"), None)
    if package is not None:
        return BackendUnavailable(package.recipe, package.reason, package.hint)
    if "model" in kinds:
        return ModelIncompatible(f"{name} cannot be optimised to {precision}: {listing}")
    return ConfigurationError(f"no {precision} recipe suits this target: {listing}")


def _versions() -> dict[str, str]:
    from edgeinfer._kit.versions import installed_version

    found = {}
    for name in ("onnxruntime", "onnx", "ai-edge-litert", "openvino", "nncf"):
        version = installed_version(name)
        if version is not None:
            found[name] = version
    return found


def _close_call(results: Sequence[VariantResult], chosen: str) -> str | None:
    """A note when the chosen model's p50 is within ``_CLOSE`` of the next fastest measured."""
    p50 = {
        r.recipe: r.latency_p50_us
        for r in results
        if r.latency_p50_us and r.verdict not in (Verdict.OVER_BUDGET, Verdict.FAILED)
    }
    mine = p50.get(chosen)
    others = [value for recipe, value in p50.items() if recipe != chosen]
    if mine is None or not others or min(others) / mine >= 1 + _CLOSE:
        return None
    return (
        f"the p50s of {chosen} and the next fastest differ by less than {_CLOSE:.0%}, within "
        "the noise of a short measurement on a busy machine: measure longer "
        "(measure_seconds=..., --seconds) before trusting the order"
    )


def _notes(calibration: Calibration, results: Sequence[VariantResult], chosen: str) -> list[str]:
    summary, notes = calibration.summary, []
    close = _close_call(results, chosen)
    if close is not None:
        notes.append(close)
    if summary.generated:
        notes.append(
            "no calibration data: accuracy was measured on random inputs, a smoke test and not "
            "a measurement; give calibration=... (representative inputs)"
        )
    elif summary.held_back < _FEW_HELD_BACK:
        notes.append(
            f"accuracy comes from {summary.held_back} held-back samples: one changed decision "
            f"moves top-1 agreement by {100 / summary.held_back:.3g}%; give more samples for "
            "finer figures"
        )
    return notes


def optimize(
    path: str | Path,
    precision: str = "int8",
    *,
    calibration: Any = None,
    backend: str | None = None,
    device: str = "cpu",
    max_accuracy_drop: float | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    preprocessing: ImagePreprocessing | None = None,
    holdout: float = DEFAULT_HOLDOUT,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    measure_seconds: float = DEFAULT_MEASURE_SECONDS,
    threads: int | None = None,
    keep_all: bool = False,
) -> OptimizationReport:
    """Make int8 / fp16 variants of a float ONNX or TFLite model, measure each on the target
    backend and device against the original, and write a folder that ``load()`` serves: the
    chosen variant first, the float original beside it as its fallback, and the report.

    ``precision``: ``"int8"``, ``"fp16"``, or ``"auto"`` (every recipe that applies; the float
    original competes too, so a variant is kept only when it is faster). ``calibration``:
    representative inputs (a batch array, a dict of batches by input name, a list or iterator
    of samples, a folder of images, a ``.npy``/``.npz`` file); ``holdout`` of them (default a
    quarter) are held back to measure accuracy and never calibrate. ``preprocessing``: how images
    become inputs (``ImagePreprocessing``). ``backend``/``device``: where to measure (default:
    the backend ``load()`` picks for the model on the CPU). ``max_accuracy_drop``: the budget,
    default 0.01: the share of changed top-1 decisions for classifiers (``[N, C]`` outputs),
    else ``1 - cosine similarity``. ``out``: the folder (default ``<model>.optimized`` beside
    the model); an existing one is refused unless ``overwrite=True``. ``keep_all``: keep every
    variant made in ``out``, not only the chosen one. ``measure_seconds``: time spent timing all
    variants together.

    Raises ``FileNotFoundError``; ``ConfigurationError`` (bad arguments, existing ``out``,
    calibration data needed); ``InvalidInput`` (calibration data whose shape or dtype does not
    fit the model, naming the input); ``ModelIncompatible`` (a model that cannot be quantised:
    already quantised, nothing to quantise, every recipe failed); ``BackendUnavailable`` (the
    runtime a recipe needs is not installed). The original model is never modified.
    """
    started = time.perf_counter()
    budget = _check_arguments(precision, max_accuracy_drop, holdout, max_samples, measure_seconds)
    model_path, fmt = _source_file(path)
    _check_backend(backend, fmt)
    target_dir = _output.check_out(out, model_path, overwrite)
    original = open_variant(model_path, backend, device, threads, None)
    try:
        target = Target(original.backend, original.device.split(":")[0])
        data = read_calibration(calibration, original.inputs, max_samples=max_samples,
                                holdout=holdout, preprocessing=preprocessing)  # fmt: skip
        quantised = any(s.quantization is not None for s in (*original.inputs, *original.outputs))
        source = Source(model_path, fmt, [s.name for s in original.inputs], quantised)
        recipes, skips = recipes_for(source, target, precision, not data.summary.generated)
        if not recipes:
            raise _nothing_runs(skips, precision, model_path.name)
        staging = _output.staging_folder(target_dir)
        try:
            made, failed = make_variants(recipes, source, target, data, staging)
            if not made:
                listing = "; ".join(f"{r.recipe}: {r.reason}" for r in failed)
                raise ModelIncompatible(
                    f"{model_path.name} cannot be optimised to {precision}: {listing}"
                )
            first, measured = measure_variants(original, made, data, threads, measure_seconds)
            chosen, reason, results = choose(first, [*measured, *failed], precision, budget)
            draft = OptimizationReport(
                str(model_path), fmt, target.backend, original.device, precision, budget,
                data.summary, tuple(results), tuple(SkippedRecipe.of(s) for s in skips), chosen,
                reason, str(target_dir), time.perf_counter() - started, _versions(),
                tuple(_notes(data, results, chosen)),
            )  # fmt: skip
            report = _output.write_folder(staging, target_dir, model_path, fmt, draft, keep_all)
        except BaseException:
            _output.remove(staging)
            raise
    finally:
        original.close()
    _log.info("edgeinfer.optimize: %s", report.lines()[0])
    return report
