"""How edgeinfer's device, threads and precision become an MNN session configuration.

The keys are pymnn's (``getScheduleConfig`` in ``pymnn/src/util.h``): ``backend`` (``"CPU"``,
``"OPENCL"``, ``"VULKAN"``...), ``numThread``, ``precision``, ``memory`` and ``power`` (ints: the
``BackendConfig`` enums). Precision (``BackendConfig::PrecisionMode``): ``Normal`` (0, MNN's
default: fp32 on the CPU, fp16 storage on GPUs), ``High`` (1, fp32 everywhere), ``Low`` (2, fp16
where the hardware has it: ARMv8.2 CPUs, GPUs), ``Low_BF16`` (3). MNN falls back to the CPU when
the asked-for backend is not compiled in or finds no device, printing "Can't Find type=3
backend": the backend reads the session's real backend (``getSessionInfo(session, BACKENDS)``)
and refuses the substitution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeinfer.backend import ConfigurationError, DeviceError, DeviceRequest, ModelIncompatible

__all__ = [
    "BACKENDS_INFO",
    "CPU_TYPES",
    "OPTION_KEYS",
    "PRECISION_MODES",
    "forward_name",
    "schedule_config",
]

OPTION_KEYS = ("precision_mode", "gpu_backend", "memory_mode", "power_mode")
BACKENDS_INFO = 2  # Interpreter::SessionInfoCode BACKENDS
# MNNForwardType: CPU 0, OPENCL 3, VULKAN 7; 13 is CPU_EXTENSION (MNN's own AVX2/ARMv8.2 CPU
# backend, chosen automatically for CPU).
CPU_TYPES = (0, 13)
FORWARD_TYPES = {"OPENCL": 3, "VULKAN": 7, "CUDA": 2, "METAL": 1}
PRECISION_MODES = {"normal": 0, "high": 1, "low": 2, "low_bf16": 3}
_FROM_EDGEINFER = {"fp32": "high", "fp16": "low", "bf16": "low_bf16"}
_MODES = {"normal": 0, "high": 1, "low": 2}
GPU_HINT = (
    "MNN's PyPI wheels are built for the CPU; for OpenCL or Vulkan build pymnn with "
    "-DMNN_OPENCL=ON or -DMNN_VULKAN=ON (and install the GPU's OpenCL/Vulkan driver)"
)


def precision_mode(precision: str | None, extra: Mapping[str, Any]) -> str:
    """MNN's precision mode name: ``options.precision`` mapped, or the ``precision_mode``
    option (``low``/``normal``/``high``/``low_bf16``), never both."""
    asked = extra.get("precision_mode")
    if asked is not None:
        if asked not in PRECISION_MODES:
            raise ConfigurationError(
                f"mnn precision_mode must be one of {', '.join(PRECISION_MODES)}, got {asked!r}"
            )
        if precision is not None:
            raise ConfigurationError("give precision= or the mnn option precision_mode, not both")
        return str(asked)
    if precision is None:
        return "normal"
    if precision == "int8":
        raise ModelIncompatible(
            "mnn runs int8 only for models quantised with mnnquant (their precision is their "
            "own): load them with precision=None"
        )
    return _FROM_EDGEINFER[precision]


def forward_name(device: DeviceRequest, extra: Mapping[str, Any]) -> str:
    """The MNN backend name for ``device``: CPU, or the GPU API (``gpu_backend`` option,
    default OpenCL)."""
    if device.kind == "cpu":
        return "CPU"
    if device.kind != "gpu":
        raise DeviceError(f"mnn runs on the CPU and GPUs (OpenCL, Vulkan), not on {device.id!r}")
    if device.index not in (None, 0):
        raise DeviceError(f"mnn picks its GPU itself; {device.id!r} cannot be honoured")
    name = str(extra.get("gpu_backend", "OPENCL")).upper()
    if name not in FORWARD_TYPES:
        raise ConfigurationError(
            f"mnn gpu_backend must be one of {', '.join(FORWARD_TYPES)}, got {name!r}"
        )
    return name


def schedule_config(
    backend: str, threads: int | None, mode: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The dict for ``Interpreter.createSession``."""
    config: dict[str, Any] = {"backend": backend, "precision": PRECISION_MODES[mode]}
    if threads is not None:
        config["numThread"] = threads
    for key, field in (("memory_mode", "memory"), ("power_mode", "power")):
        value = extra.get(key)
        if value is not None:
            if value not in _MODES:
                raise ConfigurationError(f"mnn {key} must be low, normal or high, got {value!r}")
            config[field] = _MODES[value]
    return config
