"""MNN backend (``mnn``): ``.mnn`` models through MNN's session API, on the CPU and, where the
MNN build has them, OpenCL or Vulkan GPUs.

Why the session API (``Interpreter``/``Session``) and not ``MNN.nn.load_module_from_file``: the
session reports the backend it really runs on (``getSessionInfo(session, BACKENDS)``), so a GPU
request that MNN would quietly run on the CPU is refused; its tensors give the specs. (MNN's docs
mark it "deprecated" in favour of the Module API, which is needed for models with control flow;
those are refused at open with the reason.)

Options (``load(options={"mnn": {...}})``): ``precision_mode`` (``low``, ``normal``, ``high``,
``low_bf16``; or ``precision=`` fp32 -> high, fp16 -> low, bf16 -> low_bf16), ``gpu_backend``
(``OPENCL`` default, ``VULKAN``), ``memory_mode`` and ``power_mode`` (``low``/``normal``/
``high``). MNN prints to stdout from C (its CPU features at import); the backend keeps that off
the user's terminal.

One session serves every thread, one call at a time (a session holds its tensors).
"""

from __future__ import annotations

import functools
import importlib.util
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
    HeldSpecs,
    InferenceError,
    ModelError,
    ModelIncompatible,
    OpenOptions,
    captured_native_stderr,
    captured_native_stdout,
    check_options,
    installed_version,
    translate_errors,
)
from edgeinfer.backends.mnn.config import (
    BACKENDS_INFO,
    CPU_TYPES,
    FORWARD_TYPES,
    GPU_HINT,
    OPTION_KEYS,
    forward_name,
    precision_mode,
    schedule_config,
)
from edgeinfer.backends.mnn.errors import OPEN_RULES
from edgeinfer.backends.mnn.tensors import read, spec_of, write

__all__ = ["MnnBackend"]

_HINT = "pip install mnn (what edgeinfer's 'mnn' extra installs)"


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("MNN") is None:
        return Availability(False, "MNN is not installed", _HINT)
    found = installed_version("mnn", "MNN")
    return Availability(True, f"MNN {found or '(unknown version)'} is installed", None, found)


def import_mnn() -> Any:
    """``import MNN`` with its C-level stdout and stderr captured."""
    try:
        with captured_native_stdout(), captured_native_stderr():
            import MNN
    except Exception as error:  # ImportError, or OSError from a missing .so
        raise BackendUnavailable("mnn", f"import MNN failed: {error}", _HINT) from error
    return MNN


class MnnBackend(HeldSpecs, Backend):
    """MNN behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "mnn"
    formats: ClassVar[tuple[str, ...]] = ("mnn",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu")
    extra: ClassVar[str | None] = "mnn"

    def __init__(
        self,
        mnn: Any,
        interpreter: Any,
        session: Any,
        path: Path,
        device: str,
        details: dict[str, str],
    ) -> None:
        self._mnn = mnn
        self._interpreter: Any = interpreter
        self._session: Any = session
        self._path = path
        self._device = device
        self._details = details
        self._lock = threading.Lock()
        inputs = interpreter.getSessionInputAll(session)
        outputs = interpreter.getSessionOutputAll(session)
        # MNN keeps tensors in name-sorted maps; the file's own order is not exposed.
        self._input_tensors = dict(inputs)
        self._output_tensors = dict(outputs)
        self._inputs = tuple(spec_of(mnn, n, t) for n, t in self._input_tensors.items())
        self._outputs = tuple(spec_of(mnn, n, t) for n, t in self._output_tensors.items())
        self._what = f"mnn failed to run {path.name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> MnnBackend:
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        mode = precision_mode(options.precision, extra)
        backend = forward_name(device, extra)
        config = schedule_config(backend, options.threads, mode, extra)
        mnn = import_mnn()
        with captured_native_stdout() as said, captured_native_stderr() as errors:
            try:
                interpreter = mnn.Interpreter(str(path))
            except Exception as error:
                native = error
                interpreter = None
            session = None
            if interpreter is not None:
                try:
                    session = interpreter.createSession(config)
                except Exception as error:
                    native = error
        lines = "; ".join(said.lines() + errors.lines())
        if interpreter is None:
            raise ModelError(
                f"mnn cannot read {path.name}: {native} ({lines or 'no message'})"
            ) from native
        if session is None:
            what = f"mnn cannot create a session for {path.name}"
            with translate_errors(what, OPEN_RULES, ModelIncompatible):
                raise RuntimeError(f"{native} ({lines or 'no message'})") from native
        with translate_errors(f"mnn cannot read {path.name}'s tensors", OPEN_RULES, ModelError):
            running = int(interpreter.getSessionInfo(session, BACKENDS_INFO))
            instance = cls(mnn, interpreter, session, path, device.id, {})
        wanted = FORWARD_TYPES.get(backend)
        if backend != "CPU" and running != wanted and "Can't Find type" in lines:
            raise BackendUnavailable(
                cls.name, f"this MNN build has no {backend} backend ({lines})", GPU_HINT
            )
        if backend != "CPU" and running != wanted:
            raise DeviceError(
                f"mnn ran the session on backend type {running} instead of {backend} (MNN said: "
                f"{lines or 'nothing'}); {GPU_HINT}"
            )
        if backend == "CPU" and running not in CPU_TYPES:
            raise DeviceError(f"mnn ran a CPU session on backend type {running}")
        instance._details = {
            "runtime": f"MNN {_availability().version} (session API)",
            "device": backend if running != 13 else "CPU (MNN's CPU extension backend)",
            "precision": f"{mode} (MNN precision mode"
            + (", as asked)" if options.precision or "precision_mode" in extra else "; default)"),
            "threads": "4 (MNN's default)" if options.threads is None else str(options.threads),
        }
        return instance

    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            interpreter, session = self._interpreter, self._session
            if session is None:
                raise InferenceError(f"mnn session for {self._path.name} is closed")
            mnn = self._mnn
            try:
                for name, tensor in self._input_tensors.items():
                    write(mnn, tensor, feeds[name])
                status = interpreter.runSession(session)
                if status != 0:
                    raise InferenceError(f"{self._what}: runSession returned {status}")
                return {
                    spec.name: read(mnn, self._output_tensors[spec.name], spec.dtype)
                    for spec in self._outputs
                }
            except InferenceError:
                raise
            except Exception as error:
                raise InferenceError(f"{self._what}: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._session = self._interpreter = None
