"""Calibration data: the forms ``optimize()`` accepts, turned into checked per-sample feeds, then
split into the samples that calibrate and the samples held back to measure accuracy (never
both: a variant calibrated on a sample would look better on it than on new data).

Accepted: one array (a batch along axis 0, for a one-input model); a dict of such batches by
input name; a list (or tuple) of samples, each one array, a dict by input name or a sequence in
input order; any other iterable or iterator of such samples (read up to ``max_samples``); a
folder of images (see ``_images``); a ``.npy`` file (one batch) or ``.npz`` file (batches by
input name). A batch array has the rank of the input, split along axis 0 into pieces of the
input's fixed first dimension (1 when it is dynamic), or one more dimension: a stack of samples.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer._errors import ConfigurationError, InvalidInput
from edgeinfer._model.inputs import InputChecker
from edgeinfer._types import TensorSpec, _ToDict
from edgeinfer.optimize._images import ImagePreprocessing, image_samples

__all__ = [
    "DEFAULT_HOLDOUT",
    "DEFAULT_MAX_SAMPLES",
    "GENERATED_SAMPLES",
    "Calibration",
    "CalibrationSummary",
    "read_calibration",
]

DEFAULT_MAX_SAMPLES = 256
DEFAULT_HOLDOUT = 0.25
GENERATED_SAMPLES = 8  # without calibration data: random inputs, a smoke test of accuracy

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class CalibrationSummary(_ToDict):
    """Where the samples came from, how many calibrated and how many were held back to measure
    accuracy (``held_back_indices``: their places among the samples read, in order).
    ``generated``: no data was given; accuracy was measured on random inputs."""

    source: str
    samples: int
    calibrated_on: int
    held_back: int
    held_back_indices: tuple[int, ...] = ()
    generated: bool = False


@dataclass(frozen=True, slots=True)
class Calibration:
    calibrate: tuple[Feeds, ...]
    held_back: tuple[Feeds, ...]
    summary: CalibrationSummary


def _evenly(items: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` of ``items``, spread evenly through them (a folder sorted by class
    gives every class its share, not the first classes only)."""
    if len(items) <= limit:
        return list(items)
    return [items[int(i * len(items) / limit)] for i in range(limit)]


def _want(spec: TensorSpec) -> str:
    shape = spec.shape or ()
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _split_batch(batches: Mapping[str, Any], specs: Sequence[TensorSpec]) -> list[Feeds]:
    """Batches by input name -> per-sample feeds."""
    unknown = sorted(set(batches) - {spec.name for spec in specs})
    if unknown:
        raise InvalidInput(
            f"calibration data names {unknown}, which the model does not have; its inputs: "
            f"{', '.join(spec.name for spec in specs)}"
        )
    pieces: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        if spec.name not in batches:
            raise InvalidInput(f"calibration data has no batch for input {spec.name!r}")
        array = np.asarray(batches[spec.name])
        rank = None if spec.shape is None else len(spec.shape)
        if rank is not None and array.ndim == rank + 1:
            pieces[spec.name] = list(array)
        elif rank is not None and array.ndim == rank and rank > 0:
            first = spec.shape[0] if spec.shape else None
            step = first if first else 1
            if array.shape[0] % step:
                raise InvalidInput(
                    f"input {spec.name!r}: a calibration batch of {array.shape[0]} does not "
                    f"split into samples of {step} (the model's shape is {_want(spec)})"
                )
            pieces[spec.name] = [array[i : i + step] for i in range(0, array.shape[0], step)]
        else:
            raise InvalidInput(
                f"input {spec.name!r}: calibration data must be a batch of samples shaped like "
                f"the model's {_want(spec)} (stacked along axis 0), got an array of shape "
                f"{list(array.shape)}"
            )
    counts = {name: len(found) for name, found in pieces.items()}
    if len(set(counts.values())) > 1:
        raise InvalidInput(f"calibration batches hold different numbers of samples: {counts}")
    count = next(iter(counts.values()))
    return [{name: found[i] for name, found in pieces.items()} for i in range(count)]


def _from_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    raise ConfigurationError(
        f"calibration path {path} is neither a folder of images nor a .npy or .npz file"
    )


