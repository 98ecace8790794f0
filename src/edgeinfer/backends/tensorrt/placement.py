"""An engine's layers as TensorRT's engine inspector lists them (``IEngineInspector``).

TensorRT builds the whole network for the GPU (or a DLA core): a layer it cannot run fails the
build, there is no CPU fallback inside an engine. What the inspector adds is
each layer after TensorRT's fusions (``"conv1 + relu"``), its type (``ParameterType``, else
``LayerType``) and, for engines built with ``ProfilingVerbosity.DETAILED`` (edgeinfer builds them
so), its tensors' data types, from which each layer's precision is read as
``precision.layer_precision`` reads it. The JSON's shape follows TensorRT's own
trt-engine-explorer (``trex/parser.py``, ``trex/layer.py``): ``{"Layers": [...], "Bindings":
[...]}``, layers of the second and later optimization profiles carrying a ``[profile N]`` suffix,
``signal``/``wait`` layers that are synchronisation, not computation.

Unverified: written against TensorRT 10's Python API and tested with stand-ins of the JSON only;
no GPU ran it here (docs/placement.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from edgeinfer.backend import PlacedOp, Placement
from edgeinfer.backends.tensorrt.precision import layer_precision

__all__ = ["UNVERIFIED", "inspector_json", "placement_report"]

UNVERIFIED = "unverified: written against TensorRT 10's engine inspector, not run on a GPU here"
_LATER_PROFILE = re.compile(r"\[profile +[1-9][0-9]*\]")
_NOT_COMPUTE = {"signal", "wait"}


def inspector_json(trt: Any, engine: Any, context: Any) -> str | None:
    """The engine's layers as JSON, with ``context``'s shapes; ``None`` where the runtime has no
    inspector (lean runtimes) or the engine refuses."""
    try:
        inspector = engine.create_engine_inspector()
        if context is not None:
            inspector.execution_context = context
        return str(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    except Exception:
        return None


def placement_report(name: str, device: str, text: str | None) -> Placement:
    """The placement of an engine whose inspector said ``text`` (``None``: it said nothing)."""
    try:
        document = json.loads(text) if text is not None else None
    except ValueError:
        document = None
    layers = document.get("Layers") if isinstance(document, dict) else None
    if not isinstance(layers, list):
        return Placement.unknown(name, device, "the engine inspector lists no layers")
    ops = []
    for layer in layers:
        if not isinstance(layer, dict):  # built without DETAILED verbosity: names only
            if not _LATER_PROFILE.search(str(layer)):
                ops.append(PlacedOp("(type not recorded)", "accelerator", device, "TensorRT"))
            continue
        if _LATER_PROFILE.search(str(layer.get("Name", ""))):
            continue  # the same layers again, for another optimization profile
        if layer.get("LayerType") in _NOT_COMPUTE:
            continue
        kind = str(layer.get("ParameterType") or layer.get("LayerType") or "?")
        ops.append(PlacedOp(kind, "accelerator", device, "TensorRT", layer_precision(layer)))
    return Placement.from_ops(
        name,
        device,
        ops,
        source="TensorRT engine inspector (IEngineInspector.get_engine_information, JSON)",
        accelerator=device,
        reason="time not measured: edgeinfer reads no per-layer profile from TensorRT",
        notes=(
            "TensorRT builds every layer of an engine for the GPU (or for a DLA core, in an "
            "engine built for one; not told apart here): a layer it cannot run fails the "
            "build instead of falling back to the CPU",
            UNVERIFIED,
        ),
    )
