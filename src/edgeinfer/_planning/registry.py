"""Backend registry: name -> where the class lives, and what it reads and serves, as data.

An entry carries its formats, devices and rank (its place in the preference order per device
kind), so the planner imports only the backends that can read a file's format on a device.
Nothing is imported until a backend is asked for. Third-party backends come from the
entry-point group ``edgeinfer.backends`` (read on first use, never at import) or from
``register_backend()``. A plugin that cannot be imported, declares formats nobody registered,
or raises in ``availability()`` is an unavailable backend with the reason: it never breaks the
loads of other backends.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    EdgeInferError,
    UnknownBackend,
)
from edgeinfer._kit.contract import Backend
from edgeinfer._planning.builtin_backends import (
    BUILTIN_ENTRIES,
    PLUGIN_RANK,
    BackendEntry,
    pip_hint,
)
from edgeinfer._planning.devices import DEVICE_KINDS
from edgeinfer._planning.formats import format_names
from edgeinfer._types import Availability, BackendInfo

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_RANK",
    "BackendEntry",
    "backend_class",
    "backend_infos",
    "entries",
    "entry",
    "names",
    "offered_unasked",
    "register_backend",
    "safe_availability",
    "unregister_backend",
]

ENTRY_POINT_GROUP = "edgeinfer.backends"
_log = logging.getLogger("edgeinfer")

_entries: dict[str, BackendEntry] = dict(BUILTIN_ENTRIES)
_classes: dict[str, type[Backend]] = {}
_lock = threading.RLock()
_entry_points_read = False


# --- checking what is registered --------------------------------------------------------------
def _check_name(name: object) -> str:
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("_", "").replace("-", "").isalnum()
    ):
        raise ConfigurationError(f"backend name must be a non-empty identifier, got {name!r}")
    return name


def _check_formats(owner: str, formats: object) -> tuple[str, ...]:
    if isinstance(formats, str) or not isinstance(formats, (tuple, list)):
        raise ConfigurationError(
            f"{owner}: formats must be a tuple of format names, got {formats!r}"
        )
    known = format_names()
    for fmt in formats:
        if fmt not in known:
            near = (
                f"; did you mean {fmt.lstrip('.').lower()!r}?"
                if (isinstance(fmt, str) and fmt.lstrip(".").lower() in known)
                else ""
            )
            raise ConfigurationError(
                f"{owner}: unknown format {fmt!r}{near} Known formats: {', '.join(known)}; a "
                "plugin adds its own with edgeinfer.register_format()"
            )
    return tuple(formats)


def _check_devices(owner: str, devices: object) -> tuple[str, ...]:
    if isinstance(devices, str) or not isinstance(devices, (tuple, list)) or not devices:
        raise ConfigurationError(
            f"{owner}: devices must be a tuple of device kinds, got {devices!r}"
        )
    for kind in devices:
        if kind not in DEVICE_KINDS:
            raise ConfigurationError(
                f"{owner}: unknown device kind {kind!r}; kinds are {', '.join(DEVICE_KINDS)}"
            )
    return tuple(devices)


def _check_rank(owner: str, rank: object) -> dict[str, int]:
    if rank is None:
        return {}
    if isinstance(rank, int) and not isinstance(rank, bool):
        return dict.fromkeys(DEVICE_KINDS, rank)
    if isinstance(rank, Mapping) and all(
        kind in DEVICE_KINDS and isinstance(value, int) for kind, value in rank.items()
    ):
        return dict(rank)
    raise ConfigurationError(
        f"{owner}: rank must be an int or a dict of device kind -> int, got {rank!r}"
    )


# --- registering ------------------------------------------------------------------------------
def register_backend(
    name: str,
    target: str | type[Backend],
    *,
    extra: str | None = None,
    hint: str | None = None,
    formats: Sequence[str] | None = None,
    devices: Sequence[str] | None = None,
    rank: int | Mapping[str, int] | None = None,
) -> None:
    """Register a backend under ``name``: a ``Backend`` subclass or a ``"module:Class"`` string.

    The string form imports nothing until the backend is needed; give it ``formats`` and
    ``devices`` so the planner knows, without importing it, which files and devices it serves
    (else they are read from the class when it is first imported). ``rank``: its place in the
    preference order, one int or per device kind (lower first; built-ins use 10 to 50, the
    default is 100). ``extra``: the pip extra; ``hint``: how to install what it needs.
    Registering an existing name replaces it. Raises ``ConfigurationError`` for a malformed
    entry: a bad name or target, formats nobody registered, unknown device kinds.
    """
    _check_name(name)
    owner = f"backend {name!r}"
    if isinstance(target, str):
        if target.count(":") != 1 or not all(target.split(":")):
            raise ConfigurationError(f"backend target must read 'module:Class', got {target!r}")
    elif not (isinstance(target, type) and issubclass(target, Backend)):
        raise ConfigurationError(
            f"backend target must be a Backend subclass or 'module:Class', got {target!r}"
        )
    if isinstance(target, type):
        formats = target.formats if formats is None else formats
        devices = target.devices if devices is None else devices
    entry = BackendEntry(
        name,
        target,
        None if formats is None else _check_formats(owner, formats),
        None if devices is None else _check_devices(owner, devices),
        _check_rank(owner, rank),
        extra,
        hint,
        "register_backend",
    )
    with _lock:
        _read_entry_points()
        if name in _entries:
            _log.info(
                "backend %r re-registered: %r replaces %r", name, target, _entries[name].target
            )
        _entries[name] = entry
        _classes.pop(name, None)


def unregister_backend(name: str) -> None:
    """Remove a registered backend (restoring the built-in one of that name, if any)."""
    with _lock:
        _classes.pop(name, None)
        if name in BUILTIN_ENTRIES:
            _entries[name] = BUILTIN_ENTRIES[name]
        else:
            _entries.pop(name, None)


def declared_anywhere(group: str) -> bool:
    """Whether any installed distribution declares entry points of ``group``: a look at the
    ``entry_points.txt`` of every ``.dist-info`` folder on sys.path (a few ms), so that a
    process with no plugin never imports ``importlib.metadata`` (about 2.5 MB of resident
    memory with the ``email`` package it pulls in). A zipped egg is assumed to declare."""
    import os
    import sys

    marker = f"[{group}]"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".egg"):
                return True  # a zipped egg: let importlib.metadata look inside
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), "rb") as handle:
                    if marker.encode() in handle.read():
                        return True
            except OSError:
                continue
    return False


def _read_entry_points() -> None:
    """Add third-party backends from installed packages' entry points, once, without importing
    them: an entry point names a ``Backend`` subclass or a ``BackendEntry`` (which carries the
    data, so a plugin's runtime module is imported only when its formats are planned)."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    if not declared_anywhere(ENTRY_POINT_GROUP):
        return  # no installed package has a plugin: importlib.metadata is not even imported
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
        hint = f"pip install {dist.name}" if dist is not None else None
        _entries[point.name] = BackendEntry(point.name, point, source=source, hint=hint)


# --- looking up -------------------------------------------------------------------------------
def names() -> tuple[str, ...]:
    """Every registered backend name, built-ins first."""
    with _lock:
        _read_entry_points()
        return tuple(_entries)


def entry(name: str) -> BackendEntry:
    """The entry of ``name``, its data completed from an entry point's object where needed."""
    with _lock:
        _read_entry_points()
        found = _entries.get(name)
    if found is None:
        raise UnknownBackend(name, names())
    if not isinstance(found.target, (str, type)):  # an entry point, not loaded yet
        found = _resolve_entry_point(found)
    return found


def _resolve_entry_point(unresolved: BackendEntry) -> BackendEntry:
    point: Any = unresolved.target
    try:
        loaded = point.load()
    except Exception as error:
        raise BackendUnavailable(
            unresolved.name,
            f"cannot import entry point {point.value}: {type(error).__name__}: {error}",
            unresolved.hint,
        ) from error
    if isinstance(loaded, BackendEntry):
        resolved = replace(loaded, name=unresolved.name, source=unresolved.source,
                           hint=loaded.hint or unresolved.hint)  # fmt: skip
    elif isinstance(loaded, type) and issubclass(loaded, Backend):
        resolved = replace(unresolved, target=loaded)
    else:
        raise BackendUnavailable(
            unresolved.name,
            f"entry point {point.value} is neither an edgeinfer.Backend subclass nor a "
            "BackendEntry",
            unresolved.hint,
        )
    with _lock:
        if _entries.get(unresolved.name) is unresolved:
            _entries[unresolved.name] = resolved
    return resolved


def entries() -> tuple[BackendEntry, ...]:
    """Every registered entry, in registration order; entry points that fail to load are left
    out here (``backend_class`` then says why)."""
    found = []
    for name in names():
        try:
            found.append(entry(name))
        except BackendUnavailable:
            continue
    return tuple(found)


def install_hint(name: str) -> str | None:
    """How to install what backend ``name`` needs, or ``None`` when nobody said."""
    found = entry(name)
    if found.hint:
        return found.hint
    return pip_hint(found.extra) if found.extra else None


def backend_class(name: str) -> type[Backend]:
    """The class behind ``name``, imported on first use. Raises ``UnknownBackend``, or
    ``BackendUnavailable`` (the import error chained) when it cannot be imported or is not a
    well-formed backend."""
    cached = _classes.get(name)
    if cached is not None:
        return cached
    found = entry(name)
    if isinstance(found.target, type):
        cls = found.target
    else:
        module_name, _, attribute = str(found.target).partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attribute)
        except Exception as error:
            raise BackendUnavailable(
                name,
                f"cannot import {found.target}: {type(error).__name__}: {error}",
                install_hint(name),
            ) from error
        if not (isinstance(cls, type) and issubclass(cls, Backend)):
            raise BackendUnavailable(name, f"{found.target} is not an edgeinfer.Backend subclass")
    _check_class(name, cls, found)
    with _lock:
        _classes[name] = cls
    return cls


