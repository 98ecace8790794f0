"""Coral Edge TPU backend (``edgetpu``): ``*_edgetpu.tflite`` models through LiteRT's
``load_delegate`` and the libedgetpu library (the ``pycoral`` on PyPI is an unrelated project).

Device strings: ``edgetpu`` (the first one), ``edgetpu:usb:N``, ``edgetpu:pci:N``, ``edgetpu:N``;
they become libedgetpu's ``{"device": "usb:N" | "pci:N" | ":N"}``. When the delegate cannot
load, the error names the cause (no library, no device, driver not bound, no permission, busy)
instead of libedgetpu's bare "Failed to load delegate", and its stderr noise is kept from the
user (logged at DEBUG).

Before the first interpreter of this process is made, the first invoke runs in a child process
(``first_invoke.py``), so that a libedgetpu built for another TensorFlow Lite (``pairing.py``)
crashes the child, not the user's process. Options (``options={"edgetpu": {...}}``): the
``litert`` options, ``device`` (libedgetpu's own device string) and ``first_invoke_check``
(default True). The interpreter is ``ai_edge_litert`` or ``tflite_runtime``, never
``tensorflow.lite``.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from edgeinfer.backend import (
    Availability,
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    DeviceRequest,
    EdgeInferError,
    ErrorRule,
    OpenOptions,
    captured_native_stderr,
)
from edgeinfer.backends.edgetpu import first_invoke, pairing
from edgeinfer.backends.edgetpu.diagnosis import Roots, SystemRoots, busy_reason, diagnose
from edgeinfer.backends.edgetpu.errors import OPEN_RULES, RUN_RULES, is_mismatch
from edgeinfer.backends.edgetpu.library import find_library
from edgeinfer.backends.litert import runtime as runtime_lookup
from edgeinfer.backends.litert.backend import LiteRtBackend, Plan

__all__ = ["EdgeTpuBackend", "delegate_device"]

_log = logging.getLogger("edgeinfer")
_HINT = (
    "pip install ai-edge-litert (what edgeinfer's 'edgetpu' extra installs) and the libedgetpu "
    "system library"
)


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
    option_keys: ClassVar[tuple[str, ...]] = (
        *LiteRtBackend.option_keys,
        "device",
        "first_invoke_check",
    )
    # The TPU runs one request at a time: one interpreter unless asked (more only overlap the
    # CPU side of calls: copies and the ops the compiler left on the CPU).
    default_interpreters: ClassVar[int | None] = 1
    allow_tensorflow: ClassVar[bool] = False
    open_rules: ClassVar[tuple[ErrorRule, ...]] = OPEN_RULES
    run_rules: ClassVar[tuple[ErrorRule, ...]] = RUN_RULES
    run_error: ClassVar[type[EdgeInferError]] = DeviceError  # the TPU unplugged or reset
    # Where diagnosis reads sysfs and /dev, and pairing dpkg's status (tests replace them).
    roots: ClassVar[SystemRoots] = Roots()
    dpkg_status: ClassVar[Path] = pairing.DPKG_STATUS

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> LiteRtBackend:
        try:
            return super().open(path, device, options)
        except DeviceError as error:
            if not is_mismatch(error):
                raise
            found = cls._pairing(runtime_lookup.load_runtime(cls.name, False)[0])
            raise BackendUnavailable(
                cls.name,
                f"libedgetpu was built for another TensorFlow Lite than this interpreter "
                f"({error}); {found.reason}",
                found.hint,
            ) from error

    @classmethod
    def _plan(
        cls,
        path: Path,
        device: DeviceRequest,
        extra: Mapping[str, Any],
        runtime: runtime_lookup.Runtime,
        load_delegate: Callable[..., Any],
    ) -> Plan:
        target = delegate_device(device)
        asked = extra.get("device")
        if asked is not None:
            if target is not None and asked != target:
                raise DeviceError(f"device {device.id!r} and option device={asked!r} disagree")
            target = str(asked)
        check = extra.get("first_invoke_check", True)
        if not isinstance(check, bool):
            raise ConfigurationError(f"{cls.name} option first_invoke_check must be True or False")
        library = find_library()
        diagnosis = diagnose(cls.roots, bus=device.bus, library=lambda: library)
        if not diagnosis.usable or library is None:
            if diagnosis.cause in ("no-library", "no-device"):
                raise BackendUnavailable(cls.name, diagnosis.reason, diagnosis.hint)
            raise DeviceError(f"{diagnosis.reason}. Fix: {diagnosis.hint}")
        options = {"device": target} if target is not None else {}
        found = cls._pairing(runtime)
        if found.verdict == "mismatch":
            _log.warning("edgetpu: %s. Fix: %s", found.reason, found.hint)
        checked_at, child_ran = cls._first_invoke(path, library, runtime, options, found, check)
        # ONE delegate, shared by every interpreter of the pool (pycoral's make_interpreter loads
        # one per interpreter, yet takes a pre-loaded one too: its delegate= argument). What
        # libedgetpu's source shows makes sharing safe: the delegate
        # (tflite/edgetpu_delegate_for_custom_op.cc) holds nothing but a shared_ptr to the
        # EdgeTpuContext, and its Prepare writes only into the calling interpreter's own
        # TfLiteContext (SetExternalContext, ReplaceNodeSubsetsWithDelegateKernels); each
        # interpreter's kernels keep their own state. A second load_delegate would end on the
        # same device anyway (tflite_plugin_create_delegate -> EdgeTpuManager::OpenDevice ->
        # TryMatchDriverWrapper hands back the device this process opened), and edgetpu.h says
        # that several interpreters may point to one context, whose functions are thread-safe.
        # Loading it once, here, keeps libedgetpu's loading (and its failures and stderr noise)
        # out of run(), where another interpreter is created while callers wait. Every
        # interpreter holds the Python Delegate, so it is destroyed after the last of them.
        shared = [cls._load_delegate(load_delegate, library, options, retry=child_ran)]
        return Plan(
            lambda: shared,
            {
                "delegate": f"Edge TPU ({library}, device {target or 'the first Edge TPU'}; "
                "one delegate shared by the pool's interpreters)",
                "libedgetpu": found.build.label if found.build else "not from a Debian package",
                "pairing": f"{found.verdict}: {found.reason}",
                "first invoke": checked_at,
            },
            device.id,
        )

    @classmethod
    def _pairing(cls, runtime: runtime_lookup.Runtime) -> pairing.Pairing:
        package = pairing.installed_package(cls.dpkg_status)
        build = pairing.build_of(*package) if package else None
        return pairing.check(runtime.distribution, runtime.version, build)

    @classmethod
    def _first_invoke(
        cls,
        path: Path,
        library: str,
        runtime: runtime_lookup.Runtime,
        options: dict[str, str],
        found: pairing.Pairing,
        check: bool,
    ) -> tuple[str, bool]:
        """Run the first invoke in a child process (once per process for this library and
        runtime): what happened, for ``explain()``, and whether a child ran just now. A crash
        there is an error here, raised before this process loads anything of libedgetpu."""
        if not check:
            return "not checked in a child process (first_invoke_check=False)", False
        if multiprocessing.current_process().name.startswith("edgeinfer:"):
            return "not checked: this backend already runs in its own process (isolate=True)", False
        if getattr(sys, "frozen", False):
            return "not checked: a frozen application cannot start a Python child", False
        outcome, cached = first_invoke.checked(library, path, runtime.module, options)
        if outcome.crashed:
            what = f"the Edge TPU's first invoke of {path.name} {outcome.summary}"
            if found.verdict == "mismatch":
                raise BackendUnavailable(
                    cls.name,
                    f"{what}, and {found.reason}; it was kept out of this process",
                    found.hint,
                )
            raise DeviceError(
                f"{what}; it was kept out of this process. A libedgetpu built for another "
                f"TensorFlow Lite ({found.reason}) is the usual cause. Fix: {found.hint}"
            )
        if not outcome.ok:
            return f"raised in a child process ({outcome.summary}); tried here", True
        return outcome.summary + (" (earlier in this process)" if cached else ""), not cached

    @classmethod
    def _load_delegate(
        cls, load_delegate: Callable[..., Any], library: str, options: dict[str, str], retry: bool
    ) -> Any:
        """libedgetpu's delegate; ``DeviceError`` naming the likely cause when it fails. With
        ``retry``, a second try a second later: a USB Accelerator whose firmware the child
        process just uploaded re-enumerates before it can be opened again."""
        failure: Exception | None = None
        with captured_native_stderr() as native:
            for attempt in range(2 if retry else 1):
                if attempt:
                    time.sleep(1.0)
                try:
                    return load_delegate(library, options)
                except Exception as error:  # ValueError("Failed to load delegate from ...")
                    _defuse_partial_delegate(error)
                    failure = error
        assert failure is not None
        # What the library reported through load_delegate's error handler (the lines after
        # "Failed to load delegate from ..."), then what it printed on stderr.
        reported = [line for line in str(failure).splitlines()[1:] if line.strip()]
        raise DeviceError(busy_reason([*reported, *native.lines()])) from failure


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
    runtime = runtime_lookup.availability(allow_tensorflow=False)
    if not runtime.available:
        return Availability(False, f"{runtime.reason} (the Edge TPU runs through LiteRT)", _HINT)
    library = find_library()
    if library is None:
        diagnosis = diagnose(EdgeTpuBackend.roots, library=lambda: None)
        return Availability(False, diagnosis.reason, diagnosis.hint)
    return Availability(True, f"{library} and {runtime.reason}", None, runtime.version)
