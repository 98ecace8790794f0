"""OpenVINO's errors -> edgeinfer's: OpenVINO raises ``RuntimeError`` for nearly everything, so
its messages decide (data for ``edgeinfer.backend.translate_errors``)."""

from __future__ import annotations

from edgeinfer.backend import DeviceError, ErrorRule, InvalidInput, ModelIncompatible

__all__ = ["COMPILE_RULES", "READ_RULES", "RUN_RULES"]

# A valid model with operators OpenVINO cannot convert, not a broken file.
READ_RULES = (
    ErrorRule(
        ModelIncompatible,
        messages=("No conversion rule found", "OpConversionFailure", "is not supported"),
    ),
)
COMPILE_RULES = (
    ErrorRule(
        ModelIncompatible,
        messages=("Cannot create", "not supported", "Unsupported", "is not implemented"),
    ),
    ErrorRule(DeviceError, messages=("Cannot load library", "plugin", "Plugin")),
    ErrorRule(ModelIncompatible),  # a compile failure is this device's limit, not the file's
)
# The input's shape or values, as OpenVINO's own checks and shape inference say it.
RUN_RULES = (
    ErrorRule(
        InvalidInput,
        messages=(
            "are incompatible",
            "Can't set the input tensor",
            "Can't set input blob",
            "shape inference",
            "Shape inference",
            "doesn't match",
            "Kernel after dilation",
            "larger than the data shape",
        ),
    ),
)
