"""How edgeinfer's device and options become an ONNX Runtime session configuration.

Which execution providers serve which edgeinfer device is data: the tables are read in order and
the first provider this onnxruntime build has compiled in is used. ``get_available_providers()``
only says what was compiled in; the backend checks afterwards which providers the session got.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from edgeinfer._errors import BackendUnavailable, ConfigurationError
from edgeinfer._planning.devices import DeviceRequest

__all__ = [
    "OPTION_KEYS",
    "PROVIDERS_BY_DEVICE",
    "choose_providers",
    "install_hint_for",
    "provider_options",
    "session_options",
]

OPTION_KEYS = ("session_options", "session_config", "provider_options", "providers")

CPU = "CPUExecutionProvider"

PROVIDERS_BY_DEVICE: dict[str, tuple[str, ...]] = {
    "cpu": (CPU,),
    "gpu": (
        "CUDAExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        "DmlExecutionProvider",
        "CoreMLExecutionProvider",
        "OpenVINOExecutionProvider",
        "WebGpuExecutionProvider",
        "TensorrtExecutionProvider",  # only when asked for with the "providers" option
    ),
    "npu": (
        "QNNExecutionProvider",
        "OpenVINOExecutionProvider",
        "CoreMLExecutionProvider",
        "VitisAIExecutionProvider",
        "NnapiExecutionProvider",
        "RknpuExecutionProvider",
    ),
    "edgetpu": (),
}

_INSTALL_HINTS = {
    "gpu": "for NVIDIA CUDA: pip install onnxruntime-gpu; for DirectML on Windows: pip install "
    "onnxruntime-directml; for Intel GPUs: pip install onnxruntime-openvino",
    "npu": "for Qualcomm NPUs: pip install onnxruntime-qnn; for Intel NPUs: pip install "
    "onnxruntime-openvino; on macOS the standard onnxruntime wheel has CoreML",
    "edgetpu": "the Edge TPU runs .tflite models through the 'edgetpu' backend, not onnxruntime",
}


def install_hint_for(kind: str) -> str | None:
    """How to get an onnxruntime build with a provider for device ``kind``."""
    return _INSTALL_HINTS.get(kind)


def provider_options(provider: str, device: DeviceRequest) -> dict[str, str]:
    """The provider options that point ``provider`` at ``device``."""
    index = device.index
    if provider in (
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        "DmlExecutionProvider",
    ):
        return {} if index is None else {"device_id": str(index)}
    if provider == "OpenVINOExecutionProvider":
        target = "GPU" if device.kind == "gpu" else "NPU"
        return {"device_type": target if index is None else f"{target}.{index}"}
    if provider == "CoreMLExecutionProvider":
        units = "CPUAndGPU" if device.kind == "gpu" else "CPUAndNeuralEngine"
        return {"MLComputeUnits": units}
    if provider == "QNNExecutionProvider":
        library = "QnnHtp.dll" if sys.platform == "win32" else "libQnnHtp.so"
        return {"backend_path": library}
    return {}


def choose_providers(
    compiled_in: list[str], device: DeviceRequest, extra: Mapping[str, Any]
) -> list[tuple[str, dict[str, str]]]:
    """The ``providers=`` list for ``InferenceSession``: the device's provider, then the CPU.

    The ``providers`` option reorders the candidates for an accelerator; it can only name
    providers that serve that device kind, so an explicit device never becomes another.
    """
    serving = PROVIDERS_BY_DEVICE[device.kind]
    names = list(serving)
    asked = extra.get("providers")
    if asked is not None and not (
        isinstance(asked, (list, tuple)) and all(isinstance(name, str) for name in asked)
    ):
        raise ConfigurationError(
            f"onnxruntime option providers must be a list of names, got {asked!r}"
        )
    if asked and device.kind != "cpu":
        wrong = [name for name in asked if name not in serving]
        if wrong:
            raise ConfigurationError(
                f"onnxruntime providers {wrong} do not serve {device.kind}; for {device.kind} "
                f"choose from {', '.join(serving)}"
            )
        names = list(asked)
    chosen = next((name for name in names if name in compiled_in), None)
    if chosen is None:
        raise BackendUnavailable(
            "onnxruntime",
            f"this onnxruntime build has no execution provider for {device.kind} (it has "
            f"{', '.join(compiled_in)}; wanted one of {', '.join(names) or 'none'})",
            install_hint_for(device.kind),
        )
    ours = provider_options(chosen, device)
    ours.update({k: str(v) for k, v in dict(extra.get("provider_options") or {}).items()})
    providers = [(chosen, ours)]
    cuda = "CUDAExecutionProvider"
    if chosen == "TensorrtExecutionProvider" and cuda in compiled_in:
        providers.append((cuda, provider_options(cuda, device)))  # what TensorRT does not take
    if chosen != CPU:
        providers.append((CPU, {}))  # for the nodes the accelerator does not take
    return providers


def _coerce(current: Any, value: Any) -> Any:
    """Turn ints and names into onnxruntime's enum when the attribute holds one."""
    enum = type(current)
    members = getattr(enum, "__members__", None)
    if members is None or isinstance(value, enum):
        return value
    if isinstance(value, str) and value in members:
        return members[value]
    if isinstance(value, int) and not isinstance(value, bool):
        found = [member for member in members.values() if int(member) == value]
        if found:
            return found[0]
    raise ConfigurationError(f"expected one of {', '.join(members)}, got {value!r}")


def session_options(ort: Any, threads: int | None, extra: Mapping[str, Any]) -> Any:
    """A ``SessionOptions`` from ``threads`` and the ``session_options``/``session_config``
    options. Fatal-only logging by default: every failure reaches the caller as an exception
    with onnxruntime's message, so its own ERROR lines on stderr would only say it twice."""
    options = ort.SessionOptions()
    options.log_severity_level = 4
    if threads is not None:
        options.intra_op_num_threads = threads
    for key, value in dict(extra.get("session_options") or {}).items():
        if key.startswith("_") or not hasattr(options, key) or callable(getattr(options, key)):
            raise ConfigurationError(f"onnxruntime SessionOptions has no setting {key!r}")
        try:
            setattr(options, key, _coerce(getattr(options, key), value))
        except (TypeError, AttributeError, ConfigurationError) as error:
            raise ConfigurationError(
                f"onnxruntime session option {key}={value!r}: {error}"
            ) from error
    for key, value in dict(extra.get("session_config") or {}).items():
        options.add_session_config_entry(str(key), str(value))
    return options
