"""A bounded, fair pool of TFLite interpreters that grows only when calls really overlap.

A TFLite interpreter is not thread-safe, and its ``invoke`` releases the GIL, so one ``Model``
serving several threads needs several interpreters. Each one costs its own tensor arena and
XNNPACK's packed weights (about 7 MB for MobileNetV2), which matters on a board. So the pool
starts with ONE interpreter and creates another only when a call arrives while every existing
one is busy, up to ``size``: a single-threaded caller never holds more than one, whatever shapes
it sends (a call with other shapes resizes the idle interpreter). When ``size`` exist and all are
busy, callers wait in arrival order: a released interpreter is handed straight to the oldest
waiter, so no thread starves (a plain lock or semaphore lets the releasing thread take it again;
measured worst waits of seconds). ``size=1`` is one interpreter behind that fair lock.

Among idle interpreters a call prefers one already allocated for its input shapes, so threads
that alternate between a few batch sizes do not re-allocate on every call. When creating another
interpreter fails (out of memory, a delegate that will not load twice), the pool stops growing
at the size it has and the call waits for a busy interpreter instead of failing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["InterpreterPool", "Shapes", "Slot", "shapes_of"]

_log = logging.getLogger("edgeinfer")

Shapes = tuple[tuple[int, ...], ...]
_UNKNOWN: Shapes = ((-1,),)  # no real input has a negative size: never equal to a call's shapes


class Slot:
    """One interpreter and the input shapes it is currently allocated for."""

    __slots__ = ("interpreter", "shapes")

    def __init__(self, interpreter: Any, shapes: Shapes) -> None:
        self.interpreter = interpreter
        self.shapes = shapes

    def fit(self, indices: Sequence[int], shapes: Shapes) -> None:
        """Resize the inputs to ``shapes`` and re-allocate, when they differ from the current.

        If the runtime refuses, the interpreter is left resized to shapes it cannot run: the slot
        then says so (its shapes match no call), and the next call resizes it again."""
        if shapes == self.shapes:
            return
        self.shapes = _UNKNOWN
        for index, shape in zip(indices, shapes, strict=True):
            self.interpreter.resize_tensor_input(index, list(shape), strict=False)
        self.interpreter.allocate_tensors()
        self.shapes = shapes


class _Waiter:
    __slots__ = ("handed", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.handed: Slot | None = None


class InterpreterPool:
    """Hands out ``Slot``s: at most ``size`` exist, created only when all others are busy;
    callers beyond that wait, first come first served. Always pair ``acquire`` with
    ``release`` (``try``/``finally``)."""

    def __init__(self, make: Callable[[], Slot], first: Slot, size: int) -> None:
        self._make = make
        self._size = max(1, size)
        self._idle: list[Slot] = [first]
        self._all: list[Slot] = [first]
        self._waiters: deque[_Waiter] = deque()
        self._creating = 0
        self._lock = threading.Lock()
        self.stopped: str | None = None  # why the pool stopped growing below ``size``

    @property
    def size(self) -> int:
        """The most interpreters this pool will hold."""
        return self._size

    @property
    def created(self) -> int:
        """How many interpreters exist now."""
        return len(self._all)

    def acquire(self, shapes: Shapes) -> Slot:
        """An interpreter for this call's exclusive use, preferably sized for ``shapes``."""
        with self._lock:
            found = self._idle_slot(shapes)
            if found is not None:
                return found
            if len(self._all) + self._creating < self._size:
                self._creating += 1
                waiter = None
            else:
                waiter = self._queue()
        if waiter is None:
            return self._grow(shapes)
        return self._wait(waiter)

    def _idle_slot(self, shapes: Shapes) -> Slot | None:
        """An idle slot (one sized for ``shapes`` first), or ``None``. Holds the lock."""
        idle = self._idle
        for position in range(len(idle) - 1, -1, -1):
            if idle[position].shapes == shapes:
                return idle.pop(position)
        return idle.pop() if idle else None

    def _queue(self) -> _Waiter:
        waiter = _Waiter()
        self._waiters.append(waiter)
        return waiter

    @staticmethod
    def _wait(waiter: _Waiter) -> Slot:
        waiter.lock.acquire()  # released by release(), which hands us its slot
        assert waiter.handed is not None
        return waiter.handed

    def _grow(self, shapes: Shapes) -> Slot:
        """Create a slot for this call; when that fails, stop growing and wait for one."""
        try:
            created = self._make()
        except Exception as error:
            with self._lock:
                self._creating -= 1
                if not self._all:  # nothing to wait for (closed): the caller gets the error
                    raise
                self._size = len(self._all) + self._creating
                self.stopped = f"{type(error).__name__}: {error}"
                found = self._idle_slot(shapes)
                waiter = self._queue() if found is None else None
            _log.warning(
                "could not create another interpreter (%s); serving with %d",
                self.stopped,
                self._size,
            )
            if found is not None:
                return found
            assert waiter is not None
            return self._wait(waiter)
        except BaseException:
            with self._lock:
                self._creating -= 1
            raise
        with self._lock:
            self._creating -= 1
            self._all.append(created)
        return created

    def release(self, slot: Slot) -> None:
        """Give ``slot`` back: to the oldest waiter if any, else to the idle list."""
        with self._lock:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.handed = slot
                waiter.lock.release()
                return
            self._idle.append(slot)

    def interpreters(self) -> list[Any]:
        """Every interpreter created so far."""
        return [slot.interpreter for slot in self._all]

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
            self._all.clear()


def shapes_of(arrays: Sequence[np.ndarray]) -> Shapes:
    return tuple(array.shape for array in arrays)
