"""Output parity: does a backend compute what the reference computes, on the same inputs?

The reference of a group (one workload, or one model path) is the first fp32 run in it that
produced outputs; for a workload whose fp32 variant did not run, ONNX Runtime runs the fp32 ONNX
variant out of band. Every other run of the group is compared on the same reference inputs:

- ``max_abs_error``: the largest ``|out - ref|`` over every output and input;
- ``max_rel_error``: per input, ``max |out - ref| / max |ref|`` (relative to the reference's
  scale, so near-zero logits do not blow it up), the largest over the inputs;
- ``top1_agreement``: the share of inputs whose arg-max class matches the reference's;
- ``top5_agreement``: the share whose reference top-1 class is in the candidate's top 5
  (top-k with k = min(5, classes)). Both only for classifier outputs (``[1, classes]``).

A run passes when each figure is within the thresholds of its precision (``THRESHOLDS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["THRESHOLDS", "Outputs", "Parity", "Threshold", "compare", "convert_layout"]

Outputs = list[list[np.ndarray]]  # per reference input, the model's outputs in order


@dataclass(frozen=True, slots=True)
class Threshold:
    """The worst a run of this precision may be and still pass."""

    max_rel_error: float
    top1_agreement: float
    top5_agreement: float


# 8 reference inputs: 0.875 allows one disagreement, 0.75 two.
THRESHOLDS: dict[str, Threshold] = {
    "fp32": Threshold(max_rel_error=1e-3, top1_agreement=1.0, top5_agreement=1.0),
    "fp16": Threshold(max_rel_error=5e-2, top1_agreement=0.875, top5_agreement=1.0),
    "bf16": Threshold(max_rel_error=5e-2, top1_agreement=0.875, top5_agreement=1.0),
    "int8": Threshold(max_rel_error=0.5, top1_agreement=0.75, top5_agreement=0.875),
}


@dataclass(slots=True)
class Parity:
    """How one run's outputs compare with its group's reference."""

    status: str  # "reference", "pass", "fail" or "skipped"
    reference: str | None = None
    inputs: int = 0
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    top1_agreement: float | None = None
    top5_agreement: float | None = None
    thresholds: dict[str, float] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def convert_layout(array: np.ndarray, shape: Sequence[int | None] | None) -> np.ndarray | None:
    """``array`` reshaped for a tensor of ``shape``: as is, NCHW <-> NHWC, or ``None``."""
    if shape is None or len(shape) != array.ndim:
        return array if shape is None else None
    if all(want in (None, got) for want, got in zip(shape, array.shape, strict=True)):
        return array
    if array.ndim == 4:
        for axes in ((0, 2, 3, 1), (0, 3, 1, 2)):
            moved = array.transpose(axes)
            if all(want in (None, got) for want, got in zip(shape, moved.shape, strict=True)):
                return np.ascontiguousarray(moved)
    return None


def _matched(output: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    if output.shape == reference.shape:
        return output
    return convert_layout(output, reference.shape)


def _classes(reference: np.ndarray) -> int | None:
    """The class count of a classifier output (``[1, classes]``), else ``None``."""
    if reference.ndim == 2 and reference.shape[0] == 1 and reference.shape[1] >= 2:
        return int(reference.shape[1])
    return None


def _threshold(precision: str) -> Threshold:
    return THRESHOLDS.get(precision, THRESHOLDS["fp32"])


def compare(reference: Outputs, outputs: Outputs, precision: str, reference_id: str) -> Parity:
    """Compare ``outputs`` with ``reference`` (same inputs, same order) under the thresholds of
    ``precision``; a shape that cannot be matched gives ``skipped`` with the reason."""
    limits = _threshold(precision)
    thresholds = asdict(limits)
    if len(reference) != len(outputs) or not reference:
        return Parity("skipped", reference_id, reason="no outputs to compare")
    max_abs = 0.0
    max_rel = 0.0
    top1: list[bool] = []
    top5: list[bool] = []
    for ref_outputs, run_outputs in zip(reference, outputs, strict=True):
        if len(ref_outputs) != len(run_outputs):
            return Parity(
                "skipped",
                reference_id,
                reason=f"{len(run_outputs)} outputs against the reference's {len(ref_outputs)}",
            )
        for index, (ref, out) in enumerate(zip(ref_outputs, run_outputs, strict=True)):
            got = _matched(np.asarray(out), np.asarray(ref))
            if got is None:
                return Parity(
                    "skipped",
                    reference_id,
                    reason=f"output {index} has shape {out.shape}, the reference {ref.shape}",
                )
            ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
            error = float(np.max(np.abs(got64 - ref64))) if ref.size else 0.0
            scale = float(np.max(np.abs(ref64))) if ref.size else 0.0
            max_abs = max(max_abs, error)
            max_rel = max(max_rel, error / scale if scale > 0 else (0.0 if error == 0 else 1.0))
            if index == 0 and (classes := _classes(ref64)) is not None:
                k = min(5, classes)
                expected = int(np.argmax(ref64[0]))
                top1.append(int(np.argmax(got64[0])) == expected)
                top5.append(expected in np.argsort(got64[0])[-k:])
    parity = Parity(
        "pass",
        reference_id,
        inputs=len(reference),
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        top1_agreement=sum(top1) / len(top1) if top1 else None,
        top5_agreement=sum(top5) / len(top5) if top5 else None,
        thresholds=thresholds,
    )
    failures = []
    if max_rel > limits.max_rel_error:
        failures.append(f"max relative error {max_rel:.2e} > {limits.max_rel_error:g}")
    if parity.top1_agreement is not None and parity.top1_agreement < limits.top1_agreement:
        failures.append(f"top-1 agreement {parity.top1_agreement:.3f} < {limits.top1_agreement}")
    if parity.top5_agreement is not None and parity.top5_agreement < limits.top5_agreement:
        failures.append(f"top-5 agreement {parity.top5_agreement:.3f} < {limits.top5_agreement}")
    if failures:
        parity.status = "fail"
        parity.reason = "; ".join(failures)
    return parity
