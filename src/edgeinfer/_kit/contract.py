"""The contract every backend implements. Small on purpose: see docs/writing-a-backend.md.

A backend module must import cleanly on any machine: its runtime is imported inside ``open`` only.
Warm-up, validation, profiling, health and fallback are written once in ``Model``, on top of
``run``; a backend does none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability, TensorSpec

__all__ = ["PRECISIONS", "Backend", "HeldSpecs", "OpenOptions", "backend_options"]

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What ``load()`` passes to ``Backend.open`` besides the file and the device.

    ``threads``: intra-op threads, ``None`` for the runtime's default. ``precision``: one of
    ``PRECISIONS`` or ``None`` for the runtime's default. ``float_io``: a quantised model takes and
    returns float32. ``extra``: this backend's own options (``load(options=...)``), unchecked here:
    each backend rejects keys it does not know with ``ConfigurationError``.
    """

    threads: int | None = None
    precision: str | None = None
    float_io: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One runtime behind edgeinfer's interface.

    Class attributes: ``name`` (the registry name), ``formats`` (model formats it reads, see
    ``edgeinfer._planning.formats``), ``devices`` (device kinds it can serve), ``extra`` (the
    pip extra that brings its runtime).
    """

    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    extra: ClassVar[str | None] = None
    # True for a runtime that picks its own device among several (OpenVINO's AUTO, Core ML's
    # ALL): under device="auto" it gets one DeviceRequest of kind "auto" with the kinds it may
    # use in ``choices``, and reports the device it really chose through ``device``.
    chooses_device: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def availability(cls) -> Availability:
        """Whether this backend can be tried here. Cheap, cached, never raises, imports nothing."""

    @classmethod
    @abstractmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> Backend:
        """Import the runtime and open ``path`` on ``device``.

        Raises ``BackendUnavailable`` (runtime missing or broken), ``ModelError`` /
        ``ModelIncompatible`` (the file), ``DeviceError`` (the device), ``ConfigurationError``
        (bad ``options.extra``), each with the native error chained.
        """

    @property
    @abstractmethod
    def inputs(self) -> tuple[TensorSpec, ...]:
        """Input specs, in the model's order. Fixed once ``open`` returns."""

    @property
    @abstractmethod
    def outputs(self) -> tuple[TensorSpec, ...]:
        """Output specs, in the model's order. Fixed once ``open`` returns."""

    @property
    def device(self) -> str:
        """The device this instance really runs on, as a device string (``"cpu"``, ``"gpu:0"``)."""
        return "cpu"

    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        """Names of the inputs' dynamic dimensions, where the model has them (``{"x": ("batch",
        None)}``). Optional: a name shared by several inputs must get one size in a call."""
        return {}

    def details(self) -> Mapping[str, str]:
        """What really runs, for ``Model.explain()``: runtime version, providers, precision..."""
        return {}

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run validated inputs (name -> array, all inputs present) and return every output by name.

        Raises ``DeviceError`` or ``InferenceError`` (native error chained); ``InvalidInput`` only
        for input problems that the specs cannot express (inconsistent dynamic dimensions).
        Returned arrays belong to the caller: never a buffer that the next call overwrites.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the runtime's resources. Idempotent."""


class HeldSpecs:
    """Mixin for backends whose specs and device are fixed when ``open`` returns: ``inputs``,
    ``outputs`` and ``device`` read ``_inputs``, ``_outputs`` and ``_device`` (set in
    ``__init__``). List it before ``Backend``: ``class MyBackend(HeldSpecs, Backend)``."""

    _inputs: tuple[TensorSpec, ...]
    _outputs: tuple[TensorSpec, ...]
    _device: str

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    @property
    def device(self) -> str:
        return self._device


def backend_options(
    backend: str, extra: Mapping[str, Any], valid: tuple[str, ...]
) -> dict[str, Any]:
    """A backend's own ``options``, as a dict; ``ConfigurationError`` names unknown keys."""
    from edgeinfer._errors import ConfigurationError

    unknown = sorted(set(extra) - set(valid))
    if unknown:
        listing = ", ".join(valid) if valid else f"none: the {backend} backend takes no options"
        raise ConfigurationError(f"unknown {backend} option(s) {unknown}; valid: {listing}")
    return dict(extra)
