"""edgeinfer: run ML models on edge devices through one interface.

``model = edgeinfer.load("mobilenet.onnx")`` picks the best backend this machine really has, says
which and why (``model.explain()``), and falls back to the next candidate when one fails to open.
Importing edgeinfer imports no runtime: each backend imports its own when a model is opened.

The public names are loaded on first use (PEP 562), so ``import edgeinfer`` stays cheap for
programs that only import it; ``edgeinfer.load`` and friends behave like ordinary attributes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The subpackage edgeinfer.backends is imported now (its __init__ is empty and imports no runtime)
# so that importing a backend module later can never rebind ``edgeinfer.backends``: the name stays
# the function below.
from edgeinfer import backends as _backends_package  # noqa: F401
from edgeinfer._version import __version__

if TYPE_CHECKING:
    from edgeinfer._errors import (
        BackendUnavailable,
        ConfigurationError,
        DeviceError,
        EdgeInferError,
        InferenceError,
        InvalidInput,
        ModelError,
        ModelIncompatible,
        NoBackendAvailable,
        UnknownBackend,
    )
    from edgeinfer._kit.contract import Backend, OpenOptions
    from edgeinfer._model.chain import FallbackEvent, FallbackPolicy
    from edgeinfer._model.health import ModelHealth
    from edgeinfer._model.load import load
    from edgeinfer._model.model import Model
    from edgeinfer._model.profile import OperatorEvent, OperatorProfile
    from edgeinfer._model.stats import LatencyStats
    from edgeinfer._planning.detect import devices
    from edgeinfer._planning.devices import DeviceRequest
    from edgeinfer._planning.registry import register_backend
    from edgeinfer._system.snapshot import (
        CpuFrequency,
        GpuHealth,
        HealthSnapshot,
        JetsonHealth,
        PiThrottled,
        Temperature,
        ThrottleCount,
        health,
    )
    from edgeinfer._types import (
        Attempt,
        Availability,
        BackendInfo,
        Device,
        Quantization,
        TensorSpec,
    )

__all__ = [
    "Attempt",
    "Availability",
    "Backend",
    "BackendInfo",
    "BackendUnavailable",
    "ConfigurationError",
    "CpuFrequency",
    "Device",
    "DeviceError",
    "DeviceRequest",
    "EdgeInferError",
    "FallbackEvent",
    "FallbackPolicy",
    "GpuHealth",
    "HealthSnapshot",
    "InferenceError",
    "InvalidInput",
    "JetsonHealth",
    "LatencyStats",
    "Model",
    "ModelError",
    "ModelHealth",
    "ModelIncompatible",
    "NoBackendAvailable",
    "OpenOptions",
    "OperatorEvent",
    "OperatorProfile",
    "PiThrottled",
    "Quantization",
    "Temperature",
    "TensorSpec",
    "ThrottleCount",
    "UnknownBackend",
    "__version__",
    "backends",
    "devices",
    "health",
    "load",
    "register_backend",
]

# Public name -> the module that defines it.
_WHERE = {
    "Backend": "_kit.contract",
    "OpenOptions": "_kit.contract",
    "devices": "_planning.detect",
    "DeviceRequest": "_planning.devices",
    "load": "_model.load",
    "Model": "_model.model",
    "register_backend": "_planning.registry",
    "FallbackEvent": "_model.chain",
    "FallbackPolicy": "_model.chain",
    "LatencyStats": "_model.stats",
    "ModelHealth": "_model.health",
    "OperatorEvent": "_model.profile",
    "OperatorProfile": "_model.profile",
    **dict.fromkeys(
        (
            "health",
            "HealthSnapshot",
            "Temperature",
            "CpuFrequency",
            "ThrottleCount",
            "PiThrottled",
            "JetsonHealth",
            "GpuHealth",
        ),
        "_system.snapshot",
    ),
    **dict.fromkeys(
        ("Attempt", "Availability", "BackendInfo", "Device", "Quantization", "TensorSpec"),
        "_types",
    ),
    **dict.fromkeys(
        (
            "BackendUnavailable",
            "ConfigurationError",
            "DeviceError",
            "EdgeInferError",
            "InferenceError",
            "InvalidInput",
            "ModelError",
            "ModelIncompatible",
            "NoBackendAvailable",
            "UnknownBackend",
        ),
        "_errors",
    ),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeinfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if isinstance(value, type):
        value.__module__ = __name__  # tracebacks and reprs read edgeinfer.X
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def backends() -> tuple[BackendInfo, ...]:
    """Every registered backend: name, available or not and why, install hint, formats, devices."""
    from edgeinfer._planning.registry import backend_infos

    return backend_infos()
