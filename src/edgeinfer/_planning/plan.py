"""Turn files, a device chain and optional backend pins into an ordered list of candidates.

The order is: the device chain first (the user's preference is law), then the files in preference
order, then the backends that read the format on that device kind, by their registry rank.
Candidates whose backend cannot run here are not dropped silently: each leaves an ``Attempt``
saying why. A model named by URL is planned on the ``remote`` device only, and files on this
machine's devices only; ``auto`` adds ``remote`` (after the CPU) only when a URL was given, so a
plan never sends inputs off the device unless the caller named where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edgeinfer._errors import BackendUnavailable
from edgeinfer._kit.contract import Backend
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._planning.formats import ModelSource, ModelUrl, only_runs_on
from edgeinfer._planning.registry import (
    backend_class,
    devices_of,
    entries,
    formats_of,
    install_hint,
    safe_availability,
)
from edgeinfer._types import Attempt, Device

__all__ = ["AUTO_KIND_ORDER", "REMOTE", "Candidate", "Step", "expand_devices", "plan"]

# Under ``device="auto"``, accelerators are tried in this order of kinds, then the CPU, then a
# server where a model named by URL runs (only when one was given).
AUTO_KIND_ORDER: tuple[str, ...] = ("edgetpu", "gpu", "npu")
REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to run the model: this backend, on this device, with this file (a ``Path``, or a
    ``ModelUrl`` on the ``remote`` device)."""

    backend: str
    device: DeviceRequest
    file: ModelSource
    format: str

    def attempt(
        self,
        ok: bool,
        reason: str,
        error: str | None = None,
        *,
        hint: str | None = None,
        seconds: float | None = None,
    ) -> Attempt:
        return Attempt(
            self.backend, self.device.id, str(self.file), ok, reason, error, hint, seconds
        )

    def failed(self, error: BaseException, seconds: float | None = None) -> Attempt:
        """The attempt record of ``error`` raised while trying this candidate."""
        if isinstance(error, BackendUnavailable):
            return self.attempt(
                False, error.reason, type(error).__name__, hint=error.hint, seconds=seconds
            )
        return self.attempt(False, str(error), type(error).__name__, seconds=seconds)


def expand_devices(
    chain: Sequence[DeviceRequest | None],
    found: Sequence[Device],
    formats: Sequence[str] = (),
) -> tuple[DeviceRequest, ...]:
    """Replace ``auto`` (``None``) by the kinds of accelerator found, best first, then the CPU.

    ``auto`` asks for each kind's default device (no index): device numbering differs between
    runtimes (CUDA counts NVIDIA GPUs only), so an index is only used when the caller gives one.
    """
    expanded: list[DeviceRequest] = []
    for item in chain:
        if item is not None:
            requests = [item]
        else:
            kinds = {device.kind for device in found}
            kinds |= {kind for kind in map(only_runs_on, formats) if kind is not None}
            requests = [DeviceRequest(kind, auto=True) for kind in AUTO_KIND_ORDER if kind in kinds]
            requests.append(DeviceRequest("cpu", auto=True))
            if REMOTE in kinds:  # only a URL's format asks for it
                requests.append(DeviceRequest(REMOTE, auto=True))
        expanded.extend(r for r in requests if r not in expanded)
    return tuple(expanded)


def _backend_order(kind: str, fmt: str, pins: Sequence[str] | None) -> list[str]:
    """The backends to try for ``fmt`` on ``kind``: the pins as given, else every registered
    backend that reads the format and serves the kind (from registry data: nothing else is
    imported), by rank, registration order breaking ties."""
    if pins:
        return list(pins)
    readers = [
        found
        for found in entries()
        if fmt in formats_of(found) and (kind in devices_of(found) or kind == "auto")
    ]
    return [found.name for found in sorted(readers, key=lambda found: found.rank_on(kind))]


Step = Candidate | Attempt


