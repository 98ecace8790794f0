"""NCNN backend (``ncnn``): ``.param`` + ``.bin`` networks on the CPU and on Vulkan GPUs.

Inputs and outputs are named by the ``.param`` file's blobs. NCNN has no batch dimension, so
edgeinfer adds a leading dimension of 1 to every input and output: a network converted from a
``[1, 3, 224, 224]`` ONNX or PyTorch model takes ``[1, 3, 224, 224]`` here too (and a blob of
``w`` values is ``[1, w]``). Input shapes come from the ``Input`` layers; output shapes from one
run on zeros at open, where the inputs' shapes are fixed (else unknown).

Options (``load(options={"ncnn": {...}})``): ``net_options``, any other ``ncnn.Option`` field
(``{"use_winograd_convolution": False}``...); ``omp_dynamic`` (default True): NCNN's OpenMP
runtime may use fewer threads than asked when the machine is busy (``set_omp_dynamic(1)``; the
wheel bundles its own libgomp, so no other library is affected). Static teams wait at every
barrier for a descheduled thread: MobileNetV2 on 2 threads here, with other work on the 2
cores, took a median 67 ms (p90 1030 ms) static against 32 ms (p90 48 ms) dynamic. Precision:
see ``config.py``; what runs is in ``details()`` and ``explain()``.

One ``Model`` serves many threads: NCNN's ``Net`` is shared and each call creates its own
``Extractor`` (lightweight; NCNN's own rule is one extractor per thread).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
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
    InvalidInput,
    ModelError,
    OpenOptions,
    TensorSpec,
    captured_native_stderr,
    check_options,
    installed_version,
    translate_errors,
)
from edgeinfer.backends.ncnn.config import (
    OPTION_KEYS,
    apply_precision,
    net_options,
    precision_label,
    vulkan_device,
)
from edgeinfer.backends.ncnn.errors import LOAD_RULES
from edgeinfer.backends.ncnn.param import ParamFacts, read_param

__all__ = ["NcnnBackend"]

_log = logging.getLogger("edgeinfer")
_HINT = "pip install ncnn (what edgeinfer's 'ncnn' extra installs)"
_FLOAT = np.dtype(np.float32)


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("ncnn") is None:
        return Availability(False, "ncnn is not installed", _HINT)
    found = installed_version("ncnn", "ncnn-vulkan")
    return Availability(True, f"ncnn {found or '(unknown version)'} is installed", None, found)


def _specs(facts: ParamFacts) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(name, None if shape is None else (1, *shape), _FLOAT)
        for name, shape in facts.inputs
    )


class NcnnBackend(HeldSpecs, Backend):
    """NCNN behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "ncnn"
    formats: ClassVar[tuple[str, ...]] = ("ncnn",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu")
    extra: ClassVar[str | None] = "ncnn"

    def __init__(
        self,
        ncnn: Any,
        net: Any,
        path: Path,
        facts: ParamFacts,
        device: str,
        details: dict[str, str],
    ) -> None:
        self._ncnn = ncnn
        self._net: Any = net
        self._path = path
        self._device = device
        self._details = details
        self._inputs = _specs(facts)
        self._outputs = tuple(TensorSpec(name, None, _FLOAT) for name in facts.outputs)
        self._input_names = [spec.name for spec in self._inputs]
        self._output_names = list(facts.outputs)
        self._what = f"ncnn failed to run {path.name}"

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> NcnnBackend:
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        facts = read_param(path)
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            raise ModelError(f"ncnn model {path.name} needs {weights.name} beside it (its weights)")
        try:
            with captured_native_stderr():
                import ncnn
        except Exception as error:  # ImportError, or OSError from a missing .so
            raise BackendUnavailable(cls.name, f"import ncnn failed: {error}", _HINT) from error
        net = ncnn.Net()
        opt = net.opt
        apply_precision(opt, options.precision, facts.int8, path.name)
        if options.threads is not None:
            opt.num_threads = options.threads
        net_options(opt, extra)
        dynamic = bool(extra.get("omp_dynamic", True))
        if hasattr(ncnn, "set_omp_dynamic"):
            ncnn.set_omp_dynamic(1 if dynamic else 0)  # NCNN's own bundled OpenMP runtime
        runs_on, where = "cpu", "CPU"
        if device.kind == "gpu":
            index, gpu_name = vulkan_device(ncnn, device)
            opt.use_vulkan_compute = True
            net.set_vulkan_device(index)
            runs_on, where = f"gpu:{index}", f"Vulkan GPU {index}: {gpu_name}"
        elif device.kind != "cpu" or device.index not in (None, 0):
            raise DeviceError(f"ncnn runs on the CPU and Vulkan GPUs, not on {device.id!r}")
        else:
            opt.use_vulkan_compute = False
        what = f"ncnn cannot load {path.name}"
        with captured_native_stderr() as native:
            param_status = net.load_param(str(path))
            model_status = net.load_model(str(weights)) if param_status == 0 else -1
        said = "; ".join(native.lines()) or "no message"
        if param_status != 0:
            with translate_errors(what, LOAD_RULES, default=ModelError):
                raise RuntimeError(f"load_param returned {param_status} ({said})")
        if model_status != 0:
            raise ModelError(f"{what}: load_model({weights.name}) failed ({said})")
        details = {
            "runtime": f"ncnn {_availability().version}",
            "device": where,
            "precision": precision_label(opt, options.precision),
            "threads": str(opt.num_threads)
            + (" (NCNN's default)" if options.threads is None else "")
            + (", OpenMP dynamic (fewer when the machine is busy)" if dynamic else ""),
            "batch": "NCNN has no batch dimension: inputs and outputs carry a leading 1",
        }
        if options.precision is None and "fp16" in details["precision"]:
            _log.info("ncnn runs %s with %s", path.name, details["precision"])
        instance = cls(ncnn, net, path, facts, runs_on, details)
        instance._probe_output_shapes()
        return instance

    def _probe_output_shapes(self) -> None:
        """Fix the outputs' shapes with one run on zeros, where the inputs' shapes are fixed.
        A network NCNN cannot run fails here, at open, as ``ModelError``."""
        if any(spec.shape is None or None in spec.shape for spec in self._inputs):
            return
        zeros = {
            spec.name: np.zeros([d or 1 for d in spec.shape or ()], np.float32)
            for spec in self._inputs
        }
        try:
            results = self.run(zeros)
        except InferenceError as error:
            raise ModelError(f"ncnn cannot run {self._path.name}: {error}") from error
        self._outputs = tuple(
            TensorSpec(spec.name, results[spec.name].shape, _FLOAT) for spec in self._outputs
        )

    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        net = self._net
        if net is None:
            raise InferenceError(f"ncnn network {self._path.name} is closed")
        mat = self._ncnn.Mat
        extractor = net.create_extractor()
        try:
            for name in self._input_names:
                array = feeds[name]
                if array.ndim < 2 or array.shape[0] != 1:
                    raise InvalidInput(
                        f"input {name!r}: ncnn runs one sample at a time (a leading dimension "
                        f"of 1), got shape {list(array.shape)}"
                    )
                sample = np.ascontiguousarray(array[0], dtype=np.float32)
                # clone(): NCNN gets memory it owns, aligned as its kernels expect; a Mat over
                # the caller's array would be written by in-place layers (ReLU after a Split).
                if extractor.input(name, mat(sample).clone()) != 0:
                    raise InferenceError(f"{self._what}: input blob {name!r} was refused")
            outputs: dict[str, np.ndarray] = {}
            for name in self._output_names:
                status, result = extractor.extract(name)
                if status != 0:
                    raise InferenceError(f"{self._what}: extracting {name!r} returned {status}")
                outputs[name] = np.array(result, dtype=np.float32)[np.newaxis]  # a copy
        finally:
            extractor.clear()
        return outputs

    def close(self) -> None:
        # No net.clear(): a call in another thread may still be extracting; its own reference
        # keeps the network alive until it returns.
        self._net = None
