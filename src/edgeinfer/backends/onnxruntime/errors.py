"""ONNX Runtime's exceptions -> edgeinfer's errors, as data for ``edgeinfer.backend``'s
``translate_errors``: its exception classes (``InvalidArgument``, ``Fail``, ``EPFail``...) are
matched by name, so nothing here imports onnxruntime."""

from __future__ import annotations

from edgeinfer.backend import DeviceError, ErrorRule, InvalidInput, ModelIncompatible

__all__ = ["OPEN_RULES", "RUN_RULES", "provider_rule"]

OPEN_RULES = (
    ErrorRule(ModelIncompatible, names=("NotImplemented", "ModelRequiresCompilation")),
    ErrorRule(DeviceError, names=("EPFail", "DeviceReset")),
    # "Fail" messages that mean "a valid model this build cannot run", not "a broken file"
    ErrorRule(
        ModelIncompatible,
        messages=(
            "is not a registered function/op",
            "ValidateOpsetForDomain",
            "is under development",
            "NOT_IMPLEMENTED",
            "Could not find an implementation",
        ),
    ),
)

RUN_RULES = (
    ErrorRule(InvalidInput, names=("InvalidArgument",)),  # the runtime's own input checks
    ErrorRule(DeviceError, names=("EPFail", "DeviceReset")),
)


def provider_rule(provider: str) -> ErrorRule:
    """A failure that names the accelerator's provider: the device, not the file."""
    return ErrorRule(DeviceError, messages=(provider.removesuffix("ExecutionProvider"),))