def _check_class(name: str, cls: type[Backend], found: BackendEntry) -> None:
    """A class whose declared formats or devices are malformed cannot be planned for."""
    owner = f"{cls.__module__}.{cls.__qualname__}"
    try:
        _check_formats(owner, getattr(cls, "formats", None))
        _check_devices(owner, getattr(cls, "devices", None))
    except ConfigurationError as error:
        raise BackendUnavailable(name, str(error), install_hint(name)) from error


def formats_of(found: BackendEntry) -> tuple[str, ...]:
    """The formats an entry reads: its data, else the class's (imported); () when unusable."""
    if found.formats is not None:
        return found.formats
    try:
        return tuple(backend_class(found.name).formats)
    except BackendUnavailable:
        return ()


def offered_unasked(name: str, fmt: str) -> bool:
    """Whether the planner offers backend ``name`` for ``fmt`` when it is not named: its entry
    lists the format. A class may read more when named (tvm compiles ONNX only then)."""
    try:
        return fmt in formats_of(entry(name))
    except EdgeInferError:
        return True


def devices_of(found: BackendEntry) -> tuple[str, ...]:
    """The device kinds an entry serves: its data, else the class's (imported)."""
    if found.devices is not None:
        return found.devices
    try:
        return tuple(backend_class(found.name).devices)
    except BackendUnavailable:
        return ()


def safe_availability(name: str, cls: type[Backend]) -> Availability:
    """``cls.availability()``, where a plugin that raises or answers nonsense becomes an
    unavailable backend with the reason, logged once per call."""
    try:
        found: object = cls.availability()
    except Exception as error:
        _log.warning("backend %r: availability() raised %s: %s", name, type(error).__name__, error)
        return Availability(False, f"availability() raised {type(error).__name__}: {error}")
    if not isinstance(found, Availability):
        _log.warning("backend %r: availability() returned %r, not an Availability", name, found)
        return Availability(
            False, f"availability() returned {type(found).__name__}, not an Availability"
        )
    return found


def backend_infos() -> tuple[BackendInfo, ...]:
    """One ``BackendInfo`` per registered backend, available or not, with why."""
    infos = []
    for name in names():
        try:
            found = entry(name)
            cls = backend_class(name)
        except BackendUnavailable as error:
            source = _entries[name].source if name in _entries else "entry point"
            infos.append(BackendInfo(name, False, error.reason, error.hint, (), (), None, source))
            continue
        availability = safe_availability(name, cls)
        hint = (
            availability.hint or install_hint(name) or (pip_hint(cls.extra) if cls.extra else None)
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
                found.source,
            )
        )
    return tuple(infos)
