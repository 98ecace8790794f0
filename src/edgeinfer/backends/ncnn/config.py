"""How edgeinfer's precision and device become NCNN ``Option`` settings.

Precision: NCNN's default turns fp16 storage, packing and arithmetic on (used where the CPU and
the layer support them: ARMv8.2 fp16, x86 F16C); that changes MobileNetV2's logits by about 5e-3
against fp32. ``precision=None`` keeps NCNN's default and says so in ``details()``; ``"fp32"``
turns every fp16/bf16 option off, ``"fp16"`` on, ``"bf16"`` uses bf16 storage instead, ``"int8"``
needs a model quantised by ``ncnn2int8``.

Devices: the CPU, or a Vulkan GPU (``gpu``, ``gpu:N``) where this NCNN build has Vulkan and the
loader finds a device (``get_gpu_count()``); NCNN would otherwise run on the CPU silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeinfer.backend import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    DeviceRequest,
    ModelIncompatible,
    captured_native_stderr,
)

__all__ = ["FP16_OPTIONS", "OPTION_KEYS", "apply_precision", "precision_label", "vulkan_device"]

OPTION_KEYS = ("net_options", "omp_dynamic")
FP16_OPTIONS = ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic")
BF16_OPTIONS = ("use_bf16_storage", "use_bf16_packed")
VULKAN_HINT = (
    "install a Vulkan driver and loader (Debian/Ubuntu/Raspberry Pi OS: 'sudo apt-get install "
    "libvulkan1 mesa-vulkan-drivers'; NVIDIA: the driver's Vulkan ICD) and check 'vulkaninfo'"
)


def _set(opt: Any, names: tuple[str, ...], value: bool) -> None:
    for name in names:
        if hasattr(opt, name):  # use_bf16_packed is newer than some bindings
            setattr(opt, name, value)


def apply_precision(opt: Any, precision: str | None, int8_model: bool, name: str) -> None:
    """Set ``opt`` (a ``ncnn.Option``) for ``precision``; ``None`` leaves NCNN's default."""
    if precision is None:
        return
    if precision == "fp32":
        _set(opt, FP16_OPTIONS + BF16_OPTIONS, False)
    elif precision == "fp16":
        _set(opt, BF16_OPTIONS, False)
        _set(opt, FP16_OPTIONS, True)
    elif precision == "bf16":
        _set(opt, FP16_OPTIONS, False)
        _set(opt, BF16_OPTIONS, True)
    elif precision == "int8":
        if not int8_model:
            raise ModelIncompatible(
                f"ncnn runs int8 only for models quantised with ncnn2int8; {name} has no int8 "
                "layer (no int8_scale_term)"
            )
        opt.use_int8_inference = True
    else:
        raise ModelIncompatible(f"ncnn has no precision {precision!r}")


def precision_label(opt: Any, precision: str | None) -> str:
    """What ``opt`` runs, in words, read back from the options."""
    fp16 = [name.removeprefix("use_fp16_") for name in FP16_OPTIONS if getattr(opt, name, False)]
    bf16 = bool(getattr(opt, "use_bf16_storage", False))
    if fp16:
        what = f"fp16 {'/'.join(fp16)} where the CPU and layer support it"
    elif bf16:
        what = "bf16 storage where the CPU and layer support it"
    else:
        what = "fp32"
    if precision is None:
        return f"{what} (NCNN's default; precision='fp32' turns fp16 off)"
    return f"{what} (as asked: {precision})"


def net_options(opt: Any, extra: Mapping[str, Any]) -> None:
    """Any other ``ncnn.Option`` attribute, from ``options={"ncnn": {"net_options": {...}}}``."""
    given = extra.get("net_options") or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError("ncnn option net_options must be a dict of ncnn.Option fields")
    for key, value in given.items():
        if key.startswith("_") or not hasattr(opt, key) or callable(getattr(opt, key)):
            raise ConfigurationError(f"ncnn.Option has no setting {key!r}")
        setattr(opt, key, value)


def vulkan_device(ncnn: Any, device: DeviceRequest) -> tuple[int, str]:
    """The Vulkan device index for ``device`` and its name; raises when there is none."""
    if not hasattr(ncnn, "get_gpu_count"):
        raise BackendUnavailable(
            "ncnn",
            "this ncnn build has no Vulkan support",
            "pip install ncnn (the PyPI wheels are built with Vulkan)",
        )
    with captured_native_stderr() as native:
        count = int(ncnn.get_gpu_count())
        default = int(ncnn.get_default_gpu_index()) if count else 0
    if count == 0:
        said = "; ".join(native.lines()) or "no Vulkan physical device"
        raise DeviceError(f"ncnn found no Vulkan GPU ({said}); {VULKAN_HINT}")
    index = default if device.index is None else device.index
    if index >= count:
        raise DeviceError(f"ncnn sees {count} Vulkan GPU(s); there is no {device.id}")
    try:
        name = str(ncnn.get_gpu_info(index).device_name())
    except Exception:  # the name is for explain() only
        name = "Vulkan GPU"
    return index, name
