"""Where a TFLite model's inputs and outputs live in the interpreter, under which names, and how
``float_io`` converts them. Models with a signature are seen through it (its names, in the graph's
order); others through the graph's own tensor names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeinfer.backend import ConfigurationError, ModelIncompatible, TensorSpec
from edgeinfer.backends.litert.runtime import spec_of

__all__ = ["Io", "read_io"]


class Io:
    """Where each input and output lives in the interpreter, and how ``float_io`` converts it."""

    def __init__(
        self,
        inputs: list[tuple[str, int, TensorSpec]],
        outputs: list[tuple[str, int, TensorSpec]],
        float_io: bool,
    ) -> None:
        self.input_names = [name for name, _, _ in inputs]
        self.input_indices = [index for _, index, _ in inputs]
        self.outputs = [(name, index) for name, index, _ in outputs]
        self.native_inputs = tuple(spec for _, _, spec in inputs)
        self.native_outputs = tuple(spec for _, _, spec in outputs)
        self.quantize_in = {s.name: s for s in self.native_inputs if float_io and is_quantized(s)}
        self.dequantize_out = {
            s.name: s for s in self.native_outputs if float_io and is_quantized(s)
        }
        self.inputs = tuple(
            float_spec(s) if s.name in self.quantize_in else s for s in self.native_inputs
        )
        self.outputs_specs = tuple(
            float_spec(s) if s.name in self.dequantize_out else s for s in self.native_outputs
        )
        # The common case, served by a short path: one input, one output, nothing to convert.
        self.simple: tuple[str, int, str, int] | None = None
        if (
            len(inputs) == 1
            and len(outputs) == 1
            and not self.quantize_in
            and not self.dequantize_out
        ):
            self.simple = (inputs[0][0], inputs[0][1], outputs[0][0], outputs[0][1])


def is_quantized(spec: TensorSpec) -> bool:
    """An integer tensor that carries quantisation parameters: what ``float_io`` converts."""
    return spec.quantization is not None and spec.dtype.kind in "iu"


def float_spec(spec: TensorSpec) -> TensorSpec:
    """The spec a caller sees under ``float_io``: float32, same name and shape."""
    return TensorSpec(spec.name, spec.shape, np.dtype(np.float32), None)


def read_io(interpreter: Any, extra: Mapping[str, Any], float_io: bool) -> Io:
    """The inputs and outputs of an allocated interpreter, through its signature if it has one."""
    signatures = (
        interpreter.get_signature_list() if hasattr(interpreter, "get_signature_list") else {}
    )
    main_in = {d["index"]: d for d in interpreter.get_input_details()}
    main_out = {d["index"]: d for d in interpreter.get_output_details()}
    key = _signature_key(signatures, extra.get("signature"))
    if key is None:
        inputs = [(d["name"], d["index"], spec_of(d["name"], d)) for d in main_in.values()]
        outputs = [(d["name"], d["index"], spec_of(d["name"], d)) for d in main_out.values()]
        return Io(inputs, outputs, float_io)
    runner = interpreter.get_signature_runner(key)
    sig_in, sig_out = runner.get_input_details(), runner.get_output_details()
    in_main = {d["index"] for d in sig_in.values()} <= set(main_in)
    if not in_main or not {d["index"] for d in sig_out.values()} <= set(main_out):
        raise ModelIncompatible(
            f"signature {key!r} is not the model's main graph; edgeinfer "
            "runs the main graph's signature only"
        )
    # Signature names, in the graph's own order (the signature lists them alphabetically).
    in_order, out_order = list(main_in), list(main_out)
    inputs = sorted(
        ((name, d["index"], spec_of(name, d)) for name, d in sig_in.items()),
        key=lambda item: in_order.index(item[1]),
    )
    outputs = sorted(
        ((name, d["index"], spec_of(name, d)) for name, d in sig_out.items()),
        key=lambda item: out_order.index(item[1]),
    )
    return Io(inputs, outputs, float_io)


def _signature_key(signatures: Mapping[str, Any], wanted: Any) -> str | None:
    """The signature to run: the one asked for, ``serving_default``, the only one, or none."""
    if wanted is not None:
        if wanted not in signatures:
            raise ConfigurationError(
                f"no signature {wanted!r} in the model; it has: {', '.join(signatures) or 'none'}"
            )
        return str(wanted)
    if not signatures:
        return None
    if "serving_default" in signatures:
        return "serving_default"
    if len(signatures) == 1:
        return next(iter(signatures))
    raise ConfigurationError(
        f"the model has several signatures ({', '.join(signatures)}); choose one with "
        "options={'litert': {'signature': NAME}}"
    )
