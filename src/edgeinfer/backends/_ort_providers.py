"""Which ONNX Runtime execution providers serve which edgeinfer device, with what options.

Data, not code: the tables are read in order and the first provider that this onnxruntime build
has compiled in is used. ``get_available_providers()`` only says what was compiled in; the backend
checks afterwards which providers the session really got.
"""

from __future__ import annotations

import sys

from edgeinfer._device import DeviceRequest

__all__ = ["PROVIDERS_BY_DEVICE", "install_hint_for", "provider_options"]

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
