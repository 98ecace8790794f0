"""A backend that really crashes its process: for isolation tests only, never a runtime.

``CrashingBackend`` opens any file. What it does is chosen by ``OpenOptions.extra["mode"]`` (or,
without it, by the model file's stem, e.g. ``segfault.onnx``), at the moment chosen by
``extra["when"]``: ``"run"`` (default) or ``"open"``.

Modes that end the process: ``segfault`` (reads address 0), ``abort`` (``os.abort()``), ``exit``
(``os._exit(3)``), ``hang`` (sleeps an hour). Modes that raise: ``device_error``,
``invalid_input``, ``model_error`` (with a native ``OSError`` chained), ``bug`` (a plain
``ZeroDivisionError``). ``segfault_once`` crashes on the first call while the file named by
``extra["flag"]`` exists (deleting it), then works: a backend that recovers in a new process.
Modes that work: ``echo`` (returns every input as an output of the same name) and anything else
(``y = x * 2`` on float32 ``x`` [1, 4]).

The crashes happen only in a process that multiprocessing started (an isolated backend's child):
called in the main process they raise ``RuntimeError`` instead, so a mistake in a test can never
take the test run down.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgeinfer import (
    Availability,
    Backend,
    DeviceError,
    DeviceRequest,
    InvalidInput,
    ModelError,
    OpenOptions,
    TensorSpec,
)

TARGET = "crashing_backend:CrashingBackend"
CRASHES = ("segfault", "abort", "exit", "hang")
EXIT_CODE = 3
SPEC_IN = TensorSpec("x", (1, 4), np.dtype(np.float32))
SPEC_OUT = TensorSpec("y", (1, 4), np.dtype(np.float32))


def _misbehave(mode: str) -> None:
    """Crash or raise as ``mode`` says; return for modes that work."""
    if mode in CRASHES and multiprocessing.parent_process() is None:
        raise RuntimeError(f"CrashingBackend refuses to {mode} the main process: isolate it")
    if mode == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    elif mode == "abort":
        os.abort()
    elif mode == "exit":
        os._exit(EXIT_CODE)
    elif mode == "hang":
        time.sleep(3600)
    elif mode == "device_error":
        raise DeviceError("the fake accelerator fell off the bus")
    elif mode == "invalid_input":
        raise InvalidInput("input 'x': inconsistent dynamic dimensions")
    elif mode == "model_error":
        try:
            raise OSError(5, "native read failure")
        except OSError as native:
            raise ModelError("crashing cannot read the model") from native
    elif mode == "bug":
        _ = 1 / 0


class CrashingBackend(Backend):
    """Crashes, hangs or raises on purpose; see the module docstring."""

    name: ClassVar[str] = "crashing"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)

    def __init__(self, mode: str, flag: str | None = None) -> None:
        self.mode = mode
        self.flag = flag  # for "segfault_once": crash while this file exists, deleting it

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, "crashing is a test backend")

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> CrashingBackend:
        mode = str(options.extra.get("mode", path.stem))
        if options.extra.get("when", "run") == "open":
            _misbehave(mode)
        flag = options.extra.get("flag")
        return cls(mode, None if flag is None else str(flag))

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (SPEC_IN,)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return (SPEC_OUT,)

    def details(self) -> Mapping[str, str]:
        return {"runtime": f"crashing ({self.mode})"}

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.mode == "segfault_once" and self.flag is not None and os.path.exists(self.flag):
            os.remove(self.flag)
            _misbehave("segfault")
        _misbehave(self.mode)
        if self.mode == "echo":
            return {name: np.array(value, copy=True) for name, value in feeds.items()}
        return {"y": feeds["x"] * np.float32(2)}

    def close(self) -> None:
        pass
