"""Finding, importing and talking to TensorRT: availability, the import, deserializing.

``availability()`` only looks for the packages (``find_spec`` and installed metadata): that finds
the Python bindings even where ``libnvinfer``/``libnvonnxparser`` are missing, so ``load()`` does
the real import and reports the loader's own words (``libnvonnxparser.so.10: cannot open shared
object file``) as ``BackendUnavailable``.

TensorRT reports failures through its logger, not through exceptions: ``deserialize_cuda_engine``
returns ``None`` and logs why. ``logger.py`` holds the one logger of the process and the
``Capture`` that collects what it logs during one call; ``errors.py`` classifies it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

from edgeinfer.backend import (
    Availability,
    BackendUnavailable,
    ModelError,
    ModelIncompatible,
    translated,
)
from edgeinfer.backend import installed_version as _installed
from edgeinfer.backends.tensorrt.errors import (
    DESERIALIZE_RULES,
    STALE_ENGINE_ADVICE,
    TensorRtError,
)
from edgeinfer.backends.tensorrt.logger import Capture

__all__ = [
    "HINT",
    "availability",
    "deserialize",
    "installed_version",
    "load_tensorrt",
    "major_version",
]

HINT = (
    "pip install tensorrt-cu13 'cuda-python>=13,<14' --extra-index-url https://pypi.nvidia.com "
    "(what edgeinfer's 'tensorrt-cu13' extra installs: CUDA 13, NVIDIA driver 580 or later; "
    "tensorrt-cu12 'cuda-python>=12,<13', the 'tensorrt-cu12' extra, for a CUDA 12 driver, 525 "
    "or later: nvidia-smi shows the driver's CUDA). On Jetson, TensorRT "
    "comes with JetPack (sudo apt install nvidia-jetpack): create the virtualenv with "
    "--system-site-packages and add only cuda-python of JetPack's CUDA ('cuda-python>=12,<13' "
    "on JetPack 6, 'cuda-python>=13,<14' on JetPack 7)"
)
_TRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")
_CUDA_DISTRIBUTIONS = ("cuda-bindings", "cuda-python")


@functools.lru_cache(maxsize=1)
def installed_version() -> str | None:
    """TensorRT's version from installed metadata (no import); ``None`` when unknown."""
    return _installed(*_TRT_DISTRIBUTIONS)


@functools.lru_cache(maxsize=1)
def availability() -> Availability:
    """Whether TensorRT and cuda-python are installed. Cached; imports nothing; never raises."""
    try:
        if importlib.util.find_spec("tensorrt") is None:
            return Availability(
                False, "TensorRT's Python package (tensorrt) is not installed", HINT
            )
        if importlib.util.find_spec("cuda") is None:
            return Availability(
                False,
                "cuda-python is not installed (TensorRT's backend moves data with it)",
                HINT,
            )
    except (ImportError, ValueError) as error:  # a broken parent package or odd sys.modules
        return Availability(False, f"cannot look for TensorRT: {error}", HINT)
    version = installed_version()
    cuda = _installed(*_CUDA_DISTRIBUTIONS)
    return Availability(
        True,
        f"TensorRT {version or '(unknown version)'} and cuda-python {cuda or '(unknown version)'} "
        "are installed (a GPU is needed to use them)",
        None,
        version,
    )


def load_tensorrt(backend: str) -> Any:
    """Import ``tensorrt``; ``BackendUnavailable`` with the loader's message when it fails."""
    try:
        return importlib.import_module("tensorrt")
    except Exception as error:  # ImportError (libnvinfer.so.10 ...) or OSError on boards
        raise BackendUnavailable(
            backend,
            f"import tensorrt failed: {type(error).__name__}: {error} (the Python bindings are "
            "installed but TensorRT's libraries, or a CUDA library they need, cannot be loaded)",
            HINT,
        ) from error


def major_version(trt: Any) -> int:
    """TensorRT's major version from ``trt.__version__`` (0 when unreadable)."""
    try:
        return int(str(trt.__version__).split(".", 1)[0])
    except (AttributeError, ValueError):
        return 0


def deserialize(trt: Any, runtime: Any, data: Any, name: str) -> Any:
    """An ``ICudaEngine`` from engine bytes, or the edgeinfer error that says why not (from what
    TensorRT logged meanwhile: ``deserialize_cuda_engine`` returns ``None`` and logs the reason)."""
    raised: Exception | None = None
    with Capture() as heard:
        try:
            engine = runtime.deserialize_cuda_engine(data)
        except Exception as error:
            engine, raised = None, error
    if engine is not None:
        return engine
    said = heard.text() or (f"{type(raised).__name__}: {raised}" if raised else "no reason given")
    failure = TensorRtError(said)
    failure.__cause__ = raised
    version = getattr(trt, "__version__", "?")
    found = translated(
        failure, f"TensorRT {version} cannot deserialize {name}", DESERIALIZE_RULES, ModelError
    )
    if isinstance(found, ModelIncompatible):
        found.args = (f"{found}{STALE_ENGINE_ADVICE}",)
    raise found from failure
