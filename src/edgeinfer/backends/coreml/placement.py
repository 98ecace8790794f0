"""Where Core ML plans to run each operation: ``MLComputePlan`` (coremltools 8+, macOS 14.4+).

``coremltools.models.compute_plan.MLComputePlan.load_from_path(path, compute_units)`` reads the
compiled model (``MLModel.get_compiled_model_path()``) and answers, per ML program operation
(``model_structure.program.functions["main"].block.operations``, nested ``blocks`` for loops and
conditionals) or per neural network layer (``model_structure.neuralnetwork.layers``), the
``MLComputePlanDeviceUsage`` whose ``preferred_compute_device`` is an ``MLCPUComputeDevice``,
``MLGPUComputeDevice`` or ``MLNeuralEngineComputeDevice``, and for program operations an
``MLComputePlanCost`` whose ``weight`` is Core ML's estimate of the operation's share of the
work. That share is an estimate, not a measurement: it goes in a note, not in the time figures.

Unverified: written against coremltools' ``compute_plan.py`` and tested with stand-ins of its
shape only; Core ML does not run on this machine (docs/placement.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeinfer.backend import PlacedOp, Placement

__all__ = ["DEVICE_KINDS", "UNVERIFIED", "compute_plan", "placement_report"]

#: coremltools' compute device classes -> edgeinfer device kinds.
DEVICE_KINDS = {
    "MLCPUComputeDevice": "cpu",
    "MLGPUComputeDevice": "gpu",
    "MLNeuralEngineComputeDevice": "npu",
}
_EXECUTORS = {"cpu": "Core ML CPU", "gpu": "Core ML GPU", "npu": "Neural Engine"}
UNVERIFIED = "unverified: written against coremltools' MLComputePlan, not run on a Mac here"


def compute_plan(ct: Any, model: Any, units: str) -> Any:
    """The compute plan of a loaded ``MLModel`` for the compute units it was loaded with."""
    path = model.get_compiled_model_path()
    plan_class = ct.models.compute_plan.MLComputePlan
    return plan_class.load_from_path(path=path, compute_units=getattr(ct.ComputeUnit, units))


def _operations(block: Any) -> Iterator[Any]:
    for operation in block.operations:
        yield operation
        for inner in getattr(operation, "blocks", None) or ():
            yield from _operations(inner)


def _usages(plan: Any) -> tuple[list[tuple[str, Any, Any]], str | None]:
    """``(operator, device usage, cost)`` per operation, or why there are none."""
    structure = plan.model_structure
    if structure.program is not None:
        functions = structure.program.functions
        main = functions.get("main") or next(iter(functions.values()), None)
        if main is None:
            return [], "the ML program has no function"
        return [
            (
                str(op.operator_name),
                plan.get_compute_device_usage_for_mlprogram_operation(op),
                plan.get_estimated_cost_for_mlprogram_operation(op),
            )
            for op in _operations(main.block)
            if op.operator_name != "const"  # constants are data, not work
        ], None
    if structure.neuralnetwork is not None:
        return [
            (str(layer.type), plan.get_compute_device_usage_for_neuralnetwork_layer(layer), None)
            for layer in structure.neuralnetwork.layers
        ], None
    return [], "a pipeline: the compute plans of its sub-models are not read"


def placement_report(name: str, device: str, plan: Any) -> Placement:
    """The placement Core ML plans for a model served on ``device`` (``npu``, ``gpu``, ``auto``
    for ALL compute units, or ``cpu``)."""
    kind = device.split(":")[0]
    accelerated = {"npu": {"npu"}, "gpu": {"gpu"}, "auto": {"gpu", "npu"}}.get(kind, set())
    usages, why = _usages(plan)
    if why is not None:
        return Placement.unknown(name, device, why)
    ops = []
    costs: dict[str, float] = {}
    for operator, usage, cost in usages:
        preferred = getattr(usage, "preferred_compute_device", None)
        on = DEVICE_KINDS.get(type(preferred).__name__) if preferred is not None else None
        if on is None:
            ops.append(PlacedOp(operator, "other", None, "Core ML (no device planned)"))
            continue
        where = "cpu" if on == "cpu" else "accelerator" if on in accelerated else "other"
        ops.append(PlacedOp(operator, where, on, _EXECUTORS[on]))
        weight = getattr(cost, "weight", None)
        if weight is not None:
            costs[_EXECUTORS[on]] = costs.get(_EXECUTORS[on], 0.0) + float(weight)
    notes = []
    if costs:
        shares = ", ".join(f"{who} {share:.0%}" for who, share in sorted(costs.items()))
        notes.append(f"Core ML's estimated share of the work (not measured): {shares}")
    notes.append(UNVERIFIED)
    return Placement.from_ops(
        name,
        device,
        ops,
        source="Core ML compute plan (MLComputePlan: preferred compute device per operation)",
        accelerator=None if kind == "cpu" else device,
        reason="time not measured: Core ML gives an estimate per operation, not a measurement",
        notes=notes,
    )
