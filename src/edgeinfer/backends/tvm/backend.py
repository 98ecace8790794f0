"""Apache TVM backend (``tvm``): modules compiled by TVM (a ``.so`` with its JSON sidecar) and
ONNX models compiled on load through the Relax ONNX frontend, on the CPU (LLVM, for this
machine's CPU model) and on GPUs TVM has a runtime for (CUDA, Vulkan, OpenCL: detected, never
assumed).

A compiled module is cached (``edgeinfer.backend.cache_dir()/tvm``; key: the model's sha256, the
TVM version, the target, the tuning budget), so only the first load of a model compiles it.
``python -m edgeinfer.compile MODEL.onnx --backend tvm`` (or ``edgeinfer.compile``) compiles
ahead of time, so a device loads a ready ``.so`` instead of compiling at start-up.

Not in ``device="auto"``'s plan for ONNX models: compiling takes seconds to minutes and
untuned TVM is slower than ONNX Runtime, so an ONNX model is compiled only when asked for by
name (``backend="tvm"``); a ``.so`` compiled by TVM is this backend's alone and loads under
``auto``. A ``.so`` is native code: load only modules you compiled or trust.

Options (``load(options={"tvm": {...}})``):

- ``target``: a TVM target dict (``{"kind": "llvm", "mcpu": "cortex-a76"}``); default: this
  machine's CPU, or the first GPU runtime that works for ``device="gpu"``.
- ``tune``: MetaSchedule trials (default 0: untuned); the records are kept with the module.
- ``shapes``: ``{input: [sizes]}`` fixing dynamic dimensions at compile time (TVM's frontend
  imports some models only with static shapes, and MetaSchedule tunes static shapes only).
- ``cache``: ``True`` (default) keeps compiled modules in the cache folder; ``False`` compiles
  on every load and writes nothing.

``threads`` sets TVM's thread pool, which is one for the whole process (``threads.py``).
Precision is the model's own (``None`` or ``"fp32"``); others are ``ModelIncompatible``. One
Relax VM serves every thread, one call at a time (it holds its registers).
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    BackendUnavailable,
    ConfigurationError,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelIncompatible,
    OpenOptions,
    check_onnx_file,
    check_options,
    installed_version,
    translate_errors,
)
from edgeinfer.backends.tvm.errors import LOAD_RULES, RUN_RULES
from edgeinfer.backends.tvm.modules import cached_or_compiled, caching_of, compile_for
from edgeinfer.backends.tvm.sidecar import Sidecar, read_sidecar
from edgeinfer.backends.tvm.targets import check_runs_here, is_cpu_kind
from edgeinfer.backends.tvm.threads import apply_threads, size_pool_before_import

__all__ = ["TvmBackend"]

_HINT = (
    "pip install apache-tvm 'apache-tvm-ffi>=0.1.14,<0.1.15' onnx cloudpickle (what edgeinfer's "
    "'tvm' extra installs)"
)
OPTION_KEYS = ("target", "tune", "shapes", "cache")


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("tvm") is None:
        return Availability(False, "Apache TVM is not installed", _HINT)
    found = installed_version("apache-tvm", "tvm")
    return Availability(
        True, f"Apache TVM {found or '(unknown version)'} is installed", None, found
    )


def import_tvm(threads: int | None = None) -> Any:
    """``import tvm`` (about a second: its compiler library loads with it), its thread pool's
    ceiling set first (``threads.py``)."""
    size_pool_before_import(threads)
    try:
        import tvm
        from tvm import relax  # noqa: F401 - the VM and the frontend live here
    except Exception as error:  # ImportError, or OSError from a missing .so
        raise BackendUnavailable("tvm", f"import tvm failed: {error}", _HINT) from error
    return tvm


def _check_precision(precision: str | None) -> None:
    if precision not in (None, "fp32"):
        raise ModelIncompatible(
            f"the tvm backend runs the model in its own precision (fp32 for a float model); "
            f"precision={precision!r} needs a model converted to it (edgeinfer.optimize)"
        )


def _device(tvm: Any, kind: str, index: int | None) -> Any:
    return tvm.cpu(0) if is_cpu_kind(kind) else tvm.device(kind, index or 0)


def _c_order(array: np.ndarray) -> np.ndarray:
    """``array`` in C order for TVM, 0-d kept 0-d (``np.ascontiguousarray`` makes scalars 1-d,
    which the VM refuses: a published model's scalar ``sr`` input found it)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def _outputs(result: Any) -> list[Any]:
    if hasattr(result, "numpy"):
        return [result]
    return list(result)


class TvmBackend(HeldSpecs, Backend):
    """Apache TVM's Relax VM behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "tvm"
    formats: ClassVar[tuple[str, ...]] = ("tvm", "onnx")
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu")
    extra: ClassVar[str | None] = "tvm"
    compiles_ahead: ClassVar[bool] = True

    def __init__(
        self,
        tvm: Any,
        vm: Any,
        device: Any,
        name: str,
        sidecar: Sidecar,
        details: dict[str, str],
        model_name: str,
    ) -> None:
        self._tvm = tvm
        self._vm: Any = vm
        self._main: Any = vm["main"]
        self._dev = device
        self._inputs = sidecar.inputs
        self._outputs = sidecar.outputs
        self._device = name
        self._details = details
        self._lock = threading.Lock()
        self._model_name = model_name
        self._what = f"tvm failed to run {model_name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> TvmBackend:
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        _check_precision(options.precision)
        tvm = import_tvm(options.threads)
        version = str(tvm.__version__)
        if path.suffix.lower() == ".onnx":  # checked against this machine by the cache
            module, sidecar, how = cached_or_compiled(tvm, version, path, device, extra)
        else:
            if {"target", "tune", "shapes"} & set(extra):
                raise ConfigurationError(
                    f"{path.name} is already compiled: the tvm options 'target', 'tune' and "
                    "'shapes' apply to ONNX models"
                )
            module, sidecar = path, read_sidecar(path)
            check_runs_here(tvm, sidecar, version, device)
            how = f"compiled ahead of time, in {sidecar.compile_seconds:.2f} s"
        try:
            return cls._opened(tvm, module, sidecar, path, device, options.threads, how)
        finally:
            if module != path and not caching_of(extra):
                shutil.rmtree(module.parent, ignore_errors=True)  # loaded: the file can go

    @classmethod
    def _opened(
        cls,
        tvm: Any,
        module: Path,
        sidecar: Sidecar,
        path: Path,
        request: DeviceRequest,
        threads: int | None,
        how: str,
    ) -> TvmBackend:
        kind = sidecar.target["kind"]
        with translate_errors(f"tvm cannot load {module.name}", LOAD_RULES):
            library = tvm.runtime.load_module(str(module))
            device = _device(tvm, kind, request.index)
            vm = tvm.relax.VirtualMachine(library, device)
        running = apply_threads(tvm, threads)
        tune = (
            f"{sidecar.tune_trials} MetaSchedule trials, {sidecar.tune_seconds:.1f} s"
            if sidecar.tune_trials
            else "untuned (options={'tvm': {'tune': N}} tunes N trials)"
        )
        details = {
            "runtime": f"Apache TVM {sidecar.tvm_version} (Relax VM)",
            "target": ", ".join(f"{k}={v}" for k, v in sidecar.target.items() if k != "host"),
            "module": str(module),
            "compile": how,
            "tune": tune,
            "threads": running,
            "precision": "the model's own",
        }
        name = "cpu" if is_cpu_kind(kind) else f"gpu:{request.index or 0}"
        return cls(tvm, vm, device, name, sidecar, details, path.name)

    @classmethod
    def compile_ahead(
        cls, path: Path, out: Path | None, device: DeviceRequest, options: OpenOptions
    ) -> Path:
        """Compile the ONNX model ``path`` into ``out`` (default ``<stem>.tvm.so`` beside it)
        and its sidecar (``<stem>.tvm.json``)."""
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        _check_precision(options.precision)
        if path.suffix.lower() != ".onnx":
            raise ConfigurationError(
                f"the tvm backend compiles ONNX models ahead of time; {path.name} is not one"
            )
        check_onnx_file(path)
        tvm = import_tvm()
        out = path.with_name(f"{path.stem}.tvm.so") if out is None else out
        compile_for(tvm, str(tvm.__version__), path, out, device, extra)
        return out

    # --- running -----------------------------------------------------------------------------
    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            if self._vm is None:
                raise InferenceError(f"tvm session for {self._model_name} is closed")
            tensor, device = self._tvm.runtime.tensor, self._dev
            with translate_errors(self._what, RUN_RULES, InferenceError):
                args = [tensor(_c_order(feeds[s.name]), device) for s in self._inputs]
                results = _outputs(self._main(*args))
                arrays = [result.numpy() for result in results]
        if len(arrays) != len(self._outputs):
            raise InferenceError(
                f"{self._what}: it returned {len(arrays)} outputs; the model declares "
                f"{len(self._outputs)}"
            )
        return {spec.name: array for spec, array in zip(self._outputs, arrays, strict=True)}

    def close(self) -> None:
        with self._lock:
            self._vm = self._main = None
