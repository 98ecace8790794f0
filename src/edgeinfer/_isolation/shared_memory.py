"""Tensor transport between a process and its isolated backend: shared-memory blocks plus a layout.

A *layout* describes a dict of arrays as a list of entries, one per array, in the dict's order:
``(name, dtype_str, shape, offset)`` for an array that lives in a shared-memory block at ``offset``
(numeric and bool dtypes), or ``(name, array)`` for one that travels pickled in the control message
(object, string, structured dtypes). Offsets are aligned to 64 bytes.

The parent process owns every block: it creates them (named ``edgeinfer_<pid>_<random>`` so a leak
is recognisable in ``/dev/shm``), replaces a block by a bigger one when a call needs more, and
unlinks them. The child only attaches to the names it is given.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from edgeinfer._errors import InferenceError
from edgeinfer._types import TensorSpec

__all__ = [
    "PREFIX",
    "Attachment",
    "Entry",
    "OwnedBlock",
    "layout",
    "nbytes",
    "read",
    "write",
]

PREFIX = "edgeinfer_"
ALIGN = 64
_PAGE = mmap.PAGESIZE
_SHARED_KINDS = frozenset("biufc")  # bool, int, uint, float, complex: plain bytes

# (name, dtype.str, shape, offset) in shared memory, or (name, array) pickled.
Entry = tuple[str, str, tuple[int, ...], int] | tuple[str, Any]
# Mappings that could not be closed because a view was still alive: kept so that SharedMemory's
# __del__ does not complain; their names are unlinked already, so nothing leaks past the process.
_lingering: list[shared_memory.SharedMemory] = []


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def layout(arrays: Mapping[str, Any]) -> tuple[list[Entry], int, bool]:
    """The entries describing ``arrays``, the bytes of shared memory they need, and whether
    every array is in shared memory (then equal entries mean an identical layout)."""
    entries: list[Entry] = []
    offset = 0
    shared = True
    for name, value in arrays.items():
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        dtype = array.dtype
        if dtype.kind in _SHARED_KINDS and not dtype.hasobject:
            entries.append((name, dtype.str, array.shape, offset))
            offset = _round_up(offset + array.nbytes, ALIGN)
        else:
            entries.append((name, array))
            shared = False
    return entries, offset, shared


def nbytes(specs: Iterable[TensorSpec]) -> int:
    """Shared-memory bytes that arrays of ``specs`` need when every shape is fixed, else 0."""
    offset = 0
    for spec in specs:
        if spec.shape is None or None in spec.shape:
            return 0
        if spec.dtype.kind in _SHARED_KINDS and not spec.dtype.hasobject:
            size = spec.dtype.itemsize * math.prod(spec.shape)  # type: ignore[arg-type]
            offset = _round_up(offset + size, ALIGN)
    return offset


def write(buffer: memoryview | None, entries: list[Entry], arrays: Mapping[str, Any]) -> None:
    """Copy the shared-memory entries of ``arrays`` into ``buffer`` at their offsets."""
    for entry in entries:
        if len(entry) == 4:
            name, dtype, shape, offset = entry
            if not shape or all(shape):  # nothing to copy for a zero-size array
                assert buffer is not None, "a shared-memory entry needs a block"
                view = np.ndarray(shape, np.dtype(dtype), buffer=buffer, offset=offset)
                value = arrays[name]
                np.copyto(view, value if isinstance(value, np.ndarray) else np.asarray(value))


def read(buffer: memoryview | None, entries: list[Entry], *, copy: bool) -> dict[str, np.ndarray]:
    """The arrays ``entries`` describe: copies when ``copy``, else views into ``buffer``."""
    result: dict[str, np.ndarray] = {}
    for entry in entries:
        if len(entry) == 2:
            result[entry[0]] = entry[1]
            continue
        name, dtype_str, shape, offset = entry
        dtype = np.dtype(dtype_str)
        if (shape and not all(shape)) or buffer is None:
            result[name] = np.empty(shape, dtype)
        else:
            view = np.ndarray(shape, dtype, buffer=buffer, offset=offset)
            result[name] = view.copy() if copy else view
    return result


class OwnedBlock:
    """A shared-memory block the parent process owns: created on demand, grown, unlinked.

    Growing replaces the block by a new one (a new name) at least twice as big, rounded to pages.
    """

    __slots__ = ("_shm", "history")

    def __init__(self) -> None:
        self._shm: shared_memory.SharedMemory | None = None
        self.history: list[str] = []  # every name this block has had, for leak checks

    @property
    def name(self) -> str | None:
        return None if self._shm is None else self._shm.name

    @property
    def size(self) -> int:
        return 0 if self._shm is None else self._shm.size

    @property
    def buf(self) -> memoryview | None:
        return None if self._shm is None else self._shm.buf

    def ensure(self, needed: int) -> memoryview:
        """The block's buffer, holding at least ``needed`` bytes (at least one page).

        Raises ``InferenceError`` when the system has no room for it (``/dev/shm`` full).
        """
        shm = self._shm
        if shm is not None and shm.size >= needed:
            return _buf(shm)
        size = _round_up(max(needed, 2 * self.size, _PAGE), _PAGE)
        name = f"{PREFIX}{os.getpid():x}_{secrets.token_hex(4)}"  # <= 31 chars for macOS
        try:
            shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        except OSError as error:
            raise _no_room(size, error) from error
        try:
            _reserve(shm, size)
        except OSError as error:
            shm.unlink()
            shm.close()
            raise _no_room(size, error) from error
        self.release()
        self._shm = shm
        self.history.append(shm.name)
        return _buf(shm)

    def release(self) -> None:
        """Unmap and unlink the block. Idempotent."""
        shm, self._shm = self._shm, None
        if shm is None:
            return
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()
        _close(shm)


def _close(shm: shared_memory.SharedMemory) -> None:
    """Unmap ``shm``, unless a view of it is still alive (then it stays mapped)."""
    try:
        shm.close()
    except BufferError:
        _lingering.append(shm)


def _buf(shm: shared_memory.SharedMemory) -> memoryview:
    buffer = shm.buf
    assert buffer is not None, "the block is closed"
    return buffer


def _reserve(shm: shared_memory.SharedMemory, size: int) -> None:
    """Allocate the pages now: on a full tmpfs, writing to an unbacked page is a SIGBUS."""
    fd = getattr(shm, "_fd", -1)
    if fd >= 0 and hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)


def _no_room(size: int, error: OSError) -> InferenceError:
    return InferenceError(
        f"cannot allocate {size} bytes of shared memory for an isolated backend ({error}); "
        "in a container, give /dev/shm more room (docker run --shm-size=...)"
    )


class Attachment:
    """The child's side of one block: attached by name, re-attached when the parent grows it."""

    __slots__ = ("_shm",)

    def __init__(self) -> None:
        self._shm: shared_memory.SharedMemory | None = None

    def buffer(self, name: str | None) -> memoryview | None:
        """The buffer of block ``name``, attaching to it when it is new."""
        if name is None:
            return None
        if self._shm is None or self._shm.name != name:
            self.close()
            self._shm = _attach(name)
        return _buf(self._shm)

    def close(self) -> None:
        shm, self._shm = self._shm, None
        if shm is not None:
            _close(shm)


def _attach(name: str) -> shared_memory.SharedMemory:
    """Attach without taking ownership: only the parent unlinks."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    # Before 3.13 attaching registers the name with the resource tracker, which the spawned child
    # shares with its parent: the parent's unlink unregisters it once for both.
    return shared_memory.SharedMemory(name=name)
