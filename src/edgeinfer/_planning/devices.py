"""The device grammar: ``auto``, ``cpu``, ``gpu``, ``gpu:1``, ``npu``, ``edgetpu:usb:0``,
``remote``...

A device argument is one string or a sequence of them (a chain, in preference order). ``remote``
is not on this machine: it is where a model named by URL runs (a server), so that a device chain
says whether inputs may leave the device (``"auto"`` allows it only for a URL the caller gave).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from edgeinfer._errors import ConfigurationError

__all__ = ["DEVICE_KINDS", "DeviceRequest", "parse_device", "parse_device_chain"]

DEVICE_KINDS: tuple[str, ...] = ("cpu", "gpu", "npu", "edgetpu", "remote")
EDGETPU_BUSES: tuple[str, ...] = ("usb", "pci")

_GRAMMAR = (
    "valid devices: 'auto', 'cpu', 'gpu', 'gpu:N', 'npu', 'npu:N', 'edgetpu', 'edgetpu:N', "
    "'edgetpu:usb', 'edgetpu:usb:N', 'edgetpu:pci:N', 'remote' (a server, for a model named by "
    "URL), or a list of these in preference order"
)


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """One parsed device: ``kind`` plus an optional ``index`` and, for the Edge TPU, a ``bus``.

    ``index is None`` means "the first (or the runtime's default) device of that kind".
    ``auto`` marks a request that ``device="auto"`` produced (it does not take part in equality).
    Kind ``"auto"`` is what a backend that chooses its own device (``Backend.chooses_device``)
    receives under ``device="auto"``: ``choices`` lists the kinds it may pick, best first.
    """

    kind: str
    index: int | None = None
    bus: str | None = None
    choices: tuple[str, ...] = ()
    auto: bool = field(default=False, compare=False)

    @property
    def id(self) -> str:
        """The canonical string form, as a user would write it."""
        if self.kind == "auto":
            return "auto"
        parts = [self.kind]
        if self.bus is not None:
            parts.append(self.bus)
        if self.index is not None:
            parts.append(str(self.index))
        return ":".join(parts)

    def __str__(self) -> str:
        return self.id


def _parse_index(text: str, original: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ConfigurationError(f"bad device index {text!r} in {original!r}; {_GRAMMAR}")
    return int(text)


def parse_device(text: str) -> DeviceRequest | None:
    """Parse one device string; ``None`` means ``"auto"``. Raises ``ConfigurationError``."""
    if not isinstance(text, str):
        raise ConfigurationError(f"device must be a string, got {type(text).__name__}; {_GRAMMAR}")
    normalised = text.strip().lower()
    if normalised == "auto":
        return None
    kind, colon, rest = normalised.partition(":")
    if kind not in DEVICE_KINDS:
        raise ConfigurationError(f"unknown device {text!r}; {_GRAMMAR}")
    if not colon:
        return DeviceRequest(kind)
    if not rest:
        raise ConfigurationError(f"bad device {text!r}: nothing after ':'; {_GRAMMAR}")
    parts = rest.split(":")
    if kind == "edgetpu":
        bus = None
        if parts[0] in EDGETPU_BUSES:
            bus = parts.pop(0)
        elif parts[0] == "":
            parts.pop(0)  # pycoral's ':0' form
        if len(parts) > 1:
            raise ConfigurationError(f"bad device {text!r}; {_GRAMMAR}")
        index = _parse_index(parts[0], text) if parts else None
        return DeviceRequest(kind, index, bus)
    if len(parts) != 1:
        raise ConfigurationError(f"bad device {text!r}; {_GRAMMAR}")
    index = _parse_index(parts[0], text)
    if kind == "remote":
        raise ConfigurationError(f"bad device {text!r}: 'remote' takes no index; {_GRAMMAR}")
    if kind == "cpu" and index != 0:
        raise ConfigurationError(f"bad device {text!r}: there is one CPU device; {_GRAMMAR}")
    return DeviceRequest(kind, index)


def parse_device_chain(device: str | Sequence[str]) -> tuple[DeviceRequest | None, ...]:
    """Parse ``device=`` into a chain; ``None`` stands for ``auto``. Duplicates are dropped."""
    given: object = device
    if isinstance(given, (bytes, bytearray)) or not isinstance(given, (str, Sequence)):
        raise ConfigurationError(
            f"device must be a string or a sequence of strings, got {type(device).__name__}"
        )
    items: Sequence[str] = (device,) if isinstance(device, str) else device
    if not items:
        raise ConfigurationError(f"device chain is empty; {_GRAMMAR}")
    chain: list[DeviceRequest | None] = []
    for item in items:
        parsed = parse_device(item)
        if parsed not in chain:
            chain.append(parsed)
    return tuple(chain)