def _raw_samples(
    data: Any, specs: Sequence[TensorSpec], limit: int, preprocessing: ImagePreprocessing | None
) -> tuple[list[Any], str]:
    """The samples in their given form, at most ``limit``, and where they came from."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data).expanduser()
        if path.is_dir():
            found, described = image_samples(path, specs, preprocessing, limit)
            return list(found), described
        if not path.exists():
            raise FileNotFoundError(f"calibration data not found: {path}")
        data, source = _from_file(path), f"{path.name}"
    else:
        source = type(data).__name__
    if preprocessing is not None:
        raise ConfigurationError("preprocessing applies to a folder of images only")
    if isinstance(data, np.ndarray):
        if len(specs) != 1:
            raise InvalidInput(
                f"calibration data is one array, but the model has {len(specs)} inputs "
                f"({', '.join(s.name for s in specs)}): give a dict of batches by input name"
            )
        return _evenly(_split_batch({specs[0].name: data}, specs), limit), f"{source} batch"
    if isinstance(data, Mapping):
        return _evenly(_split_batch(data, specs), limit), f"{source} of batches"
    if isinstance(data, (list, tuple)):
        return _evenly(data, limit), f"{source} of samples"
    if isinstance(data, Iterable):
        return list(itertools.islice(iter(data), limit)), f"{source} of samples"
    raise ConfigurationError(
        "calibration must be arrays (a batch, a dict of batches, a list of samples), an "
        f"iterator of samples, or a folder of images; got {type(data).__name__}"
    )


def _checked(samples: Sequence[Any], specs: Sequence[TensorSpec]) -> list[Feeds]:
    check = InputChecker(specs)
    feeds = []
    for index, sample in enumerate(samples):
        try:
            feeds.append({name: np.ascontiguousarray(a) for name, a in check(sample).items()})
        except InvalidInput as error:
            raise InvalidInput(f"calibration sample {index}: {error}") from error
    return feeds


def _generated(specs: Sequence[TensorSpec]) -> list[Feeds]:
    rng = np.random.default_rng(0)
    for spec in specs:
        if spec.dtype.kind != "f" or spec.shape is None:
            raise ConfigurationError(
                f"input {spec.name!r} ({spec.dtype.name}) cannot be generated: give "
                "calibration=... (representative inputs) to measure accuracy"
            )
    return [
        {
            spec.name: rng.standard_normal(tuple(d or 1 for d in spec.shape or ())).astype(
                spec.dtype
            )
            for spec in specs
        }
        for _ in range(GENERATED_SAMPLES)
    ]


def read_calibration(
    data: Any,
    specs: Sequence[TensorSpec],
    *,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    holdout: float = DEFAULT_HOLDOUT,
    preprocessing: ImagePreprocessing | None = None,
) -> Calibration:
    """Checked per-sample feeds from ``data``, split into calibration and held-back samples.

    ``InvalidInput`` names the sample and input whose shape or dtype does not match the model;
    ``ConfigurationError`` for a form that is not understood or too few samples.
    """
    if data is None:
        feeds = _generated(specs)
        summary = CalibrationSummary(
            "generated (standard normal)", len(feeds), 0, len(feeds), tuple(range(len(feeds))), True
        )
        return Calibration((), tuple(feeds), summary)
    samples, source = _raw_samples(data, specs, max_samples, preprocessing)
    feeds = _checked(samples, specs)
    count = len(feeds)
    if count < 2:
        raise ConfigurationError(
            f"calibration needs at least 2 samples (some calibrate, the others measure "
            f"accuracy), got {count}; a few dozen representative samples are better"
        )
    held = min(count - 1, max(1, round(count * holdout)))
    # The centre of each of ``held`` equal strata: spread through the data, deterministic.
    chosen = sorted({int((i + 0.5) * count / held) for i in range(held)})
    held_set = set(chosen)
    calibrate = tuple(feed for i, feed in enumerate(feeds) if i not in held_set)
    held_back = tuple(feeds[i] for i in chosen)
    summary = CalibrationSummary(source, count, len(calibrate), len(held_back), tuple(chosen))
    return Calibration(calibrate, held_back, summary)
