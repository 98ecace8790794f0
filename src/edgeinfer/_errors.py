"""The errors edgeinfer raises. Each is also a builtin, so ``except ValueError`` keeps working.

::

    EdgeInferError
     ├── ConfigurationError(ValueError)      bad device string, unknown option
     │    └── UnknownBackend(LookupError)    a backend name nobody registered
     ├── BackendUnavailable(ImportError)     the runtime is not installed or cannot work here
     ├── NoBackendAvailable                  every candidate failed; ``.attempts`` says why
     ├── ModelError(ValueError)              unreadable, corrupt or unsafe model file
     │    └── ModelIncompatible              valid, but not for this runtime/device: falls back
     ├── InvalidInput(ValueError)            the caller's input is wrong; never falls back
     ├── DeviceError(RuntimeError)           the accelerator failed or vanished: falls back
     └── InferenceError(RuntimeError)        the runtime failed on valid input: falls back
          └── OutOfMemory(MemoryError)       the host or the device ran out of memory

Errors that come from a runtime keep the native exception chained as ``__cause__``: on boards it is
often a GLIBC or ``.so`` failure that only the original message explains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeinfer._types import Attempt

__all__ = [
    "BackendUnavailable",
    "ConfigurationError",
    "DeviceError",
    "EdgeInferError",
    "InferenceError",
    "InvalidInput",
    "ModelError",
    "ModelIncompatible",
    "NoBackendAvailable",
    "OutOfMemory",
    "UnknownBackend",
]


class EdgeInferError(Exception):
    """Base class of every error edgeinfer raises on purpose."""


class ConfigurationError(EdgeInferError, ValueError):
    """An argument to edgeinfer is wrong: a bad device string, an unknown option, a bad chain."""


class UnknownBackend(ConfigurationError, LookupError):
    """A backend name that is neither built in nor registered."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"unknown backend {name!r}; known backends: {', '.join(self.known)}. "
            "Third-party backends register through edgeinfer.register_backend() or the "
            "'edgeinfer.backends' entry-point group."
        )


class BackendUnavailable(EdgeInferError, ImportError):
    """A backend cannot run here: its runtime is missing, broken, or lacks the hardware.

    ``reason`` says what is wrong, ``hint`` how to fix it (often a pip command).
    """

    def __init__(self, backend: str, reason: str, hint: str | None = None) -> None:
        self.backend = backend
        self.reason = reason
        self.hint = hint
        message = f"backend {backend!r} is not available: {reason}"
        if hint:
            message += f". Fix: {hint}"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.backend, self.reason, self.hint))


class NoBackendAvailable(EdgeInferError):
    """No candidate of the plan could open the model. ``attempts`` lists each one and why."""

    def __init__(self, message: str, attempts: Sequence[Attempt]) -> None:
        self.attempts = tuple(attempts)
        lines = [message]
        lines.extend(f"  - {attempt.describe()}" for attempt in self.attempts)
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.args[0].split("\n", 1)[0], self.attempts))


class ModelError(EdgeInferError, ValueError):
    """The model file is unreadable, corrupt, of an unknown format, or unsafe to open."""


class ModelIncompatible(ModelError):
    """The model is valid but this runtime or device cannot run it; the next candidate may."""


class InvalidInput(EdgeInferError, ValueError):
    """The inputs given to ``Model.run`` do not match the model. Never triggers a fallback."""


class DeviceError(EdgeInferError, RuntimeError):
    """The accelerator failed, vanished or timed out."""


class InferenceError(EdgeInferError, RuntimeError):
    """The runtime failed while running valid inputs."""


class OutOfMemory(InferenceError, MemoryError):
    """The runtime could not allocate memory, on the host or on the accelerator. Like any
    ``InferenceError`` it moves a load or a call to the next candidate, which may need less;
    a call that exhausts every candidate is blamed on its input (too large for this machine).
    """


def _set_public_module() -> None:
    """Make tracebacks read ``edgeinfer.ModelError`` rather than ``edgeinfer._errors...``."""
    for name in __all__:
        globals()[name].__module__ = "edgeinfer"


_set_public_module()