def _own_choice(
    cls: type[Backend], device: DeviceRequest, auto_kinds: Sequence[str]
) -> DeviceRequest | None:
    """For a backend that picks its own device under ``auto`` (OpenVINO's AUTO, Core ML's ALL):
    one request of kind ``"auto"`` at the first kind it serves, and ``None`` at the others."""
    choices = tuple(kind for kind in auto_kinds if kind in cls.devices)
    if not choices or device.kind != choices[0]:
        return None
    return DeviceRequest("auto", choices=choices, auto=True)


def _steps_for(
    device: DeviceRequest,
    path: ModelSource,
    fmt: str,
    pins: Sequence[str] | None,
    auto_kinds: Sequence[str] = (),
    formats: frozenset[str] = frozenset(),
) -> list[Step]:
    steps: list[Step] = []
    readers = 0
    for name in _backend_order(device.kind, fmt, pins):
        candidate = Candidate(name, device, path, fmt)
        try:
            cls = backend_class(name)
        except BackendUnavailable as error:
            steps.append(candidate.failed(error))
            continue
        if device.auto and cls.chooses_device and fmt in cls.formats:
            own = _own_choice(cls, device, auto_kinds)
            if own is None:
                readers += device.kind in cls.devices
                continue  # covered by this backend's own choice at its first kind
            candidate = Candidate(name, own, path, fmt)
        if fmt not in cls.formats or candidate.device.kind not in (*cls.devices, "auto"):
            if fmt not in cls.formats and formats & set(cls.formats):
                continue  # it reads another of the model's sources: that is where it is used
            if pins:  # the user asked for it by name: say why it is not used
                steps.append(
                    candidate.attempt(False, f"{name} does not run {fmt} models on {device.kind}")
                )
            continue
        readers += 1
        availability = safe_availability(name, cls)
        if availability.available:
            steps.append(candidate)
        else:
            steps.append(
                candidate.attempt(
                    False,
                    availability.reason,
                    "BackendUnavailable",
                    hint=availability.hint or install_hint(name),
                )
            )
    if readers == 0 and not pins:
        steps.append(
            Attempt(
                "-",
                device.id,
                str(path),
                False,
                f"no installed backend runs {fmt} models on {device.kind}",
            )
        )
    return steps


def _pairs(device: DeviceRequest, path: ModelSource) -> bool:
    """A URL runs on the ``remote`` device only, a file on this machine's devices only."""
    return (device.kind == REMOTE) == isinstance(path, ModelUrl)


def _unpaired(devices: Sequence[DeviceRequest], path: ModelSource) -> list[Step]:
    """Why a source is not planned on any device of the chain the caller named."""
    chain = ", ".join(device.id for device in devices)
    if isinstance(path, ModelUrl):
        why = (
            f"a URL names a model served over the network: it runs on the 'remote' device only, "
            f"and device {chain} keeps inputs on this machine; add 'remote' to the device chain "
            "(or use 'auto') to send them there"
        )
    else:
        why = "the 'remote' device serves models named by URL, not files on this machine"
    return [Attempt("-", devices[-1].id, str(path), False, why)]


def plan(
    files: Sequence[tuple[ModelSource, str]],
    devices: Sequence[DeviceRequest],
    pins: Sequence[str] | None = None,
) -> list[Step]:
    """The plan, in order: each step a ``Candidate`` to try or an ``Attempt`` that says why a
    pairing cannot even be tried (backend missing, format or device not served)."""
    auto_kinds = [device.kind for device in devices if device.auto]
    formats = frozenset(fmt for _, fmt in files)
    steps: list[Step] = []
    for device in devices:
        for path, fmt in files:
            if _pairs(device, path):
                steps.extend(_steps_for(device, path, fmt, pins, auto_kinds, formats))
            elif device is devices[-1] and not any(_pairs(other, path) for other in devices):
                steps.extend(_unpaired(devices, path))  # once, where the chain ends
    return steps
