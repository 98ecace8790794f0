"""Finding, importing and talking to TensorRT: availability, the import, the logger, deserializing.

``availability()`` only looks for the packages (``find_spec`` and installed metadata): that finds
the Python bindings even where ``libnvinfer``/``libnvonnxparser`` are missing, so ``load()`` does
the real import and reports the loader's own words (``libnvonnxparser.so.10: cannot open shared
object file``) as ``BackendUnavailable``.

TensorRT reports failures through its logger, not through exceptions: ``deserialize_cuda_engine``
and ``build_serialized_network`` return ``None`` and log why. ``Logger`` keeps the recent error
and warning lines so that the edgeinfer error can quote them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from collections import deque
from typing import Any

from edgeinfer._errors import BackendUnavailable, ModelError, ModelIncompatible
from edgeinfer._kit.versions import installed_version as _installed
from edgeinfer._types import Availability

__all__ = [
    "HINT",
    "availability",
    "deserialize",
    "installed_version",
    "load_tensorrt",
    "major_version",
    "make_logger",
]

_log = logging.getLogger("edgeinfer")

HINT = (
    "pip install 'edgeinfer[tensorrt]' --extra-index-url https://pypi.nvidia.com "
    "(TensorRT's wheels come from NVIDIA's index); on Jetson, TensorRT comes with JetPack "
    "(sudo apt install nvidia-jetpack; create virtualenvs with --system-site-packages)"
)
_TRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")
_CUDA_DISTRIBUTIONS = ("cuda-bindings", "cuda-python")
# Words in TensorRT's log that mean "a valid engine, for another TensorRT or another GPU".
_INCOMPATIBLE_MARKERS = (
    "not compatible with this version",
    "version tag does not match",
    "serialization assertion",
    "incompatible device",
    "expecting compute",
    "expecting library version",
)


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


def make_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that sends TensorRT's messages to the ``edgeinfer`` logger (errors and
    warnings at DEBUG: they reach the user inside the edgeinfer error) and keeps the last few."""

    class _Logger(trt.ILogger):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.recent: deque[str] = deque(maxlen=20)

        def log(self, severity: Any, msg: str) -> None:
            level = int(severity)  # INTERNAL_ERROR 0, ERROR 1, WARNING 2, INFO 3, VERBOSE 4
            if level <= 2:
                self.recent.append(str(msg))
                _log.debug("tensorrt: %s", msg)

        def take(self) -> str:
            """The recent errors and warnings, joined, and forgotten."""
            text = " | ".join(self.recent)
            self.recent.clear()
            return text

    return _Logger()


def is_incompatible(log_text: str) -> bool:
    """True when TensorRT's log says the engine was built by another TensorRT or for another GPU."""
    lowered = log_text.lower()
    return any(marker in lowered for marker in _INCOMPATIBLE_MARKERS)


def deserialize(trt: Any, runtime: Any, logger: Any, data: bytes, name: str) -> Any:
    """An ``ICudaEngine`` from engine bytes, or the edgeinfer error that says why not."""
    logger.take()
    failure: Exception | None = None
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except Exception as error:
        engine, failure = None, error
    if engine is not None:
        return engine
    said = logger.take() or (str(failure) if failure else "no reason given")
    version = getattr(trt, "__version__", "?")
    if is_incompatible(said):
        error_out: ModelError = ModelIncompatible(
            f"{name} was built by another TensorRT version or for another GPU, and this is "
            f"TensorRT {version}: an engine only loads on the TensorRT (and GPU model) that built "
            f"it. Rebuild it here, or keep the .onnx beside it so edgeinfer can fall back "
            f"[TensorRT said: {said}]"
        )
    else:
        error_out = ModelError(f"TensorRT {version} cannot deserialize {name}: {said}")
    if failure is not None:
        raise error_out from failure
    raise error_out
