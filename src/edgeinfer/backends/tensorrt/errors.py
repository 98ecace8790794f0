"""TensorRT's and CUDA's failures -> edgeinfer's errors, as data for ``edgeinfer.backend``'s
``translate_errors`` / ``translated``.

TensorRT reports most failures through its logger and a ``None`` or ``False`` result
(``deserialize_cuda_engine``, ``build_serialized_network``, ``create_execution_context``,
``execute_async_v3``), not through exceptions; cuda-python returns a status code. Such a failure
becomes a ``TensorRtError`` carrying what TensorRT logged during the call (``logger.Capture``),
or a ``CudaError`` named after the status, and the rules below classify it like any raised
exception. Out-of-memory (``OutOfMemory``) is the kit's own rule and comes first.

Status codes that mean "no usable NVIDIA driver or GPU here" are not errors of a model or of a
device but of the machine: ``cuda.py`` raises ``BackendUnavailable`` for them, with a hint.
"""

from __future__ import annotations

from edgeinfer.backend import DeviceError, ErrorRule, ModelError, ModelIncompatible, OutOfMemory

__all__ = [
    "BUILD_RULES",
    "CONTEXT_RULES",
    "CUDA_RULES",
    "DESERIALIZE_RULES",
    "NO_DRIVER",
    "NO_GPU",
    "OPEN_RULES",
    "PARSE_RULES",
    "RUN_RULES",
    "STALE_ENGINE",
    "STALE_ENGINE_ADVICE",
    "CudaError",
    "TensorRtError",
]


class TensorRtError(RuntimeError):
    """A TensorRT call that failed without raising: its message is what TensorRT logged."""


class CudaError(RuntimeError):
    """A cudart call that returned an error status: ``cudaErrorX: description``."""


# TensorRT's words for a valid engine from another TensorRT build or for another GPU model
# (NVIDIA/TensorRT issues 2041, 2176, 4134 and others quote them). Matched as written: TensorRT
# starts some with a capital, some mid-sentence.
STALE_ENGINE = ErrorRule(
    ModelIncompatible,
    messages=(
        "not compatible with this version",
        "Version tag does not match",
        "version tag does not match",
        "Serialization assertion",
        "serialization assertion",
        "incompatible device",
        "expecting compute",
        "expecting library version",
    ),
)
STALE_ENGINE_ADVICE = (
    ". It was built by another TensorRT version or for another GPU: an engine only loads on the "
    "TensorRT (and GPU model) that built it. Rebuild it here, or keep the .onnx beside it so "
    "edgeinfer can fall back"
)

# CUDA itself failing under TensorRT: "CUDA initialization failure with error: 35", "Error Code
# 1: Cuda Runtime (an illegal memory access was encountered)", "Cuda Error in ...".
_CUDA_FAULT = ErrorRule(
    DeviceError,
    messages=(
        "CUDA initialization failure",
        "Cuda Runtime",
        "Cuda Error",
        "CUDA error",
        "cudaError",
    ),
)

#: ``Runtime.deserialize_cuda_engine``; default ``ModelError`` (an unreadable engine file).
DESERIALIZE_RULES = (STALE_ENGINE, _CUDA_FAULT)
#: ``OnnxParser.parse``; default ``ModelIncompatible``: the file is well-formed protobuf (checked
#: before), so only an ONNX the parser cannot even read is the file's fault.
PARSE_RULES = (ErrorRule(ModelError, messages=("MODEL_DESERIALIZE_FAILED",)),)
#: ``Builder.build_serialized_network``; default ``ModelIncompatible`` (this TensorRT, this GPU).
BUILD_RULES = (ErrorRule(OutOfMemory, messages=("FAILED_ALLOCATION",)), _CUDA_FAULT)
#: anything else raised while opening; default ``ModelIncompatible``: the next candidate may work.
OPEN_RULES = (_CUDA_FAULT,)
#: ``ICudaEngine.create_execution_context``; default ``DeviceError`` (its memory, its device).
CONTEXT_RULES: tuple[ErrorRule, ...] = ()
#: ``execute_async_v3`` and the copies around it; default ``InferenceError``.
RUN_RULES = (_CUDA_FAULT,)
#: a cudart status other than those below; default ``DeviceError``.
CUDA_RULES: tuple[ErrorRule, ...] = ()

#: cudart statuses that mean this machine has no usable NVIDIA GPU -> ``BackendUnavailable``.
NO_GPU = {
    "cudaErrorNoDevice": "no CUDA-capable GPU was found",
    "cudaErrorStubLibrary": "the CUDA driver found is a stub library, not a real NVIDIA driver",
    "cudaErrorSystemDriverMismatch": "the NVIDIA driver and its kernel module do not match",
    "cudaErrorCompatNotSupportedOnDevice": "CUDA forward compatibility is not supported here",
}
#: What the CUDA runtime returns when no driver is loaded at all, and when the driver is older
#: than the runtime: "CUDA driver version is insufficient for CUDA runtime version".
NO_DRIVER = "cudaErrorInsufficientDriver"
