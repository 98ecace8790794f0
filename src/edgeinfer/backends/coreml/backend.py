"""Core ML backend (``coreml``): ``.mlpackage`` and ``.mlmodel`` through coremltools' ``MLModel``.

Devices become Core ML compute units: ``npu`` -> ``CPU_AND_NE``, ``gpu`` -> ``CPU_AND_GPU``,
``cpu`` -> ``CPU_ONLY``, and under ``device="auto"`` one candidate of kind ``auto`` -> ``ALL``
(Core ML then picks per layer). Core ML cannot be held to one accelerator: the CPU always takes
the layers the chosen accelerator cannot run.

Prediction needs macOS; elsewhere ``availability()`` says so and ``open`` raises
``BackendUnavailable``, but ``read_specs()`` still reads a model's inputs and outputs. A model's
compute precision is fixed when it is converted: ``precision="fp16"`` is accepted only for a
model that computes in fp16. ``predict`` runs one call at a time per model (a lock): Apple
documents only its async API as thread-safe, and coremltools' binding holds the GIL anyway.
The backend takes no options; compiled ``.mlmodelc`` folders are not supported yet.
"""

from __future__ import annotations

import importlib
import logging
import platform
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    BackendUnavailable,
    DeviceError,
    DeviceRequest,
    EdgeInferError,
    HeldSpecs,
    InferenceError,
    ModelIncompatible,
    OpenOptions,
    Placement,
    TensorSpec,
    check_options,
)
from edgeinfer.backends.coreml import runtime
from edgeinfer.backends.coreml.specs import (
    Feature,
    check_runnable,
    from_core_ml,
    model_precision,
    model_type,
    read_features,
    to_core_ml,
)

__all__ = ["COMPUTE_UNITS", "CoreMlBackend", "compute_units_for", "read_specs"]

_log = logging.getLogger("edgeinfer")

# edgeinfer device kind -> coremltools.ComputeUnit member name.
COMPUTE_UNITS: dict[str, str] = {
    "npu": "CPU_AND_NE",
    "gpu": "CPU_AND_GPU",
    "cpu": "CPU_ONLY",
    "auto": "ALL",
}
_UNITS_IN_WORDS = {
    "CPU_AND_NE": "the Neural Engine, with the CPU for the layers it cannot run",
    "CPU_AND_GPU": "the GPU, with the CPU for the layers it cannot run",
    "CPU_ONLY": "the CPU only",
    "ALL": "Core ML chooses among CPU, GPU and Neural Engine per layer",
}


def compute_units_for(device: DeviceRequest) -> str:
    """The ``coremltools.ComputeUnit`` name for an edgeinfer device. Raises ``DeviceError`` for a
    device Core ML cannot be pointed at (an Edge TPU, or ``gpu:1``: Core ML picks the Mac's own)."""
    units = COMPUTE_UNITS.get(device.kind)
    if units is None or device.bus is not None:
        raise DeviceError(
            f"Core ML does not run on {device.id}; it runs on {', '.join(COMPUTE_UNITS)}"
        )
    if device.index not in (None, 0):
        raise DeviceError(
            f"Core ML cannot be pointed at {device.id}: it uses the Mac's own {device.kind}; ask "
            f"for {device.kind!r} without an index"
        )
    return units


