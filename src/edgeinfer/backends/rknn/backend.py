"""RKNN backend (``rknn``): ``.rknn`` models on Rockchip NPUs (RK3588, RK3576, RK356x, RK3562,
RV1106) through rknn-toolkit-lite2's ``rknnlite.api.RKNNLite``, on the board itself.

The calls are RKNNLite's public API (its ``rknn_lite.py``): ``load_rknn(path)`` and
``init_runtime(core_mask=...)`` return 0 or -1 (the reason goes to its log, which is captured
here), ``inference(inputs=[...], data_format=[...])`` returns a list of arrays or ``None``,
``release()``. RKNNLite exposes no tensor metadata: the number of inputs and outputs is read
from the file (``container.py``); shapes are unknown (``None``) and values float32 (RKNNLite
quantises inputs and dequantises outputs itself). Inputs are ``input_0``..., outputs
``output_0``....

Options (``load(options={"rknn": {...}})``): ``core_mask`` (``"auto"`` default, ``"0"``, ``"1"``,
``"2"``, ``"0_1"``, ``"0_1_2"``, ``"all"``: the RK3588/RK3576 NPU cores), ``data_format``
(``"nchw"`` or ``"nhwc"``, how 4-D inputs are laid out; default RKNNLite's).

Not run here: no Rockchip board (``tests/test_rknn.py`` marks the runtime test ``hardware``).
"""

from __future__ import annotations

import functools
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
    DeviceError,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelError,
    ModelIncompatible,
    OpenOptions,
    TensorSpec,
    captured_native_stderr,
    captured_native_stdout,
    check_options,
    installed_version,
)
from edgeinfer.backends.rknn.container import rknn_io_counts
from edgeinfer.backends.rknn.probe import PACKAGE_HINT, diagnose

__all__ = ["RknnBackend"]

_OPTION_KEYS = ("core_mask", "data_format")
# RKNNLite's class constants (rknn_lite.py), by the names users pass.
CORE_MASKS = {"auto": 0, "0": 1, "1": 2, "2": 4, "0_1": 3, "0_1_2": 7, "all": 0xFFFF}
_FLOAT = np.dtype(np.float32)


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    found = diagnose()
    if not found.usable:
        return Availability(False, found.reason, found.hint)
    version = installed_version("rknn-toolkit-lite2")
    return Availability(True, f"{found.reason}; rknn-toolkit-lite2 {version}", None, version)


class RknnBackend(HeldSpecs, Backend):
    """rknn-toolkit-lite2's RKNNLite behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "rknn"
    formats: ClassVar[tuple[str, ...]] = ("rknn",)
    devices: ClassVar[tuple[str, ...]] = ("npu",)
    extra: ClassVar[str | None] = "rknn"

    def __init__(
        self,
        lite: Any,
        path: Path,
        counts: tuple[int, int],
        data_format: str | None,
        details: dict[str, str],
    ) -> None:
        self._lite: Any = lite
        self._path = path
        self._device = "npu:0"
        self._details = details
        self._format = data_format
        self._inputs = tuple(TensorSpec(f"input_{i}", None, _FLOAT) for i in range(counts[0]))
        self._outputs = tuple(TensorSpec(f"output_{i}", None, _FLOAT) for i in range(counts[1]))
        self._lock = threading.Lock()

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> RknnBackend:
        extra = check_options(cls.name, options.extra, _OPTION_KEYS)
        mask = str(extra.get("core_mask", "auto"))
        if mask not in CORE_MASKS:
            raise ConfigurationError(f"rknn core_mask must be one of {', '.join(CORE_MASKS)}")
        data_format = extra.get("data_format")
        if data_format not in (None, "nchw", "nhwc"):
            raise ConfigurationError("rknn data_format must be 'nchw' or 'nhwc'")
        if device.kind != "npu" or device.index not in (None, 0):
            raise DeviceError(
                f"rknn runs on the board's one Rockchip NPU (npu:0), not {device.id!r}"
            )
        if options.precision not in (None, "int8", "fp16"):
            raise ModelIncompatible(
                "an .rknn model's precision is fixed when rknn-toolkit2 builds it (int8 or fp16)"
            )
        found = diagnose()
        if not found.usable:
            raise BackendUnavailable(cls.name, found.reason, found.hint)
        counts = rknn_io_counts(path)
        try:
            with captured_native_stdout(), captured_native_stderr():
                from rknnlite.api import RKNNLite
        except Exception as error:  # ImportError, or OSError: librknnrt.so missing
            raise BackendUnavailable(
                cls.name, f"import rknnlite failed: {error}", PACKAGE_HINT
            ) from error
        with captured_native_stdout() as said, captured_native_stderr() as errors:
            lite = RKNNLite(verbose=False)
            loaded = lite.load_rknn(str(path))
            started = lite.init_runtime(core_mask=CORE_MASKS[mask]) if loaded == 0 else -1
        log = "; ".join(said.lines() + errors.lines()) or "no message"
        if loaded != 0:
            raise ModelError(f"rknn cannot load {path.name}: {log}")
        if started != 0:
            lite.release()
            if "platform" in log.lower() or "target" in log.lower():
                raise ModelIncompatible(
                    f"{path.name} was not built for this NPU ({found.soc}): {log}"
                )
            raise DeviceError(f"rknn could not start the NPU runtime for {path.name}: {log}")
        details = {
            "runtime": f"rknn-toolkit-lite2 {installed_version('rknn-toolkit-lite2')}",
            "device": f"Rockchip {(found.soc or '?').upper()} NPU, cores: {mask}",
            "precision": "the model's own (fixed when rknn-toolkit2 built it)",
            "shapes": "RKNNLite exposes none: inputs and outputs are float32 of the model's shapes",
        }
        return cls(lite, path, counts, data_format, details)

    def details(self) -> Mapping[str, str]:
        return self._details

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = [np.ascontiguousarray(feeds[spec.name]) for spec in self._inputs]
        kwargs: dict[str, Any] = {"inputs": arrays}
        if self._format is not None:
            kwargs["data_format"] = [self._format] * len(arrays)
        with self._lock:
            lite = self._lite
            if lite is None:
                raise InferenceError(f"rknn model {self._path.name} is closed")
            # No descriptor capture here: it is process-wide, and other threads may be writing.
            results = lite.inference(**kwargs)
        if results is None:
            raise InferenceError(
                f"rknn failed to run {self._path.name}: RKNNLite.inference returned None (its "
                "log, on stderr, says why)"
            )
        return {
            spec.name: np.array(result, copy=True)
            for spec, result in zip(self._outputs, results, strict=True)
        }

    def close(self) -> None:
        with self._lock:
            lite, self._lite = self._lite, None
        if lite is not None:
            lite.release()
