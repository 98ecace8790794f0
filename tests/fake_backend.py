"""A fake backend for testing the registry, planner and fallback machinery — never a runtime.

``make_fake(name, ...)`` returns a new ``Backend`` subclass whose ``open`` fails with a given error
or succeeds, and whose ``run`` returns ``x * factor``. Every open is logged in ``opened``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgeinfer import Availability, Backend, DeviceRequest, OpenOptions, TensorSpec

SPEC_IN = TensorSpec("x", (1, 4), np.dtype(np.float32))
SPEC_OUT = TensorSpec("y", (1, 4), np.dtype(np.float32))


class FakeBackend(Backend):
    name: ClassVar[str] = "fake"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    open_error: ClassVar[BaseException | None] = None
    run_error: ClassVar[BaseException | None] = None
    available: ClassVar[Availability] = Availability(True, "fake is always here")
    factor: ClassVar[float] = 2.0
    opened: ClassVar[list[tuple[str, str, OpenOptions]]] = []
    # fail(call number) -> an error to raise on that run (1-based, per instance), or None
    fail: ClassVar[Callable[[int], BaseException | None] | None] = None

    def __init__(self, device: str) -> None:
        self._device = device
        self.closed = 0
        self.calls = 0

    @classmethod
    def availability(cls) -> Availability:
        return cls.available

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> FakeBackend:
        cls.opened.append((path.name, device.id, options))
        if cls.open_error is not None:
            raise cls.open_error
        return cls(device.id)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (SPEC_IN,)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (SPEC_OUT,)

    @property
    def device(self) -> str:
        return self._device

    def details(self) -> Mapping[str, str]:
        return {"runtime": f"{self.name} (fake)"}

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.run_error is not None:
            raise self.run_error
        failure = type(self).fail(self.calls) if type(self).fail is not None else None
        if failure is not None:
            raise failure
        return {"y": feeds["x"] * np.float32(self.factor)}

    def close(self) -> None:
        self.closed += 1


def make_fake(
    name: str,
    *,
    open_error: BaseException | None = None,
    run_error: BaseException | None = None,
    available: Availability | None = None,
    factor: float = 2.0,
    formats: tuple[str, ...] = ("onnx",),
    devices: tuple[str, ...] = ("cpu", "gpu", "npu"),
    fail: Callable[[int], BaseException | None] | None = None,
) -> type[FakeBackend]:
    """A fresh fake backend class called ``name``."""
    attributes = {
        "name": name,
        "open_error": open_error,
        "run_error": run_error,
        "available": available or Availability(True, f"{name} is always here"),
        "factor": factor,
        "formats": formats,
        "devices": devices,
        "opened": [],
        "fail": staticmethod(fail) if fail is not None else None,
    }
    return type(f"Fake_{name}", (FakeBackend,), attributes)


def register(*fakes: type[FakeBackend]) -> None:
    """Register each fake under its own name (undo with the ``clean_registry`` fixture)."""
    import edgeinfer

    for fake in fakes:
        edgeinfer.register_backend(fake.name, fake)
