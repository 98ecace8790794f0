"""Where and at which precision OpenVINO runs each layer: the compiled model's runtime model.

``CompiledModel.get_runtime_model()`` is the executed graph: one node per primitive the plugin
runs (after its fusions: a Convolution node may hold the Relu after it), whose ``rt_info`` carries
the keys of ``openvino/runtime/exec_model_info.hpp``: ``layerType``, ``runtimePrecision`` (the
precision it computes in), ``primitiveType`` (the kernel, e.g. ``jit_avx2_I8``),
``originalLayersNames``. An OpenVINO device compiles the whole model, so every layer runs on the
device the compiled model reports in ``EXECUTION_DEVICES``; what differs between layers is the
precision (an int8 convolution beside fp32 softmax, bf16 on CPUs with AMX). With inputs, a copy
compiled with ``PERF_COUNT`` is run and its ``profiling_info`` times each layer by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from edgeinfer.backend import GroupKey, PlacedOp, Placement
from edgeinfer.backends.openvino.config import edgeinfer_precision

__all__ = ["CALLS", "NOT_LAYERS", "layers", "placement_report"]

#: Runtime-model nodes that are no computation: the model's inputs, outputs and constants.
NOT_LAYERS = frozenset({"Input", "Output", "Const"})
#: Timed calls for the time shares (after one untimed call).
CALLS = 5
_MORE = {"u8": "uint8", "i32": "int32", "i64": "int64", "boolean": "bool"}


def layers(runtime_model: Any) -> list[tuple[str, str, str | None]]:
    """``(name, layerType, precision)`` of each executed layer, in execution order."""
    found = []
    for node in runtime_model.get_ordered_ops():
        info = node.get_rt_info()
        kind = info["layerType"].astype(str) if "layerType" in info else node.get_type_name()
        if kind in NOT_LAYERS:
            continue
        precision = None
        if "runtimePrecision" in info:
            text = info["runtimePrecision"].astype(str)
            precision = _MORE.get(text) or edgeinfer_precision(text)
        found.append((node.get_friendly_name(), kind, precision))
    return found


def _timed(compiled: Any, inputs: Mapping[int, np.ndarray], calls: int) -> dict[str, float]:
    """Microseconds per layer name from ``profiling_info``, summed over ``calls`` calls after a
    first one (which pays one-time costs)."""
    request = compiled.create_infer_request()
    request.infer(dict(inputs))
    spent: dict[str, float] = {}
    for _ in range(calls):
        request.infer(dict(inputs))
        for info in request.profiling_info:
            if not str(info.status).endswith("NOT_RUN"):
                seconds = info.real_time.total_seconds()
                spent[info.node_name] = spent.get(info.node_name, 0.0) + seconds * 1e6
    return spent


def placement_report(
    name: str,
    device: str,
    compiled: Any,
    profiled: Callable[[], Any] | None,
    feeds: Mapping[int, np.ndarray] | None,
) -> Placement:
    """The placement of ``compiled`` (served on ``device``); with ``feeds`` (by input index) and
    ``profiled`` (compiles a copy with ``PERF_COUNT``), each group's share of the time."""
    executing = [str(name) for name in compiled.get_property("EXECUTION_DEVICES")]
    if len(executing) != 1:
        return Placement.unknown(
            name,
            device,
            f"OpenVINO executes on {', '.join(executing) or 'no device'} at once (AUTO while "
            "the accelerator compiles): which layer runs where is not reported; ask again",
        )
    plugin = executing[0]
    on_cpu = plugin.split(".")[0] == "CPU"
    where, on = ("cpu", "cpu") if on_cpu else ("accelerator", device)
    executor = f"OpenVINO {plugin}"
    times: dict[GroupKey, float] | None = None
    reason = None
    source = "OpenVINO runtime model (get_runtime_model: layerType, runtimePrecision)"
    if feeds is not None and profiled is not None:
        copy = profiled()
        spent = _timed(copy, feeds, CALLS)
        found = layers(copy.get_runtime_model())
        times = {}
        for layer, _, precision in found:
            key = GroupKey(where, on, executor, precision)
            times[key] = times.get(key, 0.0) + spent.get(layer, 0.0)
        source += f"; times from its performance counters (PERF_COUNT), {CALLS} calls"
    else:
        found = layers(compiled.get_runtime_model())
        reason = "time not measured: no inputs were given to run the performance counters on"
    ops = [PlacedOp(kind, where, on, executor, precision) for _, kind, precision in found]
    accelerator = None if on_cpu else device
    return Placement.from_ops(
        name, device, ops, source=source, accelerator=accelerator, times=times, reason=reason
    )
