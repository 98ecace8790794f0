"""Coral Edge TPU backend (``edgetpu``): ``*_edgetpu.tflite`` models through LiteRT's
``load_delegate`` and the libedgetpu library (the ``pycoral`` on PyPI is an unrelated project).

Device strings: ``edgetpu`` (the first one), ``edgetpu:usb:N``, ``edgetpu:pci:N``, ``edgetpu:N``;
they become libedgetpu's ``{"device": "usb:N" | "pci:N" | ":N"}``. When the delegate cannot
load, the error names the cause (no library, no device, driver not bound, no permission, busy)
instead of libedgetpu's bare "Failed to load delegate", and its stderr noise is kept from the
user (logged at DEBUG). The TPU serves one call at a time: one interpreter behind a lock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from edgeinfer._errors import BackendUnavailable, DeviceError, EdgeInferError
from edgeinfer._kit.native_stderr import captured_native_stderr
from edgeinfer._planning.detect import Roots
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import Availability
from edgeinfer.backends.edgetpu.probe import busy_reason, diagnose, find_library, library_name
from edgeinfer.backends.litert import runtime as runtime_lookup
from edgeinfer.backends.litert.backend import LiteRtBackend

__all__ = ["EdgeTpuBackend", "delegate_device"]

_HINT = "pip install 'edgeinfer[edgetpu]' and the libedgetpu system library"


def delegate_device(device: DeviceRequest) -> str | None:
    """libedgetpu's ``device`` option for an edgeinfer device, ``None`` for "the first one"."""
    if device.bus is None and device.index is None:
        return None
    if device.bus is None:
        return f":{device.index}"
    return f"{device.bus}:{device.index or 0}" if device.index is not None else device.bus


class EdgeTpuBackend(LiteRtBackend):
    """LiteRT with the Edge TPU delegate."""

    name: ClassVar[str] = "edgetpu"
    formats: ClassVar[tuple[str, ...]] = ("tflite-edgetpu",)
    devices: ClassVar[tuple[str, ...]] = ("edgetpu",)
    extra: ClassVar[str | None] = "edgetpu"
    default_interpreters: ClassVar[int | None] = 1
    roots: ClassVar[Roots] = Roots()  # where diagnosis reads sysfs and /dev (tests replace it)

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def _option_keys(cls) -> tuple[str, ...]:
        return (*super()._option_keys(), "device")

    @classmethod
    def _delegates(
        cls, device: DeviceRequest, extra: Mapping[str, Any], load_delegate: Callable[..., Any]
    ) -> list[Any]:
        target = delegate_device(device)
        asked = extra.get("device")
        if asked is not None:
            if target is not None and asked != target:
                raise DeviceError(f"device {device.id!r} and option device={asked!r} disagree")
            target = str(asked)
        diagnosis = diagnose(cls.roots, bus=device.bus)
        if not diagnosis.usable:
            if diagnosis.cause in ("no-library", "no-device"):
                raise BackendUnavailable(cls.name, diagnosis.reason, diagnosis.hint)
            raise DeviceError(f"{diagnosis.reason}. Fix: {diagnosis.hint}")
        options = {"device": target} if target is not None else {}
        failure: Exception | None = None
        with captured_native_stderr() as native:
            try:
                delegate = load_delegate(find_library() or library_name(), options)
            except Exception as error:  # ValueError("Failed to load delegate from ...")
                failure = error
        if failure is not None:
            _defuse_partial_delegate(failure)
            raise DeviceError(busy_reason(native.lines())) from failure
        return [delegate]

    @classmethod
    def _extra_details(cls, device: DeviceRequest, extra: Mapping[str, Any]) -> dict[str, str]:
        target = delegate_device(device) or "the first Edge TPU"
        return {"delegate": f"Edge TPU ({find_library() or library_name()}, device {target})"}

    @classmethod
    def _device_id(cls, device: DeviceRequest) -> str:
        return device.id

    def _run_error(self, error: Exception) -> EdgeInferError:
        """A failure on the TPU (unplugged, reset) is the device's, so the next candidate runs."""
        return DeviceError(f"the Edge TPU failed while running {self._path.name}: {error}")


def _defuse_partial_delegate(error: BaseException) -> None:
    """A ``Delegate`` whose library failed to load has no ``_library``, and its ``__del__`` then
    raises while being collected ("Exception ignored in Delegate.__del__", printed on stderr at
    an arbitrary later moment). Find that half-built object in the traceback and mark it empty."""
    traceback = error.__traceback__
    while traceback is not None:
        candidate: Any = traceback.tb_frame.f_locals.get("self")
        if type(candidate).__name__ == "Delegate" and not hasattr(candidate, "_library"):
            candidate._library = None
        traceback = traceback.tb_next


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    runtime = runtime_lookup.availability()
    if not runtime.available:
        return Availability(False, f"{runtime.reason} (the Edge TPU runs through LiteRT)", _HINT)
    if find_library() is None:
        diagnosis = diagnose(EdgeTpuBackend.roots, library=lambda: None)
        return Availability(False, diagnosis.reason, diagnosis.hint)
    return Availability(True, f"{find_library()} and {runtime.reason}", None, runtime.version)
