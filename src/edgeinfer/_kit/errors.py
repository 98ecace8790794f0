"""Native errors -> edgeinfer's error tree, in one place for every backend (like httpx's
``map_exceptions``): a backend lists ``ErrorRule``s, most specific first, and wraps the calls
into its runtime in ``translate_errors`` (or calls ``translated`` in a hot path's ``except``).

Rules match a native error by its class name (or a base class's name: runtimes' exception
classes are often not importable without importing the runtime) and/or by text in its message,
since several runtimes raise one ``RuntimeError`` for everything. Out-of-memory is recognised
for every backend, before its own rules. The native error is always chained (``from``): on
boards it is often a GLIBC or ``.so`` failure that only the original message explains.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from edgeinfer._errors import EdgeInferError, InferenceError, OutOfMemory

__all__ = ["OUT_OF_MEMORY", "ErrorRule", "translate_errors", "translated"]


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """Native errors that become ``error``.

    ``names``: native exception class names; any class in the error's MRO may match. ``messages``:
    substrings of the message; any may match. A rule with both needs one of each; a rule with
    neither matches everything (a catch-all at the end of a list).
    """

    error: type[EdgeInferError]
    names: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()

    def matches(self, native: BaseException, message: str) -> bool:
        if self.names and not any(cls.__name__ in self.names for cls in type(native).__mro__):
            return False
        return not self.messages or any(text in message for text in self.messages)


#: Allocation failures, whatever the runtime calls them.
OUT_OF_MEMORY = ErrorRule(
    OutOfMemory,
    messages=(
        "bad_alloc",
        "out of memory",
        "Out of memory",
        "OutOfMemory",
        "Failed to allocate",
        "failed to allocate",
        "Cannot allocate memory",
        "cudaErrorMemoryAllocation",
        "CUDA_ERROR_OUT_OF_MEMORY",
    ),
)
_MEMORY_ERROR = ErrorRule(OutOfMemory, names=("MemoryError",))


def translated(
    native: BaseException,
    what: str,
    rules: Sequence[ErrorRule] = (),
    default: type[EdgeInferError] = InferenceError,
) -> EdgeInferError:
    """The edgeinfer error for ``native``, its message ``"<what>: <native message>"``, the native
    error set as its cause. An edgeinfer error is returned unchanged."""
    if isinstance(native, EdgeInferError):
        return native
    message = str(native).strip() or type(native).__name__
    kind = default
    for rule in (_MEMORY_ERROR, OUT_OF_MEMORY, *rules):
        if rule.matches(native, message):
            kind = rule.error
            break
    if kind is OutOfMemory and "memory" not in message.lower():
        message = f"out of memory ({type(native).__name__}: {message})"
    error = kind(f"{what}: {message}")
    error.__cause__ = native
    return error


@contextlib.contextmanager
def translate_errors(
    what: str,
    rules: Sequence[ErrorRule] = (),
    default: type[EdgeInferError] = InferenceError,
) -> Iterator[None]:
    """Raise any non-edgeinfer exception of the block as ``translated(...)``, chained.

    ``what`` starts the message (``"onnxruntime cannot open model.onnx"``). ``KeyboardInterrupt``
    and other ``BaseException``s pass through untouched.
    """
    try:
        yield
    except EdgeInferError:
        raise
    except Exception as native:
        raise translated(native, what, rules, default) from native
