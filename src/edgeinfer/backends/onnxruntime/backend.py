"""ONNX Runtime backend (``onnxruntime``): ``.onnx`` on the CPU and on whatever execution
providers the installed onnxruntime build offers (CUDA, DirectML, CoreML, OpenVINO, QNN, ...).

Options (``load(options={"onnxruntime": {...}})``):

- ``session_options``: SessionOptions settings, e.g. ``{"graph_optimization_level":
  "ORT_ENABLE_BASIC"}`` (enum settings take the member's name or its int value).
- ``session_config``: ``add_session_config_entry`` key/values.
- ``provider_options``: options for the chosen execution provider (merged over ours).
- ``providers``: the accelerator's execution providers in the order to try them; only providers
  that serve the requested device kind are allowed.

ONNX models carry no quantisation parameters on their inputs and outputs (quantised ONNX models
use QuantizeLinear/DequantizeLinear inside the graph), so ``float_io`` has nothing to convert here.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping, Sequence
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
    OnnxFacts,
    OpenOptions,
    OperatorEvent,
    Placement,
    check_onnx_file,
    check_options,
    installed_version,
    translate_errors,
    translated,
)
from edgeinfer.backends.onnxruntime.config import OPTION_KEYS, choose_providers, session_options
from edgeinfer.backends.onnxruntime.errors import OPEN_RULES, RUN_RULES, provider_rule
from edgeinfer.backends.onnxruntime.profile import RECORD_ASSIGNMENT, assignment, can_record
from edgeinfer.backends.onnxruntime.specs import dim_names, specs

__all__ = ["OnnxRuntimeBackend"]

_HINT = "pip install onnxruntime (what edgeinfer's 'onnx' extra installs)"
_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-qnn",
    "onnxruntime-silicon",
    "onnxruntime-rocm",
)


@functools.lru_cache(maxsize=1)
def _installed_version() -> str | None:
    return installed_version(*_DISTRIBUTIONS)


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    if importlib.util.find_spec("onnxruntime") is None:
        return Availability(False, "onnxruntime is not installed", _HINT)
    version = _installed_version()
    return Availability(
        True, f"onnxruntime {version or '(unknown version)'} is installed", None, version
    )


def _direct_run(session: Any) -> Any:
    """The call that runs ``session``: its pybind binding ``_sess.run(names, feeds, options)``.

    ``InferenceSession.run`` checks the feeds' names in Python (about 2 us a call) and then calls
    that binding; ``Model`` has already checked them against the same specs. The binding has kept
    this signature through onnxruntime 1.x; where a build lacks it, the public call serves.
    """
    binding = getattr(getattr(session, "_sess", None), "run", None)
    return binding if callable(binding) else session.run


class OnnxRuntimeBackend(HeldSpecs, Backend):
    """ONNX Runtime behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "onnxruntime"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)
    devices: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "npu")
    extra: ClassVar[str | None] = "onnx"
    operator_profiling: ClassVar[bool] = True
    placement_report: ClassVar[bool] = True

    def __init__(
        self,
        session: Any,
        path: Path,
        device: str,
        options: OpenOptions,
        providers: list[tuple[str, dict[str, str]]] | None = None,
        facts: OnnxFacts | None = None,
    ) -> None:
        self._session: Any = session
        self._run: Any = _direct_run(session)
        self._path = path
        self._device = device
        self._options = options
        self._providers = providers or [("CPUExecutionProvider", {})]
        self._threads = options.threads
        self._float_io = options.float_io
        self._inputs = specs(session.get_inputs(), facts)
        self._outputs = specs(session.get_outputs(), facts)
        self._output_names = [spec.name for spec in self._outputs]
        self._single_output = self._output_names[0] if len(self._output_names) == 1 else None
        self._dim_names = dim_names(session.get_inputs())
        self._metadata = dict(session.get_modelmeta().custom_metadata_map)
        self._what = f"onnxruntime failed to run {path.name}"
        self._recorded = False  # the session keeps each node's execution provider

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> OnnxRuntimeBackend:
        extra = check_options(cls.name, options.extra, OPTION_KEYS)
        if options.precision not in (None, "fp32"):
            raise ModelIncompatible(
                f"onnxruntime runs the model's own precision and cannot convert to "
                f"{options.precision}; give an already converted model, or another backend"
            )
        facts = check_onnx_file(path)
        try:
            import onnxruntime as ort
        except Exception as error:  # ImportError, or an OSError from a missing .so on boards
            raise BackendUnavailable(
                cls.name, f"import onnxruntime failed: {error}", _HINT
            ) from error
        providers = choose_providers(ort.get_available_providers(), device, extra)
        settings = session_options(ort, options.threads, extra)
        wanted = providers[0][0]
        recorded = device.kind != "cpu" and can_record(ort)
        if recorded:  # where each node runs, kept at partitioning (no run): read at load
            settings.add_session_config_entry(RECORD_ASSIGNMENT, "1")
        what = f"onnxruntime cannot open {path.name}"
        rules = (*OPEN_RULES, provider_rule(wanted)) if device.kind != "cpu" else OPEN_RULES
        with translate_errors(what, rules, default=ModelError):
            # enable_fallback=0: onnxruntime would otherwise retry on the CPU silently (printing
            # to stdout) when a provider fails, at creation and at run time.
            session = ort.InferenceSession(
                str(path), sess_options=settings, providers=providers, enable_fallback=0
            )
            session.disable_fallback()
        if wanted not in session.get_providers():
            raise DeviceError(
                f"onnxruntime created the session without {wanted} (it got "
                f"{', '.join(session.get_providers())}): the provider failed to initialise, "
                "usually a missing driver or CUDA/cuDNN library. Set options {'onnxruntime': "
                "{'session_options': {'log_severity_level': 0}}} to see onnxruntime's reason"
            )
        with translate_errors(what, OPEN_RULES, default=ModelError):
            opened = cls(session, path, device.id, options, providers, facts)
        opened._recorded = recorded
        return opened

    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        return self._dim_names

    def metadata(self) -> Mapping[str, str]:
        return self._metadata

    def details(self) -> Mapping[str, str]:
        session = self._session
        providers = session.get_providers() if session is not None else []
        found = {
            "runtime": f"onnxruntime {_installed_version()}",
            "providers": ", ".join(providers),
            "threads": "runtime default" if self._threads is None else str(self._threads),
            "precision": "the model's own",
        }
        if self._float_io:
            found["float_io"] = "nothing to convert: ONNX inputs and outputs carry no quantisation"
        return found

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        run = self._run
        if run is None:
            raise InferenceError(f"onnxruntime session for {self._path.name} is closed")
        try:
            results = run(self._output_names, feeds, None)
        except Exception as error:
            raise translated(error, self._what, RUN_RULES) from error
        if self._single_output is not None:
            return {self._single_output: results[0]}
        return dict(zip(self._output_names, results))  # noqa: B905 - one result per name

    def operator_events(
        self, feeds: Mapping[str, np.ndarray], runs: int
    ) -> Sequence[OperatorEvent]:
        """Per-node times from onnxruntime's own profiler, on a separate profiling session."""
        from edgeinfer.backends.onnxruntime.profile import operator_events

        return operator_events(self._path, self._providers, self._options, feeds, runs)

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        """Each node's execution provider (the session's own record where it kept one, else a
        second session's) and, with ``feeds``, each provider's share of the profiled time."""
        from edgeinfer.backends.onnxruntime.placement import placement_report

        session = self._session
        if session is None:
            raise InferenceError(f"onnxruntime session for {self._path.name} is closed")
        recorded = assignment(session) if self._recorded else None
        return placement_report(
            self.name, self._device, self._path, self._providers, self._options, recorded, feeds
        )

    def close(self) -> None:
        self._session = self._run = None
