"""The inputs and parity references shared by the runs of one group (a workload, or a path).

Inputs: the ``--inputs`` arrays when given; else a workload's ``reference_inputs`` in each
format's layout; for a path, inputs generated (``generated``: the warm-up's float generator, seeds
0..n-1) from the first run's input specs (sized by ``--shape``). A later file of the group gets
the first one's inputs, moved to NHWC or NCHW where it wants them. The reference: the first fp32
run of the group; for a workload with no fp32 run first, ONNX Runtime on its fp32 ONNX variant,
out of band; otherwise the first run, saying so. See ``_parity`` for the comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer._types import TensorSpec
from edgeinfer.bench._matrix import Target, workloads_module
from edgeinfer.bench._parity import Outputs, Parity, compare, convert_layout

__all__ = ["Feeds", "References"]

Feeds = dict[str, np.ndarray]
_LOOSENESS = {"fp32": 0, "fp16": 1, "bf16": 1, "int8": 2}


def _looser(a: str, b: str) -> str:
    return a if _LOOSENESS.get(a, 0) >= _LOOSENESS.get(b, 0) else b


class References:
    """Per group: the canonical inputs and the reference outputs, with who produced them."""

    def __init__(self, count: int = 8, inputs: Sequence[Mapping[str | None, Any]] = ()) -> None:
        self.count = count
        self.inputs = list(inputs)
        self._references: dict[str, tuple[str, str, Outputs]] = {}
        self._canonical: dict[str, list[Feeds]] = {}

    def feeds(
        self,
        target: Target,
        specs: Sequence[TensorSpec],
        own: Sequence[TensorSpec] | None = None,
    ) -> list[Feeds] | None:
        """The group's inputs in this model's layout, or ``None`` when they do not fit it.
        ``specs``: the inputs as a caller feeding floats sees them, sized by ``--shape``;
        ``own``: the model's native specs (``--inputs`` may hold a quantised input's integers)."""
        if target.workload is not None and not self.inputs:
            arrays = workloads_module().reference_inputs(
                target.workload, target.format, count=self.count, seed=0
            )
            return [{specs[0].name: np.asarray(a)} for a in arrays]
        if target.group not in self._canonical:
            if self.inputs:
                from edgeinfer.bench._data import user_feeds

                first = user_feeds(specs, self.inputs, own)
                self._canonical[target.group] = first
                return first
            self._canonical[target.group] = [generated(specs, k) for k in range(self.count)]
        feeds = []
        for canonical in self._canonical[target.group]:
            if len(canonical) != len(specs):
                return None
            feed = {}
            for spec, array in zip(specs, canonical.values(), strict=True):
                moved = convert_layout(array, spec.shape)
                if moved is None or moved.dtype != spec.dtype:
                    return None
                feed[spec.name] = moved
            feeds.append(feed)
        return feeds

    def _onnxruntime(self, workload: str) -> tuple[str, str, Outputs] | str:
        """ONNX Runtime on the workload's fp32 ONNX variant, or why it could not run."""
        from edgeinfer._model.load import load

        module = workloads_module()
        try:
            path = module.ensure(workload, "onnx", "fp32")
            arrays = module.reference_inputs(workload, "onnx", count=self.count, seed=0)
            with load(path, "cpu", backend="onnxruntime", fallback=False, warmup=0) as model:
                outputs = [list(model.run(a).values()) for a in arrays]
        except Exception as error:
            return f"ONNX Runtime could not run the fp32 ONNX variant: {error}"
        return f"{workload}/onnx/fp32/onnxruntime/cpu (out of band)", "fp32", outputs

    def check(
        self, target: Target, run_id: str, outputs: Outputs | None, precision: str | None = None
    ) -> Parity:
        """Compare a run's outputs with the group's reference, or make them the reference.
        ``precision``: the run's, when the backend converted the file (default: the file's)."""
        if outputs is None:
            return Parity("skipped", reason="the group's reference inputs do not fit this model")
        precision = precision or target.precision
        reference = self._references.get(target.group)
        why_not = "no fp32 run came first"
        workload = None if self.inputs else target.workload  # out of band: its own inputs
        if reference is None and precision != "fp32" and workload is not None:
            found = self._onnxruntime(workload)
            if isinstance(found, str):
                why_not = found
            else:
                reference = self._references[target.group] = found
        if reference is None:
            self._references[target.group] = (run_id, precision, outputs)
            note = None if precision == "fp32" else f"{why_not}: this run is the reference"
            return Parity("reference", run_id, inputs=len(outputs), reason=note)
        ref_id, ref_precision, ref_outputs = reference
        precision = _looser(precision, ref_precision)
        try:
            return compare(ref_outputs, outputs, precision, ref_id)
        except (TypeError, ValueError) as error:  # e.g. string outputs: nothing to subtract
            return Parity("skipped", ref_id, reason=f"outputs not comparable: {error}")


def generated(specs: Sequence[TensorSpec], seed: int) -> dict[str, np.ndarray]:
    """Generated float inputs for a model's ``specs`` (the warm-up's generator), or
    ``ConfigurationError`` saying why edgeinfer will not generate them for this model."""
    from edgeinfer._errors import ConfigurationError
    from edgeinfer._model.warmup import generated_inputs

    feeds, why = generated_inputs(specs, seed=seed)
    if feeds is None:
        raise ConfigurationError(
            f"the bench does not generate inputs for this model ({why}); give them with "
            "--inputs FILE.npz"
        )
    return feeds
