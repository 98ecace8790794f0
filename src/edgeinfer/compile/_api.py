"""``edgeinfer.compile_model``: compile a model ahead of time for one backend and device, so
that the device loads a ready artefact instead of compiling at start-up."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeinfer._errors import BackendUnavailable, ConfigurationError
from edgeinfer._kit.contract import PRECISIONS, OpenOptions
from edgeinfer._planning.devices import parse_device
from edgeinfer._planning.registry import backend_class, install_hint, names, safe_availability

__all__ = ["compile_model"]

_log = logging.getLogger("edgeinfer.compile")


def compile_model(
    model: str | os.PathLike[str],
    backend: str = "tvm",
    *,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    options: Mapping[str, Any] | None = None,
    precision: str | None = None,
) -> Path:
    """Compile ``model`` for ``backend`` on ``device``; returns the path ``load()`` takes.

    ``out``: where to write (default: the backend's own name beside the model, for ``tvm``
    ``<stem>.tvm.so`` with its ``<stem>.tvm.json``). ``options``: the backend's own (for
    ``tvm``: ``{"target": {...}, "tune": 64}``). Raises ``ConfigurationError`` for a backend that
    does not compile ahead, ``BackendUnavailable`` when its runtime is missing, and what the
    backend raises for the model (``ModelError``, ``ModelIncompatible``).
    """
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if backend not in names():
        raise ConfigurationError(f"unknown backend {backend!r}; registered: {', '.join(names())}")
    cls = backend_class(backend)
    if not cls.compiles_ahead:
        able = [n for n in names() if _compiles(n)]
        raise ConfigurationError(
            f"the {backend} backend does not compile models ahead of time; "
            f"backends that do: {', '.join(able) or 'none'}"
        )
    availability = safe_availability(backend, cls)
    if not availability.available:
        raise BackendUnavailable(
            backend, availability.reason, availability.hint or install_hint(backend)
        )
    request = parse_device(device)
    if request is None or request.kind not in cls.devices:
        raise ConfigurationError(
            f"device {device!r}: the {backend} backend compiles for {', '.join(cls.devices)}"
        )
    if precision is not None and precision not in PRECISIONS:
        raise ConfigurationError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")
    opened = OpenOptions(precision=precision, extra=dict(options or {}))
    written = cls.compile_ahead(path, None if out is None else Path(out), request, opened)
    _log.info("compiled %s for %s on %s into %s", path.name, backend, request.id, written)
    return written


def _compiles(name: str) -> bool:
    try:
        return backend_class(name).compiles_ahead
    except BackendUnavailable:
        return False
