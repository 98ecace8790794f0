"""Which nodes of a TFLite graph a delegate took (XNNPACK, the Edge TPU) and which run on the
interpreter's own kernels, from the interpreter's node list.

``Interpreter._get_ops_details()`` lists every node of the main subgraph by its registration's
name (``InterpreterWrapper::NodeName``: the builtin operator's name, or a custom op's name such
as ``edgetpu-custom-op``), with its input and output tensors. Delegation does not remove the
nodes it replaces: ``ReplaceNodeSubsetsWithDelegateKernels`` appends one ``DELEGATE`` node per
partition, whose inputs and outputs are the partition's boundary tensors, and takes the replaced
nodes out of the execution plan only. So a partition is found again by walking back from a
``DELEGATE`` node's outputs through the nodes that produce them, stopping at its inputs.

An Edge TPU model carries the compiled segments as ``edgetpu-custom-op`` nodes: those run on the
Edge TPU, every other node on the CPU. The compiler fused an unknown number of the original
operations into each segment, and the file does not record how many.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer.backend import PlacedOp, Placement
from edgeinfer.backends.litert.pool import InterpreterPool

__all__ = [
    "DELEGATE",
    "EDGETPU_OP",
    "KERNELS",
    "delegated",
    "nodes_of",
    "placement_of",
    "pool_placement",
]

DELEGATE = "DELEGATE"
EDGETPU_OP = "edgetpu-custom-op"
KERNELS = "TFLite kernels"  # the interpreter's own (builtin) kernels, on the CPU
NO_TIME = "LiteRT's Python API has no per-operator profiler: no time shares"
_PRECISIONS = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def nodes_of(interpreter: Any) -> list[Mapping[str, Any]]:
    """The interpreter's node list (``_get_ops_details``: index, op_name, inputs, outputs, types);
    ``AttributeError`` when this interpreter has no such method."""
    return list(interpreter._get_ops_details())


def delegated(nodes: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Original node index -> index of the ``DELEGATE`` node whose partition replaced it."""
    producer: dict[int, int] = {}
    for node in nodes:
        if node["op_name"] != DELEGATE:
            for tensor in node["outputs"]:
                producer[int(tensor)] = int(node["index"])
    by_index = {int(node["index"]): node for node in nodes}
    taken: dict[int, int] = {}
    for node in nodes:
        if node["op_name"] != DELEGATE:
            continue
        boundary = {int(t) for t in node["inputs"]}
        pending = [int(t) for t in node["outputs"]]
        while pending:
            tensor = pending.pop()
            if tensor in boundary or tensor not in producer:
                continue
            source = producer[tensor]
            if source in taken:
                continue
            taken[source] = int(node["index"])
            pending.extend(int(t) for t in by_index[source]["inputs"] if int(t) >= 0)
    return taken


def _precision(types: Iterable[Any]) -> str | None:
    for dtype in types:
        name = str(np.dtype(dtype).name)
        return _PRECISIONS.get(name, name)
    return None


def placement_of(
    name: str,
    device: str,
    nodes: Sequence[Mapping[str, Any]],
    *,
    delegate: str | None,
    source: str,
    subgraphs: int = 1,
    kernels: str = KERNELS,
) -> Placement:
    """The placement of an interpreter's ``nodes``: ``edgetpu-custom-op`` on the Edge TPU (the
    accelerator when ``device`` is one), the nodes a delegate took under ``delegate`` (the name
    of the delegate the interpreter applies, e.g. XNNPACK), the rest under ``kernels``."""
    accelerator = None if device.split(":")[0] == "cpu" else device
    taken = delegated(nodes)
    ops = []
    segments = 0
    for node in nodes:
        kind = str(node["op_name"])
        if kind == DELEGATE:
            continue
        precision = _precision(node.get("result_types", ()))
        if kind == EDGETPU_OP:
            segments += 1
            where = "accelerator" if accelerator is not None else "other"
            on = accelerator if accelerator is not None else "edgetpu"
            ops.append(PlacedOp(kind, where, on, "Edge TPU", precision, count=None))
        elif int(node["index"]) in taken:
            ops.append(PlacedOp(kind, "cpu", "cpu", delegate or "a delegate", precision))
        else:
            ops.append(PlacedOp(kind, "cpu", "cpu", kernels, precision))
    reasons = [NO_TIME]
    notes = []
    if segments:
        reasons.insert(
            0,
            "operations: the Edge TPU compiler fuses what it maps into edgetpu-custom-op "
            "segments and the file does not record how many operations each holds",
        )
    elif accelerator is not None and accelerator.startswith("edgetpu"):
        notes.append(
            "no edgetpu-custom-op: the file was not compiled for the Edge TPU (edgetpu_compiler), "
            "so every operation runs on the CPU"
        )
    if subgraphs > 1:
        notes.append(f"only the main subgraph is listed; the model has {subgraphs}")
    return Placement.from_ops(
        name,
        device,
        ops,
        source=source,
        accelerator=accelerator,
        reason="; ".join(reasons),
        notes=notes,
    )


def pool_placement(
    name: str, device: str, pool: InterpreterPool, delegate: str | None, runtime: str
) -> Placement:
    """The placement read from one of ``pool``'s interpreters (all hold the same graph), taken
    from the pool like a call takes it, so no call runs on it meanwhile."""
    slot = pool.acquire(((-1,),))
    try:
        nodes = nodes_of(slot.interpreter)
        subgraphs = int(slot.interpreter.num_subgraphs())
    finally:
        pool.release(slot)
    source = f"{runtime} interpreter nodes (_get_ops_details)"
    return placement_of(name, device, nodes, delegate=delegate, source=source, subgraphs=subgraphs)
