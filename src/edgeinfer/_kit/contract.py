"""The contract every backend implements. Small on purpose: see docs/writing-a-backend.md.

Two halves: ``Session`` is a model opened on one runtime (specs, ``run``, ``close`` and the
optional abilities, each declared here with a default and a capability flag); ``Backend`` is a
``Session`` that the registry can create (``availability`` and ``open``, classmethods). A backend
module must import cleanly on any machine: its runtime is imported inside ``open`` only. Warm-up,
validation, profiling, health and fallback are written once in ``Model``, on top of ``run``; a
backend does none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._errors import ConfigurationError
from edgeinfer._kit.placement import Placement
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability, OperatorEvent, TensorSpec

__all__ = ["PRECISIONS", "Backend", "HeldSpecs", "OpenOptions", "Session", "check_options"]

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What ``load()`` passes to ``Backend.open`` besides the file and the device.

    ``threads``: intra-op threads, ``None`` for the runtime's default. ``precision``: one of
    ``PRECISIONS`` or ``None`` for the runtime's default. ``float_io``: a quantised model takes and
    returns float32. ``extra``: this backend's own options (``load(options=...)``); check them
    with ``check_options``, which names unknown keys in a ``ConfigurationError``.
    """

    threads: int | None = None
    precision: str | None = None
    float_io: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class Session(ABC):
    """A model opened on one runtime: what ``Model`` runs, whoever created it.

    Abilities beyond ``run`` are declared by class flags, each with a method whose default says
    the ability is missing; ``Model`` reads the flag, never looks a method up by name.
    """

    #: ``run_with_timeout`` bounds a call (a backend in its own process can be stopped).
    bounded_runs: ClassVar[bool] = False
    #: ``operator_events`` returns per-operator times from the runtime's own profiler.
    operator_profiling: ClassVar[bool] = False
    #: concurrent ``run`` calls from several threads are safe (the contract suite checks it).
    thread_safe: ClassVar[bool] = True
    #: ``placement`` says where each operation runs (accelerator, CPU), from the runtime itself.
    placement_report: ClassVar[bool] = False

    @property
    @abstractmethod
    def inputs(self) -> tuple[TensorSpec, ...]:
        """Input specs, in the model's order. Fixed once the session exists."""

    @property
    @abstractmethod
    def outputs(self) -> tuple[TensorSpec, ...]:
        """Output specs, in the model's order. Fixed once the session exists."""

    @property
    def device(self) -> str:
        """The device this session really runs on, as a device string (``"cpu"``, ``"gpu:0"``)."""
        return "cpu"

    @property
    def alive(self) -> bool:
        """False once the session can never answer again (its process died); it is then
        closed and reopened by the chain when its candidate is probed again."""
        return True

    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        """Names of the inputs' dynamic dimensions, where the model names them (``{"x":
        ("batch", None)}``). A name shared by several dimensions must get one size in a call;
        ``None`` (and the anonymous ``"?"``) ties nothing."""
        return {}

    def details(self) -> Mapping[str, str]:
        """What really runs, for ``Model.explain()``: runtime version, providers, precision..."""
        return {}

    def metadata(self) -> Mapping[str, str]:
        """The model file's own metadata (ONNX ``metadata_props``...), where the format has it.
        The warm-up reads an image size (``imgsz``) from it."""
        return {}

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run validated inputs (name -> array, all inputs present) and return every output by
        name, keyed by the names in ``outputs``.

        Raises ``InvalidInput`` when the runtime refuses the input itself (a shape the model
        cannot take), ``DeviceError`` or ``InferenceError`` when it fails on valid input; the
        native error chained (``edgeinfer.backend.translate_errors`` does this). Returned arrays
        belong to the caller: never a buffer that the next call overwrites.
        """

    def run_with_timeout(
        self, feeds: Mapping[str, np.ndarray], timeout: float | None
    ) -> dict[str, np.ndarray]:
        """``run`` bounded by ``timeout`` seconds; only where ``bounded_runs`` is True."""
        raise ConfigurationError(
            "timeout= needs a backend in its own process: load(..., isolate=True); a call "
            "that hangs inside this process cannot be stopped"
        )

    def operator_events(
        self, feeds: Mapping[str, np.ndarray], runs: int
    ) -> Sequence[OperatorEvent]:
        """Per-operator times of ``runs`` calls; only where ``operator_profiling`` is True."""
        raise ConfigurationError(f"{type(self).__name__} offers no per-operator profile")

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """Where the model's operations run, as the runtime reports it; only where
        ``placement_report`` is True. ``feeds`` (checked inputs, or ``None``) are for runtimes
        that must run the model to time it or to know; without them, say so in the report.
        Cheap when ``feeds`` is ``None``: ``load()`` calls it that way for accelerator loads."""
        raise ConfigurationError(f"{type(self).__name__} offers no placement report")

    @abstractmethod
    def close(self) -> None:
        """Release the runtime's resources. Idempotent."""


class Backend(Session):
    """One runtime behind edgeinfer's interface: a ``Session`` the registry can create.

    Class attributes: ``name`` (the registry name), ``formats`` (model formats it reads, names
    from ``edgeinfer.backend.formats()``), ``devices`` (device kinds it can serve), ``extra``
    (the pip extra that brings its runtime), ``chooses_device`` (it picks its own device among
    several, like OpenVINO's AUTO: under ``device="auto"`` it gets one request of kind
    ``"auto"`` with the kinds it may use in ``choices``, and reports what it chose in ``device``).
    ``compiles_ahead``: ``compile_ahead`` writes a ready-to-load artefact of a model
    (``edgeinfer.compile_model``), so a device loads it without compiling at start-up.
    """

    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    extra: ClassVar[str | None] = None
    chooses_device: ClassVar[bool] = False
    compiles_ahead: ClassVar[bool] = False

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

    @classmethod
    def compile_ahead(
        cls, path: Path, out: Path | None, device: DeviceRequest, options: OpenOptions
    ) -> Path:
        """Compile ``path`` for ``device`` into ``out`` (``None``: the backend's own name beside
        ``path``), with whatever files must sit beside it, and return the path ``load()``
        takes; only where ``compiles_ahead`` is True."""
        raise ConfigurationError(f"the {cls.name} backend does not compile models ahead of time")


class HeldSpecs:
    """Mixin for sessions whose specs and device are fixed when they are created: ``inputs``,
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


def check_options(backend: str, extra: Mapping[str, Any], valid: tuple[str, ...]) -> dict[str, Any]:
    """A backend's own ``options``, as a dict; ``ConfigurationError`` names unknown keys."""
    unknown = sorted(set(extra) - set(valid))
    if unknown:
        listing = ", ".join(valid) if valid else f"none: the {backend} backend takes no options"
        raise ConfigurationError(f"unknown {backend} option(s) {unknown}; valid: {listing}")
    return dict(extra)


backend_options = check_options  # the name backends used before the kit was public
