"""The recipes ``edgeinfer.optimize`` knows, as data: what each makes, what it needs, and when it
applies. The bench's reference workloads quantise through the same functions
(``_recipes.onnx.onnx_int8``, ``_recipes.tflite.tflite_int8``).

A recipe that does not apply says why, with the kind of reason: ``package`` (a package is
missing: the reason is a pip command), ``model`` (this model cannot take it: already quantised,
nothing to quantise), ``target`` (it does not suit the backend or device measured), ``data``
(it calibrates, and no calibration data was given).
"""

from __future__ import annotations

import importlib.util
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RECIPES", "Recipe", "Skip", "Source", "Target", "recipes_for"]

Feeds = Mapping[str, np.ndarray]
Why = tuple[str, str, "str | None"]  # (kind, reason, hint): why a recipe does not apply


class Source:
    """The float model being optimised: its file, format, input names, and (ONNX) its graph,
    read once and copied for each recipe (some converters edit the graph they are given)."""

    def __init__(self, path: Path, fmt: str, input_names: Sequence[str], quantised: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.input_names = tuple(input_names)
        self.quantised = quantised  # the original's inputs or outputs carry quantisation
        self._proto: Any = None

    def proto(self) -> Any:
        """The ONNX graph as read (external data loaded), to inspect, never to edit."""
        if self._proto is None:
            import onnx

            self._proto = onnx.load(str(self.path))
        return self._proto

    def onnx(self) -> Any:
        """A fresh copy of the ONNX graph, for a recipe to convert."""
        import onnx

        copy = onnx.ModelProto()
        copy.CopyFrom(self.proto())
        return copy

    def op_types(self) -> set[str]:
        return {node.op_type for node in self.proto().graph.node}


@dataclass(frozen=True, slots=True)
class Target:
    """Where the variants are measured: a backend, a device kind, the machine's architecture."""

    backend: str
    device: str
    machine: str = platform.machine().lower()


@dataclass(frozen=True, slots=True)
class Skip:
    """A recipe that did not run here, and why (``kind``: package, model, target or data);
    ``hint``: how to make it run (a pip command)."""

    recipe: str
    precision: str
    reason: str
    kind: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Recipe:
    """One way to make a variant. ``suffix`` names its file (``model.<suffix>.onnx``);
    ``calibrated``: it needs calibration samples; ``needs``: (module, pip package) pairs;
    ``check(source, target)`` returns ``(kind, reason, hint)`` when it does not apply;
    ``make(source, target, samples, output)`` writes the variant to ``output``."""

    name: str
    precision: str
    fmt: str
    suffix: str
    summary: str
    calibrated: bool
    needs: tuple[tuple[str, str], ...]
    check: Callable[[Source, Target], Why | None]
    make: Callable[[Source, Target, Sequence[Feeds], Path], None]
    output_suffix: str = ""  # the variant's file suffix, when not the source's
    backends: tuple[str, ...] = ()  # the backends it is for (empty: any that reads the format)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# --- ONNX -------------------------------------------------------------------------------------
def _onnx_model_check(source: Source) -> Why | None:
    from edgeinfer.optimize._recipes.onnx import QUANTISED_OPS, WEIGHT_OPS

    ops = source.op_types()
    marks = sorted(ops & QUANTISED_OPS)
    if marks:
        return "model", f"already quantised (it holds {', '.join(marks)})", None
    if not ops & WEIGHT_OPS:
        return "model", "nothing to quantise: no Conv, ConvTranspose, MatMul or Gemm", None
    return None


def _static_check(source: Source, target: Target) -> Why | None:
    return _onnx_model_check(source)


def _u8_check(source: Source, target: Target) -> Why | None:
    if target.device != "cpu":
        return "target", "for ONNX Runtime on a CPU", None
    if target.machine not in ("x86_64", "amd64", "i386", "i686"):
        return "target", f"for x86 CPUs (this one is {target.machine})", None
    return _onnx_model_check(source)


def _dynamic_check(source: Source, target: Target) -> Why | None:
    from edgeinfer.optimize._recipes.onnx import weights_by_op

    found = _onnx_model_check(source)
    if found is not None:
        return found
    weights = weights_by_op(source.proto())
    dense = weights.get("MatMul", 0) + weights.get("Gemm", 0)
    conv = weights.get("Conv", 0) + weights.get("ConvTranspose", 0)
    if dense <= conv:
        share = conv / max(conv + dense, 1)
        return (
            "model",
            f"a convolutional network ({share:.0%} of its weights in convolutions): dynamic int8 "
            "quantises MatMul/Gemm only (ONNX Runtime runs dynamic convolutions as ConvInteger, "
            "measured about 10x slower on MobileNetV2); static int8 suits it",
            None,
        )
    return None


def _fp16_check(source: Source, target: Target) -> Why | None:
    from edgeinfer.optimize._recipes.onnx import QUANTISED_OPS

    marks = sorted(source.op_types() & QUANTISED_OPS)
    if marks:
        return "model", f"already quantised (it holds {', '.join(marks)})", None
    import onnx

    initializers = source.proto().graph.initializer
    if not any(t.data_type == onnx.TensorProto.FLOAT for t in initializers):
        return "model", "no float32 weights to convert", None
    return None


def _make_static(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.onnx import onnx_int8

    out.write_bytes(onnx_int8(source.onnx(), samples))


def _make_static_u8(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.onnx import onnx_int8

    out.write_bytes(onnx_int8(source.onnx(), samples, activations="uint8", reduce_range=True))


def _make_dynamic(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.onnx import onnx_dynamic_int8

    out.write_bytes(onnx_dynamic_int8(source.onnx()))


def _make_fp16(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.onnx import onnx_fp16

    out.write_bytes(onnx_fp16(source.onnx()))


# --- OpenVINO ---------------------------------------------------------------------------------
def _nncf_check(source: Source, target: Target) -> Why | None:
    return _onnx_model_check(source)


def _make_nncf(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.openvino import nncf_int8

    nncf_int8(source.path, samples, out, target.device)


# --- TFLite -----------------------------------------------------------------------------------
def _tflite_int8_check(source: Source, target: Target) -> Why | None:
    if source.quantised:
        return "model", "already quantised (its inputs or outputs are integer)", None
    return None


def _tflite_fp16_check(source: Source, target: Target) -> Why | None:
    if not _installed("tensorflow"):
        return (
            "package",
            "float16 TFLite needs TensorFlow's converter, not installed here",
            "pip install tensorflow",
        )
    return (
        "target",
        "edgeinfer does not drive TensorFlow's converter yet: convert the source model with "
        "tf.lite.TFLiteConverter, optimizations=[tf.lite.Optimize.DEFAULT], "
        "target_spec.supported_types=[tf.float16]",
        None,
    )


def _make_tflite_int8(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    from edgeinfer.optimize._recipes.tflite import tflite_int8

    ordered = [[feed[name] for name in source.input_names] for feed in samples]
    out.write_bytes(tflite_int8(source.path.read_bytes(), ordered, float_io=True))


def _never(source: Source, target: Target, samples: Sequence[Feeds], out: Path) -> None:
    raise AssertionError("a recipe that never applies was asked to run")


_ORT = (("onnx", "onnx"), ("onnxruntime", "onnxruntime"))
_LITERT = (("ai_edge_litert", "ai-edge-litert"),)

RECIPES: tuple[Recipe, ...] = (
    Recipe("onnx-int8-qdq", "int8", "onnx", "int8",
           "static QDQ, per-channel int8 weights, int8 activations (onnxruntime quantize_static)",
           True, _ORT, _static_check, _make_static),
    Recipe("onnx-int8-qdq-u8", "int8", "onnx", "int8-u8",
           "static QDQ, per-channel 7-bit weights, uint8 activations (onnxruntime's advice for "
           "x86 CPUs)",
           True, _ORT, _u8_check, _make_static_u8, backends=("onnxruntime",)),
    Recipe("onnx-int8-dynamic", "int8", "onnx", "int8-dynamic",
           "dynamic int8 of MatMul/Gemm weights (onnxruntime quantize_dynamic)",
           False, _ORT, _dynamic_check, _make_dynamic),
    Recipe("onnx-fp16", "fp16", "onnx", "fp16",
           "float16 weights and compute, float32 inputs and outputs (onnxruntime float16.py)",
           False, _ORT, _fp16_check, _make_fp16),
    Recipe("openvino-nncf-int8", "int8", "onnx", "int8-nncf",
           "OpenVINO IR quantised by NNCF (nncf.quantize)",
           True, (("openvino", "openvino"), ("nncf", "nncf")), _nncf_check, _make_nncf,
           output_suffix=".xml", backends=("openvino",)),
    Recipe("tflite-int8", "int8", "tflite", "int8",
           "full int8 (LiteRT calibrator), per-channel weights, float32 inputs and outputs",
           True, _LITERT, _tflite_int8_check, _make_tflite_int8),
    Recipe("tflite-fp16", "fp16", "tflite", "fp16",
           "float16 weights (TensorFlow's converter)", False, (), _tflite_fp16_check, _never),
)  # fmt: skip


def recipes_for(
    source: Source, target: Target, precision: str, calibrated: bool
) -> tuple[list[Recipe], list[Skip]]:
    """The recipes to run for ``precision`` (``"int8"``, ``"fp16"`` or ``"auto"``), and those
    that do not apply here with the reason. ``calibrated``: calibration data was given."""
    run: list[Recipe] = []
    skipped: list[Skip] = []
    for recipe in RECIPES:
        if recipe.fmt != source.fmt or precision not in ("auto", recipe.precision):
            continue
        lacking = [pip for module, pip in recipe.needs if not _installed(module)]
        found: Why | None = None
        if recipe.backends and target.backend not in recipe.backends:
            wanted = " or ".join(recipe.backends)
            found = ("target", f"for the {wanted} backend (backend={wanted!r})", None)
        elif lacking:
            found = (
                "package",
                f"needs {', '.join(lacking)}, not installed here",
                f"pip install {' '.join(lacking)}",
            )
        if found is None:
            found = recipe.check(source, target)
        if found is None and recipe.calibrated and not calibrated:
            found = ("data", "it calibrates: give calibration=... (representative inputs)", None)
        if found is None:
            run.append(recipe)
        else:
            skipped.append(Skip(recipe.name, recipe.precision, found[1], found[0], found[2]))
    return run, skipped
