"""LiteRT's errors -> edgeinfer's, as data for ``edgeinfer.backend``'s ``translate_errors`` /
``translated``. The interpreter raises ``ValueError`` and ``RuntimeError`` for nearly everything,
with the runtime's own words in the message, so messages decide. Out-of-memory is the kit's rule,
checked before these.
"""

from __future__ import annotations

from edgeinfer.backend import ErrorRule, InvalidInput, ModelIncompatible

__all__ = ["OPEN_RULES", "RESIZE_RULES", "RUN_RULES", "with_native_output"]

# A valid model with operators this build of the runtime does not have: not a broken file.
OPEN_RULES = (
    ErrorRule(
        ModelIncompatible,
        messages=(
            "unresolved custom op",
            "Didn't find op for builtin opcode",
            "Encountered unresolved",
            "Op builtin_code out of range",
        ),
    ),
)

# ``set_tensor`` refusing the caller's array ("Cannot set tensor: Dimension mismatch. Got 9 but
# expected 8 for dimension 1 of input 0.", "Cannot set tensor: Got value of type FLOAT64 but
# expected type FLOAT32 ..."): the input, never the runtime. Anything else in ``invoke`` is the
# runtime's failure on valid input (the backend's default error).
RUN_RULES = (ErrorRule(InvalidInput, messages=("Cannot set tensor", "Dimension mismatch")),)

# ``resize_tensor_input`` + ``allocate_tensors`` for the shapes of this call's inputs: when the
# graph cannot take them (shapes that do not broadcast, a reshape that does not fit: "Node number
# 1 (ADD) failed to prepare"), the caller's shapes are the cause. Out-of-memory stays OutOfMemory.
RESIZE_RULES = (ErrorRule(InvalidInput),)


def with_native_output(error: Exception, said: str) -> Exception:
    """``error`` with what the runtime wrote on stderr appended to its message (the rules then
    see both); same class where it can be built from a message, the original as its cause."""
    text = f"{error} [runtime said: {said}]"
    try:
        combined: Exception = type(error)(text)
    except Exception:
        combined = RuntimeError(text)
    combined.__cause__ = error
    return combined
