"""The device grammar."""

from __future__ import annotations

import pytest

from edgeinfer import ConfigurationError, DeviceRequest
from edgeinfer._planning.devices import parse_device, parse_device_chain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpu", DeviceRequest("cpu")),
        ("CPU", DeviceRequest("cpu")),
        (" gpu ", DeviceRequest("gpu")),
        ("gpu:1", DeviceRequest("gpu", 1)),
        ("npu", DeviceRequest("npu")),
        ("npu:0", DeviceRequest("npu", 0)),
        ("edgetpu", DeviceRequest("edgetpu")),
        ("edgetpu:0", DeviceRequest("edgetpu", 0)),
        ("edgetpu::0", DeviceRequest("edgetpu", 0)),
        ("edgetpu:usb", DeviceRequest("edgetpu", None, "usb")),
        ("edgetpu:usb:1", DeviceRequest("edgetpu", 1, "usb")),
        ("edgetpu:pci:0", DeviceRequest("edgetpu", 0, "pci")),
    ],
)
def test_valid_devices(text: str, expected: DeviceRequest) -> None:
    assert parse_device(text) == expected
    assert parse_device(expected.id) == expected  # the id round-trips


def test_auto_is_none() -> None:
    assert parse_device("auto") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tpu",
        "cuda",
        "gpu:",
        "gpu:x",
        "gpu:-1",
        "gpu:\u00b2",
        "gpu:0:1",
        "edgetpu:usb:0:1",
        "edgetpu:eth:0",
        "cpu:1",
    ],
)
def test_invalid_devices_say_what_is_valid(text: str) -> None:
    with pytest.raises(ConfigurationError, match="valid devices"):
        parse_device(text)


def test_chains_keep_order_and_drop_duplicates() -> None:
    chain = parse_device_chain(["gpu", "cpu", "gpu", "auto"])
    assert chain == (DeviceRequest("gpu"), DeviceRequest("cpu"), None)


@pytest.mark.parametrize("value", [[], 3, b"cpu", [1]])
def test_bad_chains(value: object) -> None:
    with pytest.raises(ConfigurationError):
        parse_device_chain(value)  # type: ignore[arg-type]
