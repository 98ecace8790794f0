"""edgeinfer: run ML models on edge devices through one interface.

``model = edgeinfer.load("mobilenet.onnx")`` picks the best backend this machine really has, says
which and why (``model.explain()``), and falls back to the next candidate when one fails to open.
Importing edgeinfer imports no runtime: each backend imports its own when a model is opened.
"""

from __future__ import annotations

# The subpackage edgeinfer.backends is imported first (its __init__ is empty and imports no
# runtime) so that importing a backend module later can never rebind ``edgeinfer.backends``:
# the name stays the function below.
from . import backends as _backends_package  # noqa: F401
from ._backend import Backend, OpenOptions
from ._detect import devices
from ._device import DeviceRequest
from ._errors import (
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
from ._load import load
from ._model import Model
from ._registry import backend_infos as backends
from ._registry import register_backend
from ._types import Attempt, Availability, BackendInfo, Device, Quantization, TensorSpec
from ._version import __version__

__all__ = [
    "Attempt",
    "Availability",
    "Backend",
    "BackendInfo",
    "BackendUnavailable",
    "ConfigurationError",
    "Device",
    "DeviceError",
    "DeviceRequest",
    "EdgeInferError",
    "InferenceError",
    "InvalidInput",
    "Model",
    "ModelError",
    "ModelIncompatible",
    "NoBackendAvailable",
    "OpenOptions",
    "Quantization",
    "TensorSpec",
    "UnknownBackend",
    "__version__",
    "backends",
    "devices",
    "load",
    "register_backend",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
