"""Backend registry: a table of name -> ``"module:Class"``, extra and install hint.

Nothing is imported until a backend is asked for. Third-party backends come from the entry-point
group ``edgeinfer.backends`` (read on first use, never at import) or from ``register_backend()``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass

from edgeinfer._errors import BackendUnavailable, ConfigurationError, UnknownBackend
from edgeinfer._kit.contract import Backend
from edgeinfer._types import BackendInfo

__all__ = ["ENTRY_POINT_GROUP", "backend_class", "backend_infos", "names", "register_backend"]

ENTRY_POINT_GROUP = "edgeinfer.backends"
_log = logging.getLogger("edgeinfer")


@dataclass(frozen=True, slots=True)
class _Entry:
    target: str | type[Backend]
    extra: str | None
    hint: str | None
    source: str


def _pip_hint(extra: str) -> str:
    return f"pip install 'edgeinfer[{extra}]'"


# The built-in backends, in the order edgeinfer prefers them when nothing else decides.
_BUILTIN: dict[str, _Entry] = {
    "onnxruntime": _Entry(
        "edgeinfer.backends.onnxruntime.backend:OnnxRuntimeBackend", "onnx", None, "builtin"
    ),
    "litert": _Entry("edgeinfer.backends.litert.backend:LiteRtBackend", "litert", None, "builtin"),
    "edgetpu": _Entry(
        "edgeinfer.backends.edgetpu.backend:EdgeTpuBackend", "edgetpu", None, "builtin"
    ),
    "openvino": _Entry(
        "edgeinfer.backends.openvino.backend:OpenVinoBackend", "openvino", None, "builtin"
    ),
    "coreml": _Entry("edgeinfer.backends.coreml.backend:CoreMlBackend", "coreml", None, "builtin"),
    "tensorrt": _Entry(
        "edgeinfer.backends.tensorrt.backend:TensorRtBackend", "tensorrt", None, "builtin"
    ),
}

_entries: dict[str, _Entry] = dict(_BUILTIN)
_classes: dict[str, type[Backend]] = {}
_lock = threading.RLock()
_entry_points_read = False


def _read_entry_points() -> None:
    """Add third-party backends from installed packages' entry points, once."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    from importlib.metadata import entry_points

    try:
        found = entry_points(group=ENTRY_POINT_GROUP)
    except Exception as error:  # a broken distribution must not break edgeinfer
        _log.warning("could not read entry points %r: %s", ENTRY_POINT_GROUP, error)
        return
    for point in found:
        if point.name in _entries:
            _log.warning(
                "ignoring entry point %s = %s: backend %r is already registered",
                point.name,
                point.value,
                point.name,
            )
            continue
        dist = getattr(point, "dist", None)
        source = f"entry point of {dist.name}" if dist is not None else "entry point"
        _entries[point.name] = _Entry(
            point.value, None, f"pip install {dist.name}" if dist else None, source
        )


def register_backend(
    name: str, target: str | type[Backend], *, extra: str | None = None, hint: str | None = None
) -> None:
    """Register a backend under ``name``: a ``Backend`` subclass or a ``"module:Class"`` string.

    The string form imports nothing until the backend is used. ``extra`` names the pip extra and
    ``hint`` says how to install what it needs. Registering an existing name replaces it.
    """
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("_", "").replace("-", "").isalnum()
    ):
        raise ConfigurationError(f"backend name must be a non-empty identifier, got {name!r}")
    if isinstance(target, str):
        if target.count(":") != 1:
            raise ConfigurationError(f"backend target must read 'module:Class', got {target!r}")
    elif not (isinstance(target, type) and issubclass(target, Backend)):
        raise ConfigurationError(
            f"backend target must be a Backend subclass or 'module:Class', got {target!r}"
        )
    with _lock:
        _read_entry_points()
        if name in _entries:
            _log.info(
                "backend %r re-registered: %r replaces %r", name, target, _entries[name].target
            )
        _entries[name] = _Entry(target, extra, hint, "register_backend")
        _classes.pop(name, None)


def unregister_backend(name: str) -> None:
    """Remove a registered backend (restoring the built-in one of that name, if any)."""
    with _lock:
        _classes.pop(name, None)
        if name in _BUILTIN:
            _entries[name] = _BUILTIN[name]
        else:
            _entries.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered backend name, built-ins first."""
    with _lock:
        _read_entry_points()
        return tuple(_entries)


def install_hint(name: str) -> str | None:
    """How to install what backend ``name`` needs, or ``None`` when nobody said."""
    entry = _entry(name)
    if entry.hint:
        return entry.hint
    return _pip_hint(entry.extra) if entry.extra else None


def _entry(name: str) -> _Entry:
    with _lock:
        _read_entry_points()
        entry = _entries.get(name)
    if entry is None:
        raise UnknownBackend(name, names())
    return entry


def backend_class(name: str) -> type[Backend]:
    """The class behind ``name``, imported on first use. Raises ``UnknownBackend`` or
    ``BackendUnavailable`` (with the import error chained) when its module cannot be imported."""
    cached = _classes.get(name)
    if cached is not None:
        return cached
    entry = _entry(name)
    if isinstance(entry.target, type):
        cls = entry.target
    else:
        module_name, _, attribute = entry.target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except Exception as error:
            raise BackendUnavailable(
                name,
                f"cannot import {entry.target}: {type(error).__name__}: {error}",
                install_hint(name),
            ) from error
        if not (isinstance(cls, type) and issubclass(cls, Backend)):
            raise BackendUnavailable(name, f"{entry.target} is not an edgeinfer.Backend subclass")
    with _lock:
        _classes[name] = cls
    return cls


def backend_infos() -> tuple[BackendInfo, ...]:
    """One ``BackendInfo`` per registered backend, available or not, with why."""
    infos = []
    for name in names():
        entry = _entry(name)
        try:
            cls = backend_class(name)
        except BackendUnavailable as error:
            infos.append(
                BackendInfo(name, False, error.reason, error.hint, (), (), None, entry.source)
            )
            continue
        availability = cls.availability()
        hint = (
            availability.hint or install_hint(name) or (_pip_hint(cls.extra) if cls.extra else None)
        )
        infos.append(
            BackendInfo(
                name,
                availability.available,
                availability.reason,
                None if availability.available else hint,
                tuple(cls.formats),
                tuple(cls.devices),
                availability.version,
                entry.source,
            )
        )
    return tuple(infos)
