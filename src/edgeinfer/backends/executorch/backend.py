"""ExecuTorch backend (``executorch``): ``.pte`` programs through the ExecuTorch runtime's Python
bindings (``executorch.runtime``), on the CPU; programs lowered to XNNPACK run on its delegate.

The runtime's bindings load libtorch (``portable_lib`` imports ``torch`` first), so the extra
brings torch as well as executorch. Inputs and outputs are positional in a ``.pte`` program:
``input_0``... and ``output_0``... (see ``specs.py``).

Options (``load(options={"executorch": {...}})``): ``method`` (default ``"forward"``).
``threads`` resizes ExecuTorch's thread pool, which is one for the whole process
(``_unsafe_reset_threadpool``). Precision is the program's own: ``"fp32"``/``"fp16"`` are
accepted when the program's float tensors are of that type, otherwise ``ModelIncompatible``.
A loaded method holds its own memory-planned buffers: calls run one at a time and outputs are
copied out.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
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
    ErrorRule,
    HeldSpecs,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    OpenOptions,
    TensorSpec,
    captured_native_stderr,
    check_options,
    installed_version,
    translate_errors,
    translated,
)
from edgeinfer.backends.executorch.specs import method_specs

__all__ = ["ExecuTorchBackend"]

_HINT = (
    "pip install executorch torch (what edgeinfer's 'executorch' extra installs: the ExecuTorch "
    "runtime and the torch it loads)"
)
_OPTION_KEYS = ("method",)
_LOAD_RULES = (
    ErrorRule(ModelIncompatible, messages=("not registered", "NotSupported", "not found")),
)
_RUN_RULES = (ErrorRule(InvalidInput, messages=("InvalidArgument", "size", "dtype", "rank")),)


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("executorch") is None:
        return Availability(False, "executorch is not installed", _HINT)
    if importlib.util.find_spec("torch") is None:
        return Availability(
            False, "executorch is installed but torch, whose libraries its runtime loads, is not",
            "pip install torch",
        )  # fmt: skip
    found = installed_version("executorch")
    return Availability(
        True, f"executorch {found or '(unknown version)'} is installed", None, found
    )


def _import_runtime() -> tuple[Any, Any, Any]:
    """``(Runtime, Verification, torch)``, the runtime's native noise captured."""
    try:
        with captured_native_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "This API is experimental" on every import
            import torch
            from executorch.runtime import Runtime, Verification
    except Exception as error:  # ImportError, OSError from libtorch, an ABI mismatch
        raise BackendUnavailable(
            "executorch", f"import executorch.runtime failed: {error}", _HINT
        ) from error
    return Runtime, Verification, torch


def _check_precision(precision: str | None, specs: tuple[TensorSpec, ...], name: str) -> None:
    if precision is None:
        return
    floats = {spec.dtype for spec in specs if spec.dtype.kind == "f"}
    wanted = {"fp32": np.dtype(np.float32), "fp16": np.dtype(np.float16)}.get(precision)
    if wanted is None or (floats and floats != {wanted}):
        held = ", ".join(sorted(map(str, floats))) or "no float tensors"
        raise ModelIncompatible(
            f"executorch runs {name} as exported ({held}); it cannot convert it to "
            f"{precision}: export the program in that precision"
        )


def _set_threads(threads: int | None) -> str:
    try:
        from executorch.extension.pybindings import portable_lib
    except Exception:  # the count is for explain() only
        return "runtime default"
    if threads is not None:
        portable_lib._unsafe_reset_threadpool(threads)
        return f"{threads} (ExecuTorch's thread pool is process-wide)"
    return f"{portable_lib._threadpool_get_thread_count()} (ExecuTorch's default)"


class ExecuTorchBackend(HeldSpecs, Backend):
    """The ExecuTorch runtime behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "executorch"
    formats: ClassVar[tuple[str, ...]] = ("executorch",)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    extra: ClassVar[str | None] = "executorch"

    def __init__(
        self, torch: Any, program: Any, method: Any, path: Path, details: dict[str, str]
    ) -> None:
        self._torch = torch
        self._program: Any = program  # the method reads the program's buffers: keep it alive
        self._method: Any = method
        self._path = path
        self._device = "cpu"
        self._details = details
        self._inputs, self._outputs = method_specs(method.metadata)
        self._lock = threading.Lock()
        self._what = f"executorch failed to run {path.name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> ExecuTorchBackend:
        extra = check_options(cls.name, options.extra, _OPTION_KEYS)
        if device.kind != "cpu" or device.index not in (None, 0):
            raise DeviceError(f"executorch runs on the CPU here, not on {device.id!r}")
        runtime_class, verification, torch = _import_runtime()
        with (
            captured_native_stderr() as native,
            translate_errors(f"executorch cannot load {path.name}", _LOAD_RULES, ModelError),
        ):
            runtime = runtime_class.get()
            program = runtime.load_program(str(path), verification=verification.Minimal)
        wanted = str(extra.get("method", "forward"))
        names = sorted(program.method_names)
        if wanted not in names:
            raise ModelIncompatible(
                f"{path.name} has no method {wanted!r} (it has {', '.join(names)}); choose one "
                "with options={'executorch': {'method': ...}}"
            )
        with (
            captured_native_stderr() as native,
            translate_errors(
                f"executorch cannot load method {wanted!r} of {path.name}",
                _LOAD_RULES,
                ModelIncompatible,
            ),
        ):
            method = program.load_method(wanted)
        del native
        backends = ", ".join(sorted(runtime.backend_registry.registered_backend_names))
        details = {
            "runtime": f"executorch {_availability().version} (torch {torch.__version__})",
            "method": wanted,
            "delegates registered": backends or "none",
            "precision": "the program's own",
            "threads": _set_threads(options.threads),
        }
        instance = cls(torch, program, method, path, details)
        _check_precision(options.precision, instance._inputs + instance._outputs, path.name)
        return instance

    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        tensors = [
            torch.from_numpy(
                feeds[spec.name] if feeds[spec.name].flags.writeable else feeds[spec.name].copy()
            )
            for spec in self._inputs
        ]
        with self._lock:
            method = self._method
            if method is None:
                raise InferenceError(f"executorch program {self._path.name} is closed")
            try:
                results = method.execute(tensors)
            except Exception as error:
                raise translated(error, self._what, _RUN_RULES) from error
            # Outputs live in the method's memory-planned buffers: copy them before the next call.
            return {
                spec.name: np.array(result.numpy(), copy=True)
                for spec, result in zip(self._outputs, results, strict=True)
            }

    def close(self) -> None:
        with self._lock:
            self._method = self._program = None