def read_specs(path: str | Path) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The inputs and outputs of a ``.mlpackage`` or ``.mlmodel``, read from its specification.

    Works on any OS with coremltools installed (no Core ML needed). Raises ``FileNotFoundError``,
    ``BackendUnavailable`` (no coremltools), ``ModelError`` (unreadable) or ``ModelIncompatible``
    (features edgeinfer cannot express, such as a classifier's dictionary of probabilities).
    """
    ct = runtime.import_coremltools(CoreMlBackend.name)
    inputs, outputs = read_features(runtime.read_spec(ct, Path(path)))
    return tuple(f.spec for f in inputs), tuple(f.spec for f in outputs)


def _check_precision(asked: str | None, precision: str, kind: str) -> None:
    if asked in (None, "fp32") or asked == precision:
        return
    raise ModelIncompatible(
        f"Core ML runs the precision fixed when the model was converted ({kind}: {precision}); "
        f"it cannot run it in {asked}. Convert it again (coremltools.convert(..., "
        "compute_precision=...)) or use another backend"
    )


class CoreMlBackend(HeldSpecs, Backend):
    """coremltools' ``MLModel`` behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "coreml"
    formats: ClassVar[tuple[str, ...]] = ("coreml",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "coreml"
    chooses_device: ClassVar[bool] = True
    placement_report: ClassVar[bool] = True

    def __init__(
        self,
        model: Any,
        features: tuple[tuple[Feature, ...], tuple[Feature, ...]],
        path: Path,
        device: str,
        units: str,
        details: dict[str, str],
        image: Any = None,
    ) -> None:
        self._model: Any = model
        self._in, self._out = features
        self._inputs = tuple(f.spec for f in self._in)
        self._outputs = tuple(f.spec for f in self._out)
        self._path = path
        self._device = device
        self._details = details
        self._units = units
        self._image = image  # PIL.Image, when the model has image features
        self._lock = threading.Lock()

    @classmethod
    def availability(cls) -> Availability:
        return runtime.availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> CoreMlBackend:
        check_options(cls.name, options.extra, ())
        units = compute_units_for(device)
        if path.suffix.lower() == ".mlmodelc":
            raise ModelIncompatible(
                f"{path.name} is a compiled Core ML model; edgeinfer opens .mlpackage and .mlmodel "
                "files (the compiled form has no specification to read)"
            )
        ct = runtime.import_coremltools(cls.name)
        spec = runtime.read_spec(ct, path)
        features = read_features(spec)
        check_runnable(spec)
        kind, precision = model_type(spec), model_precision(spec)
        _check_precision(options.precision, precision, kind)
        found = runtime.availability()
        if not found.available:  # off macOS: the specs are read, prediction is impossible
            raise BackendUnavailable(cls.name, found.reason, found.hint)
        cls._check_mac(kind, units, path)
        image = cls._image_module(features)
        try:
            with runtime.quietly(f"load {path.name}") as said:
                model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, units))
        except Exception as error:
            raise runtime.load_error(error, path, units) from error
        if getattr(model, "__proxy__", None) is None:
            raise runtime.unloaded_error(model, spec, path, units, said)
        if options.threads is not None:
            _log.info(
                "coreml: threads=%s does not apply: Core ML schedules itself", options.threads
            )
        asked = options.precision
        unchanged = (
            f"; precision={asked!r} cannot change it" if asked not in (None, precision) else ""
        )
        details = {
            "compute units": f"{units} ({_UNITS_IN_WORDS[units]})",
            "runtime": f"coremltools {found.version}, Core ML on macOS {platform.mac_ver()[0]}",
            "model type": kind,
            "precision": f"{precision} (fixed when the model was converted{unchanged})",
            "calls": "one at a time per model (MLModel.predict behind a lock)",
        }
        if options.float_io:
            details["float_io"] = "nothing to convert: Core ML features carry no quantisation"
        device_id = "auto" if units == "ALL" else device.id
        return cls(model, features, path, device_id, units, details, image)

    @staticmethod
    def _check_mac(kind: str, units: str, path: Path) -> None:
        """What this Mac cannot do, said before Core ML says it less clearly."""
        version = runtime.mac_version()
        if (kind == "mlProgram" or path.is_dir()) and version < (12,):
            raise ModelIncompatible(
                f"{path.name} is an ML program: Core ML runs those on macOS 12+"
            )
        if units == "CPU_AND_NE" and platform.machine() != "arm64":
            raise DeviceError(
                f"this Mac ({platform.machine()}) has no Neural Engine; use 'gpu', 'cpu' or 'auto'"
            )

    @staticmethod
    def _image_module(features: tuple[tuple[Feature, ...], tuple[Feature, ...]]) -> Any:
        if not any(f.kind == "image" for f in features[0]):
            return None
        try:
            return importlib.import_module("PIL.Image")
        except ImportError as error:
            raise BackendUnavailable(
                "coreml",
                "the model takes images, which coremltools passes as PIL images, and "
                "Pillow is not installed",
                "pip install pillow",
            ) from error

    # --- the contract -----------------------------------------------------------------------
    def details(self) -> Mapping[str, str]:
        return dict(self._details)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        model = self._model
        if model is None:
            raise InferenceError(f"Core ML model {self._path.name} is closed")
        data = {}
        for feature in self._in:
            array = feeds[feature.spec.name]
            if feature.flexible:
                feature.check_shape(array.shape)
            data[feature.spec.name] = to_core_ml(feature, array, self._image)
        with self._lock:
            try:
                results = model.predict(data)
            except EdgeInferError:
                raise
            except Exception as error:
                raise runtime.run_error(error, self._path, self._units) from error
        try:
            return {f.spec.name: from_core_ml(f, results[f.spec.name]) for f in self._out}
        except (KeyError, TypeError, ValueError) as error:
            raise InferenceError(
                f"Core ML returned outputs for {self._path.name} that do not match its "
                f"description: {type(error).__name__}: {error}"
            ) from error

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """Core ML's compute plan: the device it prefers for each operation (unverified here)."""
        from edgeinfer.backends.coreml.placement import compute_plan, placement_report

        model = self._model
        if model is None:
            raise InferenceError(f"Core ML model {self._path.name} is closed")
        try:
            plan = compute_plan(runtime.import_coremltools(self.name), model, self._units)
        except Exception as error:  # coremltools < 8, macOS < 14.4, a model it cannot plan
            reason = f"Core ML gave no compute plan ({type(error).__name__}: {error}); it needs "
            return Placement.unknown(
                self.name, self._device, reason + "coremltools 8+ on macOS 14.4+"
            )
        return placement_report(self.name, self._device, plan)

    def close(self) -> None:
        self._model = None
