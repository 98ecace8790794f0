"""Keep what quantisers print (native stderr, onnxruntime's root-logger advice) from the user:
it is logged at DEBUG on the ``edgeinfer`` logger instead."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from edgeinfer._kit.native_stderr import captured_native_stderr

__all__ = ["quiet"]

_log = logging.getLogger("edgeinfer")


@contextlib.contextmanager
def quiet(what: str) -> Iterator[None]:
    """Keep native stderr and onnxruntime's root-logger records away from the user."""

    def divert(record: logging.LogRecord) -> bool:
        if "onnxruntime" not in record.pathname:
            return True
        _log.debug("%s: %s", what, record.getMessage())
        return False

    root = logging.getLogger()
    placeholder = None
    if not root.handlers:  # logging.warning() would call basicConfig() and print to stderr
        placeholder = logging.NullHandler()
        root.addHandler(placeholder)
    root.addFilter(divert)
    try:
        with captured_native_stderr() as native:
            yield
    finally:
        root.removeFilter(divert)
        if placeholder is not None:
            root.removeHandler(placeholder)
        for line in native.lines():
            _log.debug("%s: %s", what, line)
