"""Which precision TensorRT can build, per version, and which precision an engine really has.

TensorRT 10.x (where Jetson stays) builds fp16/bf16 from an fp32 ONNX with the builder flags
``BuilderFlag.FP16``/``BF16`` on a weakly typed network: TensorRT then picks the faster precision
per layer. TensorRT 11 removed those flags and weak typing; every network is strongly typed, so
the ONNX itself must carry the low-precision types. NVIDIA's tool for that is ModelOpt AutoCast
(``modelopt.onnx.autocast.convert_to_mixed_precision``); when it is installed edgeinfer converts
the model in memory before building, otherwise fp16/bf16 on TensorRT 11 is ``ModelIncompatible``
with the command that converts the model once. int8 needs an explicitly quantized model (Q/DQ
nodes) on both versions: edgeinfer does not calibrate.

Which flags exist is read from the installed ``trt.BuilderFlag``, not assumed from the version.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from edgeinfer.backend import ModelIncompatible

__all__ = [
    "PrecisionPlan",
    "autocast_available",
    "engine_precisions",
    "layer_precision",
    "plan_precision",
]

_AUTOCAST_HINT = (
    "pip install 'nvidia-modelopt[onnx]' and edgeinfer converts it when building, or convert "
    "once: python -m modelopt.onnx.autocast --onnx_path model.onnx --low_precision_type {low} "
    "--keep_io_types, and load the converted model"
)


@dataclass(frozen=True, slots=True)
class PrecisionPlan:
    """How to build for one requested precision on the installed TensorRT."""

    requested: str | None
    strongly_typed: bool  # create the network with NetworkDefinitionCreationFlag.STRONGLY_TYPED
    flags: tuple[str, ...]  # BuilderFlag members to set (TensorRT 10.x weak typing)
    clear_tf32: bool  # precision="fp32": no TF32 math either
    autocast: str | None  # "fp16"/"bf16": convert the ONNX with ModelOpt AutoCast first
    needs_qdq: bool  # int8: the model must carry Q/DQ nodes
    summary: str  # what it means, for explain()

    def key(self) -> dict[str, Any]:
        """The parts of the plan that change the engine (for the cache key)."""
        return {
            "precision": self.requested,
            "strongly_typed": self.strongly_typed,
            "flags": list(self.flags),
            "clear_tf32": self.clear_tf32,
            "autocast": self.autocast,
        }


def autocast_available() -> bool:
    """Whether ModelOpt (``nvidia-modelopt``) is installed; imports nothing."""
    try:
        return importlib.util.find_spec("modelopt") is not None
    except (ImportError, ValueError):
        return False


def plan_precision(
    requested: str | None,
    builder_flags: Collection[str],
    major: int,
    has_strong_flag: bool,
    autocast: bool,
) -> PrecisionPlan:
    """The build recipe for ``requested`` given the installed TensorRT's ``BuilderFlag`` names.

    Raises ``ModelIncompatible`` when this TensorRT cannot give that precision for an ONNX model.
    """
    version = f"TensorRT {major}" if major else "this TensorRT"
    if requested in (None, "fp32"):
        strict = requested == "fp32" and "TF32" in builder_flags
        summary = (
            "fp32 (TF32 math disabled)"
            if strict
            else "the model's own types (fp32 for an fp32 ONNX; TensorRT may use TF32 math)"
        )
        return PrecisionPlan(requested, has_strong_flag, (), strict, None, False, summary)
    if requested in ("fp16", "bf16"):
        flag = requested.upper()
        if flag in builder_flags:  # TensorRT 10.x: weak typing with the precision flag
            summary = (
                f"{requested} where TensorRT finds it faster, fp32 elsewhere "
                f"(BuilderFlag.{flag}, {version})"
            )
            return PrecisionPlan(requested, False, (flag,), False, None, False, summary)
        if autocast:
            summary = (
                f"{requested} through ModelOpt AutoCast ({version} builds strongly typed only)"
            )
            return PrecisionPlan(requested, True, (), False, requested, False, summary)
        raise ModelIncompatible(
            f"{version} has no BuilderFlag.{flag}: it builds strongly typed networks only, so the "
            f"ONNX model itself must be {requested}. " + _AUTOCAST_HINT.format(low=requested)
        )
    if requested == "int8":
        summary = "int8 from the model's Q/DQ nodes (explicit quantization)"
        if has_strong_flag or "INT8" not in builder_flags:
            return PrecisionPlan(requested, True, (), False, None, True, summary)
        return PrecisionPlan(requested, False, ("INT8",), False, None, True, summary)
    raise ModelIncompatible(f"TensorRT cannot build precision {requested!r}")


def has_qdq(trt: Any, network: Any) -> bool:
    """Whether a parsed network holds Quantize/Dequantize layers (an explicitly quantized model)."""
    kinds = {trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE}
    return any(network.get_layer(i).type in kinds for i in range(network.num_layers))


# Data type words in the engine inspector's JSON: TensorRT 10.x "Format/Datatype": "Row major
# linear FP16 format", TensorRT 11 "DataType": "Half".
_TYPE_WORDS = (
    (re.compile(r"\b(fp32|float)\b", re.IGNORECASE), "fp32"),
    (re.compile(r"\b(fp16|half)\b", re.IGNORECASE), "fp16"),
    (re.compile(r"\b(bf16|bfloat16)\b", re.IGNORECASE), "bf16"),
    (re.compile(r"\bfp8\b", re.IGNORECASE), "fp8"),
    (re.compile(r"\bint8\b", re.IGNORECASE), "int8"),
    (re.compile(r"\b(fp4|int4)\b", re.IGNORECASE), "4-bit"),
)
_BOOKKEEPING = {"Reformat", "NoOp", "Constant", "Shuffle", "Identity", "Shape"}


def _tensor_types(tensors: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for tensor in tensors:
        if not isinstance(tensor, dict):
            continue
        for key in ("Format/Datatype", "DataType", "Datatype"):
            text = tensor.get(key)
            if isinstance(text, str):
                found.update(label for pattern, label in _TYPE_WORDS if pattern.search(text))
    return found


def engine_precisions(inspector_json: str) -> Counter[str] | None:
    """Count the compute layers by data type in an engine inspector's JSON, or ``None`` when the
    engine does not record it (built without ``ProfilingVerbosity.DETAILED``)."""
    try:
        document = json.loads(inspector_json)
    except ValueError:
        return None
    layers = document.get("Layers") if isinstance(document, dict) else None
    if not isinstance(layers, list):
        return None
    counts: Counter[str] = Counter()
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("LayerType") in _BOOKKEEPING:
            continue
        label = layer_precision(layer)
        if label:
            counts[label] += 1
    return counts or None


def layer_precision(layer: dict[str, Any]) -> str | None:
    """The lowest precision among a layer's inputs and outputs in the inspector's JSON (a layer
    that reads int8 and writes fp32 computes in int8), ``None`` when the JSON does not say."""
    types = _tensor_types([*layer.get("Inputs", ()), *layer.get("Outputs", ())])
    low = [t for t in ("int8", "fp8", "4-bit", "fp16", "bf16") if t in types]
    return low[0] if low else ("fp32" if "fp32" in types else None)


def describe_precisions(counts: Counter[str] | None) -> str | None:
    """``"fp16 (57 layers), fp32 (3 layers)"`` or ``None``."""
    if not counts:
        return None
    return ", ".join(
        f"{label} ({n} layer{'s' if n != 1 else ''})" for label, n in counts.most_common()
    )
