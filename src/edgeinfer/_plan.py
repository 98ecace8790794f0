"""Turn files, a device chain and optional backend pins into an ordered list of candidates.

The order is: the device chain first (the user's preference is law), then the files in preference
order, then the backends in the preference table for that device kind. Candidates whose backend
cannot run here are not dropped silently: each leaves an ``Attempt`` saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._device import DeviceRequest, parse_device
from ._errors import BackendUnavailable
from ._registry import backend_class, names
from ._types import Attempt, Device

__all__ = ["BACKEND_PREFERENCE", "Candidate", "expand_devices", "plan"]

# Which backends edgeinfer prefers on each device kind, best first. Backends registered by third
# parties come after these, in registration order.
BACKEND_PREFERENCE: dict[str, tuple[str, ...]] = {
    "edgetpu": ("edgetpu",),
    "gpu": ("tensorrt", "onnxruntime", "openvino", "coreml", "litert"),
    "npu": ("coreml", "openvino", "onnxruntime", "litert"),
    "cpu": ("onnxruntime", "litert", "openvino", "coreml"),
}
# Under ``device="auto"``, accelerators are tried in this order of kinds, the CPU last.
AUTO_KIND_ORDER: tuple[str, ...] = ("edgetpu", "gpu", "npu")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to run the model: this backend, on this device, with this file."""

    backend: str
    device: DeviceRequest
    file: Path
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
    chain: Sequence[DeviceRequest | None], found: Sequence[Device]
) -> tuple[DeviceRequest, ...]:
    """Replace ``auto`` (``None``) by the accelerators found, best kind first, then the CPU."""
    expanded: list[DeviceRequest] = []
    for item in chain:
        if item is not None:
            requests = [item]
        else:
            accelerators = sorted(
                (d for d in found if d.kind in AUTO_KIND_ORDER),
                key=lambda d: AUTO_KIND_ORDER.index(d.kind),
            )
            requests = [r for r in (parse_device(d.id) for d in accelerators) if r is not None]
            requests.append(DeviceRequest("cpu"))
        expanded.extend(r for r in requests if r not in expanded)
    return tuple(expanded)


def _backend_order(kind: str, pins: Sequence[str] | None) -> list[str]:
    if pins:
        return list(pins)
    preferred = [name for name in BACKEND_PREFERENCE.get(kind, ()) if name in names()]
    return preferred + [name for name in names() if name not in preferred]


def plan(
    files: Sequence[tuple[Path, str]],
    devices: Sequence[DeviceRequest],
    pins: Sequence[str] | None = None,
) -> tuple[list[Candidate], list[Attempt]]:
    """Ordered candidates, and an ``Attempt`` for every pairing that cannot even be tried."""
    candidates: list[Candidate] = []
    skipped: list[Attempt] = []
    for device in devices:
        for path, fmt in files:
            readers = 0
            for name in _backend_order(device.kind, pins):
                candidate = Candidate(name, device, path, fmt)
                try:
                    cls = backend_class(name)
                except BackendUnavailable as error:
                    skipped.append(candidate.failed(error))
                    continue
                if fmt not in cls.formats or device.kind not in cls.devices:
                    if pins:  # the user asked for it by name: say why it is not used
                        reason = f"{name} does not run {fmt} models on {device.kind}"
                        skipped.append(candidate.attempt(False, reason))
                    continue
                readers += 1
                availability = cls.availability()
                if not availability.available:
                    skipped.append(
                        candidate.attempt(
                            False, availability.reason, "BackendUnavailable", hint=availability.hint
                        )
                    )
                    continue
                candidates.append(candidate)
            if readers == 0:
                scope = f"of {', '.join(pins)} " if pins else ""
                skipped.append(
                    Attempt(
                        "-",
                        device.id,
                        str(path),
                        False,
                        f"no backend {scope}runs {fmt} models on {device.kind}",
                        "BackendUnavailable",
                    )
                )
    return candidates, skipped
