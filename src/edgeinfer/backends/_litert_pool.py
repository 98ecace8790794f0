"""A bounded pool of TFLite interpreters, so one ``Model`` can serve many threads.

A TFLite interpreter is not thread-safe, and its ``invoke`` releases the GIL. With a pool of
``size`` interpreters (each created on first need), up to ``size`` calls run at once and the rest
wait; ``size=1`` is a plain lock around one interpreter. Each interpreter remembers the input
shapes it is allocated for, and a call prefers an idle interpreter already sized for its shapes,
so alternating batch sizes do not re-allocate on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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


class InterpreterPool:
    """Hands out ``Slot``s: at most ``size`` exist; a call waits when all are busy."""

    def __init__(self, make: Callable[[], Slot], first: Slot, size: int) -> None:
        self._make = make
        self._size = max(1, size)
        self._idle: list[Slot] = [first]
        self._all: list[Slot] = [first]
        self._lock = threading.Lock()
        self._creating = 0
        self._free = threading.BoundedSemaphore(self._size) if self._size > 1 else None
        self._single = first if self._size == 1 else None

    @property
    def size(self) -> int:
        return self._size

    @property
    def created(self) -> int:
        return len(self._all)

    @contextmanager
    def slot(self, shapes: Shapes) -> Iterator[Slot]:
        """An interpreter for this call's exclusive use, preferably sized for ``shapes``."""
        if self._single is not None:  # size 1: a plain lock, the cheapest path
            with self._lock:
                yield self._single
            return
        assert self._free is not None
        self._free.acquire()
        try:
            chosen = self._take(shapes)
            try:
                yield chosen
            finally:
                self._idle.append(chosen)
        finally:
            self._free.release()

    def _take(self, shapes: Shapes) -> Slot:
        with self._lock:
            for position in range(len(self._idle) - 1, -1, -1):
                if self._idle[position].shapes == shapes:
                    return self._idle.pop(position)
            if len(self._all) + self._creating >= self._size:
                # The semaphore admits at most `size` callers, so an idle slot exists here.
                return self._idle.pop()
            self._creating += 1
        try:
            created = self._make()
        finally:
            with self._lock:
                self._creating -= 1
        with self._lock:
            self._all.append(created)
        return created

    def interpreters(self) -> list[Any]:
        """Every interpreter created so far (for closing)."""
        return [slot.interpreter for slot in self._all]

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
            self._all.clear()
            self._single = None


def shapes_of(arrays: Sequence[np.ndarray]) -> Shapes:
    return tuple(array.shape for array in arrays)
