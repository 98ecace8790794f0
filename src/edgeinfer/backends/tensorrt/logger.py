"""One TensorRT logger for the whole process, and the messages of one operation.

TensorRT keeps a single logger per process: the one given to the first ``Builder``/``Runtime``
is used for everything after it ("TensorRT maintains only a single logger pointer at any given
time, so the existing value ... will be used instead", NVIDIA/TensorRT#1475), and
``init_libnvinfer_plugins`` stores the raw pointer in the plugin library (``gLogger =
static_cast<ILogger*>(logger)`` in ``plugin/api/inferPlugin.cpp``) while its Python binding
(``python/src/infer/pyPlugin.cpp``) does not keep the object alive; only ``Builder``/``Runtime``
do (``py::keep_alive<1, 2>`` in ``pyCore.cpp``). A logger per ``open()`` therefore sends later
models' errors to the first one, and may leave TensorRT calling a freed object.

So ``process_logger`` makes one logger, on first use, and keeps it for the life of the process.
TensorRT calls ``log`` on the thread that made the call (``deserialize_cuda_engine`` and
``build_serialized_network`` release the GIL and run on the caller's thread; the builder uses
no other thread unless ``IBuilder::setMaxThreads`` raises its default of 1), possibly from
several threads at once (``ILogger::log`` "is required to be thread-safe"). Each operation
collects what is logged on its own thread while it runs with a ``Capture``: a thread-local stack,
so concurrent loads and nested operations each get their own lines. Lines logged where no
capture is open go to the ``edgeinfer`` logger at DEBUG only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from types import TracebackType
from typing import Any

from edgeinfer.backend import EdgeInferError
from edgeinfer.backends.tensorrt.errors import TensorRtError

__all__ = ["Capture", "process_logger"]

_log = logging.getLogger("edgeinfer")
_WARNING = 2  # ILogger.Severity: INTERNAL_ERROR 0, ERROR 1, WARNING 2, INFO 3, VERBOSE 4
_KEPT_LINES = 40  # per capture: a long build's warnings must not grow without bound

_local = threading.local()
_lock = threading.Lock()
# (tensorrt module, its logger), never released: TensorRT may hold the logger until exit. One
# entry in a real process; tests that stand in for tensorrt add one per stand-in module.
_loggers: list[tuple[Any, Any]] = []


def _stack() -> list[Capture]:
    stack: list[Capture] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


class Capture:
    """The errors and warnings TensorRT logs on this thread while the block runs::

        with Capture() as heard:
            engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            ... heard.text() ...

    Reusable (entering clears it), not re-entrant. A non-edgeinfer exception raised in the
    block leaves it as a ``TensorRtError`` that adds what TensorRT said (a ``TypeError:
    factory function returned nullptr`` says nothing; the log says why), the original chained.
    """

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=_KEPT_LINES)

    def text(self) -> str:
        """The lines, joined; empty when TensorRT said nothing."""
        return " | ".join(self.lines)

    def __enter__(self) -> Capture:
        self.lines.clear()
        _stack().append(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack = _stack()
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:  # exited out of order: still never leave it behind
            stack.remove(self)
        if isinstance(error, Exception) and not isinstance(error, EdgeInferError) and self.lines:
            raise TensorRtError(
                f"{type(error).__name__}: {error} [TensorRT said: {self.text()}]"
            ) from error


def _route(severity: Any, message: Any) -> None:
    try:
        level = int(severity)
    except (TypeError, ValueError):
        level = 1
    if level > _WARNING:
        return  # INFO and VERBOSE: TensorRT's progress chatter
    text = str(message)
    stack: list[Capture] | None = getattr(_local, "stack", None)
    if stack:
        stack[-1].lines.append(text)
    _log.debug("tensorrt: %s", text)


def _make(trt: Any) -> Any:
    class EdgeInferLogger(trt.ILogger):  # type: ignore[misc]
        """Routes TensorRT's messages to the capture open on the calling thread."""

        def __init__(self) -> None:
            trt.ILogger.__init__(self)  # the binding's own constructor, as its docs require

        def log(self, severity: Any, msg: str) -> None:
            # Never raise into TensorRT: its trampoline would print the exception to stderr.
            with contextlib.suppress(Exception):
                _route(severity, msg)

    return EdgeInferLogger()


def process_logger(trt: Any) -> Any:
    """The process's ``trt.ILogger``: made on first use (and TensorRT's plugins registered with
    it, once), then the same object for every ``Builder``, ``Runtime`` and ``OnnxParser``."""
    with _lock:
        for module, logger in _loggers:
            if module is trt:
                return logger
        logger = _make(trt)
        _loggers.append((trt, logger))
        try:  # TensorRT's own plugins, for engines and ONNX models that use them
            trt.init_libnvinfer_plugins(logger, "")
        except Exception as error:  # a lean runtime has no libnvinfer_plugin; most models need none
            _log.debug("tensorrt: init_libnvinfer_plugins failed: %s", error)
        return logger
