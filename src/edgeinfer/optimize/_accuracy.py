"""How far a variant's outputs are from the float original's, on the same held-back samples.

- ``max_abs_error``: the largest ``|variant - original|`` over every output element.
- ``max_rel_error``: that error divided by the largest ``|original|`` of the same output (the
  worst output): relative to the output's range, so values near zero do not blow it up.
- ``cosine``: the cosine similarity of each sample's output (flattened), averaged over samples
  and outputs; 1 is the same direction. An integer output counts its share of equal elements.
- ``top1``/``top5``, for classifier outputs (float ``[N, C]``, ``C > 1``): the share of rows
  whose original top-1 class is the variant's top-1, or among its top 5 (``C > 5`` only).

The **accuracy drop** is ``1 - top1`` when the model has a classifier output (the share of
decisions that changed), else ``1 - cosine``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer._types import _ToDict

__all__ = ["Accuracy", "compare"]

Outputs = Mapping[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Accuracy(_ToDict):
    """A variant's outputs against the float original's on ``samples`` held-back samples; see
    the module's documentation for each figure. ``metric`` names what ``drop`` is."""

    samples: int
    max_abs_error: float
    max_rel_error: float
    cosine: float
    top1: float | None
    top5: float | None
    drop: float
    metric: str  # "top-1" or "cosine"


def _pairs(reference: Outputs, got: Outputs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outputs matched by name, else by position (another format may name them otherwise)."""
    if set(reference) == set(got):
        return [(np.asarray(reference[k]), np.asarray(got[k])) for k in reference]
    if len(reference) != len(got):
        raise ValueError(
            f"the variant has {len(got)} outputs, the original {len(reference)}: not comparable"
        )
    return [
        (np.asarray(a), np.asarray(b))
        for a, b in zip(reference.values(), got.values(), strict=True)
    ]


def _cosine(want: np.ndarray, have: np.ndarray) -> float:
    a, b = want.ravel().astype(np.float64), have.ravel().astype(np.float64)
    if not np.all(np.isfinite(b)):
        return 0.0
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0.0:
        return 1.0 if not np.any(a) and not np.any(b) else 0.0
    return float(np.clip(np.dot(a, b) / norms, -1.0, 1.0))


def compare(reference: Sequence[Outputs], got: Sequence[Outputs]) -> Accuracy:
    """The figures of ``got`` (a variant's outputs per sample) against ``reference``."""
    if len(reference) != len(got) or not reference:
        raise ValueError("compare needs the same, non-zero number of samples on both sides")
    worst_abs, worst_rel = 0.0, 0.0
    cosines: list[float] = []
    rows = top1 = top5 = 0
    ranked = 0  # rows with more than 5 classes
    for want_outputs, have_outputs in zip(reference, got, strict=True):
        for want, have in _pairs(want_outputs, have_outputs):
            if want.shape != have.shape:
                raise ValueError(f"output shapes differ: {want.shape} vs {have.shape}")
            if want.dtype.kind not in "fc":
                cosines.append(float(np.mean(want == have)) if want.size else 1.0)
                continue
            if want.size:
                error = np.abs(have.astype(np.float64) - want.astype(np.float64))
                largest = float(np.max(error)) if np.all(np.isfinite(error)) else float("inf")
                scale = float(np.max(np.abs(want)))
                worst_abs = max(worst_abs, largest)
                worst_rel = max(worst_rel, largest / scale if scale > 0 else largest)
            cosines.append(_cosine(want, have))
            if want.ndim == 2 and want.shape[1] > 1:
                truth = np.argmax(want, axis=1)
                top1 += int(np.sum(truth == np.argmax(have, axis=1)))
                rows += want.shape[0]
                if want.shape[1] > 5:
                    best5 = np.argsort(-have, axis=1)[:, :5]
                    top5 += int(np.sum(np.any(best5 == truth[:, None], axis=1)))
                    ranked += want.shape[0]
    cosine = float(np.mean(cosines)) if cosines else 1.0
    share1 = top1 / rows if rows else None
    share5 = top5 / ranked if ranked else None
    if share1 is not None:
        drop, metric = 1.0 - share1, "top-1"
    else:
        drop, metric = max(0.0, 1.0 - cosine), "cosine"
    return Accuracy(len(reference), worst_abs, worst_rel, cosine, share1, share5, drop, metric)
