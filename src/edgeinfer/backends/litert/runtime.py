"""Which TFLite interpreter this machine has, and how to read tensor details into specs.

Preference: ``ai_edge_litert`` (LiteRT, maintained), then ``tflite_runtime`` (frozen at 2.14,
built against numpy 1.x: it cannot import beside numpy 2, which is detected and said), then
``tensorflow.lite`` when TensorFlow happens to be installed. The Edge TPU never uses
``tensorflow.lite`` (``allow_tensorflow=False``): see ``edgetpu/pairing.py``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.backend import (
    Availability,
    BackendUnavailable,
    ConfigurationError,
    Quantization,
    TensorSpec,
    installed_version,
)

__all__ = [
    "HINT",
    "RESOLVERS",
    "Runtime",
    "availability",
    "load_runtime",
    "op_resolver",
    "quantization_of",
    "spec_of",
]

HINT = "pip install ai-edge-litert (what edgeinfer's 'litert' extra installs)"
RESOLVERS = ("auto", "builtin", "builtin_without_default_delegates", "builtin_ref")


@dataclass(frozen=True, slots=True)
class Runtime:
    """One importable TFLite interpreter: its module, distribution and version."""

    module: str
    distribution: str
    version: str | None

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version or '(unknown version)'}"


_CANDIDATES = (
    ("ai_edge_litert.interpreter", ("ai-edge-litert", "ai-edge-litert-nightly")),
    ("tflite_runtime.interpreter", ("tflite-runtime",)),
    ("tensorflow.lite", ("tensorflow", "tensorflow-cpu", "tensorflow-aarch64")),
)


def _version(distributions: tuple[str, ...]) -> tuple[str, str | None]:
    """The installed distribution of a runtime and its version (the first name when unknown)."""
    for distribution in distributions:
        version = installed_version(distribution)
        if version is not None:
            return distribution, version
    return distributions[0], None


@functools.lru_cache(maxsize=2)
def _find(allow_tensorflow: bool = True) -> tuple[Runtime | None, str]:
    """The runtime to use, or ``None`` with the reason none can be used."""
    problems = []
    for module, distributions in _CANDIDATES:
        if module == "tensorflow.lite" and not allow_tensorflow:
            continue
        if importlib.util.find_spec(module.split(".")[0]) is None:
            continue
        distribution, version = _version(distributions)
        if distribution == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2:
            problems.append(
                f"tflite-runtime {version} is installed but was built against numpy 1.x and "
                f"cannot import beside numpy {np.__version__}"
            )
            continue
        return Runtime(module, distribution, version), ""
    if not allow_tensorflow and importlib.util.find_spec("tensorflow") is not None:
        problems.append(
            "only TensorFlow's tf.lite is installed, and the Edge TPU runs through ai-edge-litert "
            "or tflite-runtime only (libedgetpu builds are paired with those; TensorFlow's own "
            "tf.lite.Interpreter warns that it is deprecated in favour of ai_edge_litert)"
        )
    return None, "; ".join(problems) or "no TFLite interpreter is installed"


@functools.lru_cache(maxsize=2)
def availability(allow_tensorflow: bool = True) -> Availability:
    """Whether a TFLite interpreter can be imported here (cached; imports nothing)."""
    runtime, reason = _find(allow_tensorflow)
    if runtime is None:
        return Availability(
            False,
            reason,
            HINT + " (or: pip install 'numpy<2' for tflite-runtime)" if "numpy" in reason else HINT,
        )
    return Availability(True, f"{runtime.label} is installed", None, runtime.version)


def load_runtime(
    backend: str, allow_tensorflow: bool = True
) -> tuple[Runtime, type[Any], Callable[..., Any]]:
    """Import the interpreter: ``(runtime, Interpreter class, load_delegate)``."""
    runtime, reason = _find(allow_tensorflow)
    if runtime is None:
        raise BackendUnavailable(backend, reason, availability(allow_tensorflow).hint)
    try:
        module = importlib.import_module(runtime.module)
    except Exception as error:  # ImportError, or OSError from a missing .so on boards
        raise BackendUnavailable(
            backend, f"import {runtime.module} failed: {type(error).__name__}: {error}", HINT
        ) from error
    if runtime.module == "tensorflow.lite":
        return runtime, module.Interpreter, module.experimental.load_delegate
    return runtime, module.Interpreter, module.load_delegate


def op_resolver(interpreter_class: type[Any], name: Any) -> Any:
    """The interpreter module's ``OpResolverType`` member for the ``op_resolver`` option, or
    ``None`` for ``"auto"`` (the runtime's own choice)."""
    if name not in RESOLVERS:
        raise ConfigurationError(f"litert op_resolver must be one of {', '.join(RESOLVERS)}")
    if name == "auto":
        return None
    module = __import__(interpreter_class.__module__, fromlist=["OpResolverType"])
    return getattr(module.OpResolverType, name.upper())


def quantization_of(detail: Mapping[str, Any]) -> Quantization | None:
    """The quantisation of a tensor from its LiteRT details, or ``None`` for a float tensor."""
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", ()), dtype=np.float64).ravel()
    if scales.size == 0:
        return None
    zero_points = np.asarray(params.get("zero_points", ()), dtype=np.int64).ravel()
    axis = int(params.get("quantized_dimension", 0)) if scales.size > 1 else None
    return Quantization(tuple(float(s) for s in scales), tuple(int(z) for z in zero_points), axis)


def spec_of(name: str, detail: Mapping[str, Any]) -> TensorSpec:
    """A ``TensorSpec`` from LiteRT tensor details; ``-1`` in the shape signature is dynamic."""
    signature = detail.get("shape_signature")
    dims = signature if signature is not None and len(signature) else detail["shape"]
    shape = tuple(int(d) if int(d) >= 0 else None for d in dims)
    return TensorSpec(name, shape, np.dtype(detail["dtype"]), quantization_of(detail))
