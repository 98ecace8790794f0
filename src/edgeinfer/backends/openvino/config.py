"""How edgeinfer's device, threads and precision become an OpenVINO ``compile_model`` call.

Devices: ``cpu`` -> ``CPU``, ``gpu`` -> ``GPU`` (``gpu:1`` -> ``GPU.1``), ``npu`` -> ``NPU``, and
edgeinfer's ``auto`` -> OpenVINO's own ``AUTO:`` over the kinds it may use that this OpenVINO sees.
Precision: ``INFERENCE_PRECISION_HINT``; ``None`` leaves the device's default (bf16 on CPUs with
AMX/AVX512-BF16, f16 on GPUs), which the backend then reads back and reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgeinfer._errors import BackendUnavailable, ConfigurationError
from edgeinfer._planning.devices import DeviceRequest

__all__ = [
    "OPTION_KEYS",
    "PRECISION_HINTS",
    "compile_config",
    "edgeinfer_precision",
    "openvino_device",
]

OPTION_KEYS = ("config", "performance_hint")
_NAMES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU"}
# edgeinfer precision -> INFERENCE_PRECISION_HINT value
PRECISION_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
_DRIVER_HINTS = {
    "gpu": "install Intel's GPU compute runtime (Debian/Ubuntu: intel-opencl-icd; it brings "
    "libOpenCL.so.1) and add the user to the 'render' group",
    "npu": "install the Intel NPU driver (linux-npu-driver) and add the user to the 'render' group",
}


def openvino_device(device: DeviceRequest, available: Iterable[str]) -> str:
    """The OpenVINO device name for ``device``, checked against ``core.available_devices``."""
    seen = list(available)
    if device.kind == "auto":
        usable = [
            _NAMES[kind]
            for kind in device.choices
            if kind in _NAMES and any(name.split(".")[0] == _NAMES[kind] for name in seen)
        ]
        if len(usable) <= 1:  # one device: no need for AUTO's indirection
            return usable[0] if usable else "CPU"
        return "AUTO:" + ",".join(usable)
    base = _NAMES.get(device.kind)
    if base is None:
        raise BackendUnavailable("openvino", f"OpenVINO has no {device.kind} device")
    name = base if device.index is None else f"{base}.{device.index}"
    if device.index is None:
        present = any(seen_name.split(".")[0] == base for seen_name in seen)
    else:
        present = name in seen or (device.index == 0 and base in seen)
    if not present:
        raise BackendUnavailable(
            "openvino",
            f"OpenVINO sees no {name} device (it sees: {', '.join(seen) or 'none'})",
            _DRIVER_HINTS.get(device.kind),
        )
    return name


def compile_config(
    threads: int | None, precision: str | None, extra: Mapping[str, Any], device_name: str
) -> dict[str, Any]:
    """The properties for ``compile_model``: performance hint, threads, precision, ``config``."""
    hint = extra.get("performance_hint", "LATENCY")
    if hint not in ("LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"):
        raise ConfigurationError(
            "openvino performance_hint must be LATENCY, THROUGHPUT or CUMULATIVE_THROUGHPUT"
        )
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint}
    if threads is not None and device_name == "CPU":
        config["INFERENCE_NUM_THREADS"] = threads
    if precision in PRECISION_HINTS:
        config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[precision]
    user = extra.get("config") or {}
    if not isinstance(user, Mapping):
        raise ConfigurationError("openvino option config must be a dict of OpenVINO properties")
    config.update(user)
    return config


def edgeinfer_precision(openvino_type: Any) -> str:
    """``<Type: 'bfloat16'>`` -> ``"bf16"``; unknown types keep OpenVINO's own name."""
    text = str(getattr(openvino_type, "get_type_name", lambda: openvino_type)())
    return {
        "f32": "fp32",
        "f16": "fp16",
        "bf16": "bf16",
        "float32": "fp32",
        "float16": "fp16",
        "bfloat16": "bf16",
        "i8": "int8",
    }.get(text, text)
