"""TVM's failures -> edgeinfer's errors. TVM raises ``RuntimeError``/``ValueError``/``TypeError``
from C++ checks (``Check failed: ...``), with the Relax VM's parameter context in the message."""

from __future__ import annotations

from edgeinfer.backend import ErrorRule, InvalidInput, ModelError, ModelIncompatible

__all__ = ["COMPILE_RULES", "LOAD_RULES", "RUN_RULES"]

#: The VM checks each argument against the function's signature: a shape or dtype that the
#: model cannot take is the caller's input, not a fault of the backend.
RUN_RULES = (
    ErrorRule(
        InvalidInput,
        messages=(
            "match_cast error",
            "expect Tensor with dtype",
            "ErrorContext(fn=main, loc=param",
        ),
    ),
)

#: The ONNX frontend and the compiler: an operator or attribute TVM does not support makes the
#: model incompatible with this backend (another backend may run it).
COMPILE_RULES = (
    ErrorRule(ModelError, names=("DecodeError",)),
    ErrorRule(ModelIncompatible),
)

#: ``tvm.runtime.load_module`` on a file that is not a module exported by TVM.
LOAD_RULES = (ErrorRule(ModelError),)
