"""The Edge TPU's errors -> edgeinfer's (data for ``edgeinfer.backend``'s ``translated``): LiteRT's
rules, plus what libedgetpu says when it was built for another TensorFlow Lite than the
interpreter's (see ``pairing.py``). A failure while running is the device's (``DeviceError``,
the backend's default), so the next candidate of the chain runs.
"""

from __future__ import annotations

from edgeinfer.backend import DeviceError, ErrorRule
from edgeinfer.backends.litert.errors import OPEN_RULES as LITERT_OPEN_RULES
from edgeinfer.backends.litert.errors import RUN_RULES as LITERT_RUN_RULES

__all__ = ["MISMATCH_MESSAGES", "OPEN_RULES", "RUN_RULES", "is_mismatch"]

# libedgetpu's custom op reading TFLite's structs at another build's offsets: "Internal:
# Unsupported data type in custom op handler: 24348008Node number 2 (EdgeTpuDelegateForCustomOp)
# failed to prepare." (google-coral/edgetpu#214, #259; tflite/custom_op.cc SizeOfDataType).
MISMATCH_MESSAGES = (
    "Unsupported data type in custom op handler",
    "Unsupported layer data type in custom op handler",
)

OPEN_RULES = (ErrorRule(DeviceError, messages=MISMATCH_MESSAGES), *LITERT_OPEN_RULES)
RUN_RULES = (ErrorRule(DeviceError, messages=MISMATCH_MESSAGES), *LITERT_RUN_RULES)


def is_mismatch(error: BaseException) -> bool:
    """Whether ``error`` (or what it chains) is libedgetpu's build-mismatch message."""
    seen: BaseException | None = error
    while seen is not None:
        if any(text in str(seen) for text in MISMATCH_MESSAGES):
            return True
        seen = seen.__cause__
    return False
