"""A bounded, fair pool of TFLite interpreters, so one ``Model`` can serve many threads.

A TFLite interpreter is not thread-safe, and its ``invoke`` releases the GIL. With a pool of
``size`` interpreters (each created on first need), up to ``size`` calls run at once and the rest
wait in arrival order: a released interpreter is handed straight to the oldest waiter, so no
thread starves (a plain lock or semaphore lets the releasing thread take it again; measured
worst waits of seconds). ``size=1`` is one interpreter behind that fair lock. Each interpreter
remembers the input shapes it is allocated for, and a call prefers an idle interpreter already
sized for its shapes, so alternating batch sizes do not re-allocate on every call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["InterpreterPool", "Slot", "shapes_of"]

Shapes = tuple[tuple[int, ...], ...]


class Slot:
    """One interpreter and the input shapes it is currently allocated for."""

    __slots__ = ("interpreter", "shapes")

    def __init__(self, interpreter: Any, shapes: Shapes) -> None:
        self.interpreter = interpreter
        self.shapes = shapes

    def fit(self, indices: Sequence[int], shapes: Shapes) -> None:
        """Resize the inputs to ``shapes`` and re-allocate, when they differ from the current."""
        if shapes == self.shapes:
            return
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
    """Hands out ``Slot``s: at most ``size`` exist; callers beyond that wait, first come first
    served. Always pair ``acquire`` with ``release`` (``try``/``finally``)."""

    def __init__(self, make: Callable[[], Slot], first: Slot, size: int) -> None:
        self._make = make
        self._size = max(1, size)
        self._idle: list[Slot] = [first]
        self._all: list[Slot] = [first]
        self._waiters: deque[_Waiter] = deque()
        self._creating = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    @property
    def created(self) -> int:
        return len(self._all)

    def acquire(self, shapes: Shapes) -> Slot:
        """An interpreter for this call's exclusive use, preferably sized for ``shapes``."""
        with self._lock:
            idle = self._idle
            if idle:
                for position in range(len(idle) - 1, -1, -1):
                    if idle[position].shapes == shapes:
                        return idle.pop(position)
                if len(self._all) + self._creating >= self._size:
                    return idle.pop()
            if len(self._all) + self._creating < self._size:
                self._creating += 1
                waiter = None
            else:
                waiter = _Waiter()
                self._waiters.append(waiter)
        if waiter is not None:
            waiter.lock.acquire()  # released by release(), which hands us its slot
            assert waiter.handed is not None
            return waiter.handed
        try:
            created = self._make()
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
