"""Where ONNX Runtime runs each node: the execution provider the graph partitioner assigned it.

Two sources, both the runtime's own. ``get_provider_graph_assignment_info()`` lists the nodes of
the partitioned graph (after onnxruntime's own rewriting) under the provider that runs them,
without a run, when the session was created with ``session.record_ep_graph_assignment_info=1``:
the backend sets it when it opens a session for an accelerator, so ``load()`` reads it for free;
for a CPU session a second, unrun session records it on demand. The profiler
(``enable_profiling``) times each node event with its provider: with inputs, the time per provider
comes from there, and on an onnxruntime without the assignment API the nodes do too (a subgraph
an execution provider compiled then counts as one node, under the provider's own name for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgeinfer.backend import GroupKey, OpenOptions, OperatorEvent, PlacedOp, Placement
from edgeinfer.backends.onnxruntime.config import CPU
from edgeinfer.backends.onnxruntime.profile import Assigned, profiled

__all__ = ["RUNS", "placement_report"]

#: Profiled calls for the time shares; the first (which pays one-time costs) is left out.
RUNS = 6


def _where(provider: str, accelerators: Sequence[str], device: str) -> tuple[str, str | None]:
    if provider == CPU:
        return "cpu", "cpu"
    if provider in accelerators:
        return "accelerator", device
    return "other", None


def placement_report(
    name: str,
    device: str,
    path: Path,
    providers: list[tuple[str, dict[str, str]]],
    options: OpenOptions,
    recorded: Assigned | None,
    feeds: Mapping[str, np.ndarray] | None,
) -> Placement:
    """The placement of a session on ``device`` created with ``providers``; ``recorded`` is the
    serving session's own assignment, where it recorded one."""
    accelerators = [provider for provider, _ in providers if provider != CPU]
    accelerator = None if device.split(":")[0] == "cpu" else device
    events: list[OperatorEvent] = []
    assigned = recorded
    # A second session runs the inputs; without inputs, one is made only for a CPU session (an
    # accelerator's session recorded its assignment at open, where this onnxruntime can).
    if feeds is not None or (assigned is None and accelerator is None):
        events, fresh = profiled(path, providers, options, feeds, RUNS)
        assigned = assigned if assigned is not None else fresh
    notes: list[str] = []
    if assigned is not None:
        nodes = assigned
        source = "onnxruntime graph assignment (get_provider_graph_assignment_info)"
    elif events:
        first = [event for event in events if event.run == 0]
        nodes = [(event.device, event.op_type) for event in first]
        source = "onnxruntime profiler node events (this onnxruntime has no assignment API)"
        notes.append("a subgraph that an execution provider compiled counts as one node")
    else:
        return Placement.unknown(
            name,
            device,
            "this onnxruntime has no get_provider_graph_assignment_info, and there were no "
            "inputs to run its profiler on",
        )
    ops = []
    for provider, op_type in nodes:
        where, on = _where(provider, accelerators, device)
        ops.append(PlacedOp(op_type, where, on, provider))
    times: dict[GroupKey, float] | None = None
    reason = None
    if events:
        spent: dict[str, float] = {}
        for event in events:
            if event.run >= 1:  # the first call pays one-time costs
                spent[event.device] = spent.get(event.device, 0.0) + event.duration
        times = {}
        for provider, duration in spent.items():
            where, on = _where(provider, accelerators, device)
            key = GroupKey(where, on, provider, None)
            times[key] = times.get(key, 0.0) + duration
        source += f"; times from the profiler, {RUNS - 1} calls"
    else:
        reason = "time not measured: no inputs were given to run the profiler on"
    return Placement.from_ops(
        name,
        device,
        ops,
        source=source,
        accelerator=accelerator,
        times=times,
        reason=reason,
        notes=notes,
    )
