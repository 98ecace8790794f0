"""HTTP and network failures -> edgeinfer's errors, so that a chain moves on when the server is
the problem and never when the input is.

- unreachable (refused, reset, DNS, timeout, TLS), 5xx, 408, 429, and 401/403 (the server will
  not serve us): ``DeviceError``, the chain's next candidate runs the call;
- another 4xx on ``infer``: the server refused our input, ``InvalidInput`` (no fallback);
- while opening, 404 (no such model) or another 4xx: ``ModelError``.

tritonclient raises ``InferenceServerException`` (with ``status()``, the HTTP code as a string) for
an answer it did not like, and lets socket errors (``OSError`` subclasses) through.
"""

from __future__ import annotations

from edgeinfer.backend import (
    DeviceError,
    EdgeInferError,
    ErrorRule,
    InferenceError,
    InvalidInput,
    ModelError,
    translated,
)

__all__ = ["retryable", "status_of", "translate"]

_NETWORK = (
    ErrorRule(DeviceError, names=("SSLError", "CertificateError")),
    ErrorRule(DeviceError, names=("OSError", "error")),  # socket errors; gevent's socket.error
)
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_NO_RETRY = ("TimeoutError", "timeout", "gaierror", "SSLError", "CertificateError")


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a tritonclient error, ``None`` for a network error."""
    status = getattr(error, "status", None)
    if not callable(status):
        return None
    try:
        return int(status())
    except (TypeError, ValueError):
        return None


def _kind(error: BaseException, status: int, opening: bool) -> type[EdgeInferError]:
    if status in (401, 403, 408, 429) or status >= 500:
        return DeviceError
    if opening or status == 404:
        return ModelError if opening else DeviceError  # at run time: the model was unloaded
    return InvalidInput if 400 <= status < 500 else InferenceError


def _message(error: BaseException, status: int) -> str:
    text = getattr(error, "message", None)
    text = text() if callable(text) else str(error)
    if status in (401, 403):
        return (
            f"HTTP {status}: the server refused our credentials ({text}); set options "
            "{'remote': {'token': ...}} or EDGEINFER_REMOTE_TOKEN"
        )
    return f"HTTP {status}: {text}"


def translate(error: BaseException, what: str, *, opening: bool = False) -> EdgeInferError:
    """The edgeinfer error for ``error`` raised while ``what``, the native one chained."""
    if isinstance(error, EdgeInferError):
        return error
    status = status_of(error)
    if status is None:
        if "certificate" in str(error).lower():
            what += " (the server's TLS certificate did not verify: give its CA with options "
            what += "{'remote': {'ca_file': ...}})"
        return translated(error, f"{what}: {type(error).__name__}", _NETWORK, InferenceError)
    found = _kind(error, status, opening)(f"{what}: {_message(error, status)}")
    found.__cause__ = error
    return found


def retryable(error: BaseException) -> bool:
    """Worth another try after a pause: a refused or reset connection (a server restarting), or
    429/502/503/504. A timeout is not (the call already waited), nor DNS or TLS failures."""
    status = status_of(error)
    if status is not None:
        return status in _RETRY_STATUS
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, OSError) and not names.intersection(_NO_RETRY)
