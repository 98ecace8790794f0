"""The kit for backend authors: everything a backend package needs, and nothing else.

A backend is one class::

    from edgeinfer.backend import Backend, HeldSpecs, OpenOptions, check_options, translate_errors

    class MyBackend(HeldSpecs, Backend):
        name = "myruntime"
        formats = ("onnx",)           # names from edgeinfer.backend.formats()
        devices = ("cpu",)
        extra = None                  # the pip extra of edgeinfer that brings the runtime, if any
        @classmethod
        def availability(cls): ...    # cheap, cached, never raises, imports nothing
        @classmethod
        def open(cls, path, device, options): ...   # imports the runtime; may raise
        def run(self, feeds): ...
        def close(self): ...

registered with ``edgeinfer.register_backend("myruntime", "my_pkg.backend:MyBackend",
formats=("onnx",), devices=("cpu",))`` or the entry-point group ``edgeinfer.backends``, and
tested with ``edgeinfer.testing.BackendContract``. docs/writing-a-backend.md walks through one.

Helpers: ``check_options`` (a backend's own ``options``), ``translate_errors`` / ``translated``
with ``ErrorRule`` (native exceptions -> edgeinfer's error tree, chained), ``installed_version``
(a distribution's version without importing it), ``ModelUrl`` (what ``open`` gets instead of
a ``Path`` for a format with URL ``schemes``, like the ``remote`` backend's ``oip``),
``captured_native_stderr`` (keep a C++ runtime's noise off the user's terminal),
``check_onnx_file`` (refuse unsafe ONNX files before a runtime reads them; returns the graph's
names, shapes and metadata), ``cache_dir`` / ``write_cached`` / ``read_cached`` /
``atomic_file`` (the one folder edgeinfer writes to), ``model_digest`` (a model's sha256 with
its external data) and ``key_digest`` (a cache entry's name from what made it), ``quantize`` /
``dequantize`` (affine quantisation, as TFLite rounds it),
``captured_native_stdout`` (for runtimes that ``printf``), ``Roots`` / ``detect_devices`` and
the NPU readers (``rockchip_soc``, ``rockchip_npu_nodes``, ``hailo_nodes``, ``qualcomm_npu``:
what the board has, from fake trees in tests), ``Placement.from_ops`` with ``PlacedOp`` (a
``Session.placement`` report from the runtime's own per-operation answer).
"""

from __future__ import annotations

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    OutOfMemory,
)
from edgeinfer._kit.cache import atomic_file, cache_dir, read_cached, write_cached
from edgeinfer._kit.contract import (
    PRECISIONS,
    Backend,
    HeldSpecs,
    OpenOptions,
    Session,
    check_options,
)
from edgeinfer._kit.digest import key_digest, model_digest
from edgeinfer._kit.errors import OUT_OF_MEMORY, ErrorRule, translate_errors, translated
from edgeinfer._kit.native_stderr import captured_native_stderr, captured_native_stdout
from edgeinfer._kit.onnx_scan import OnnxFacts, OnnxValue, check_onnx_file
from edgeinfer._kit.placement import GroupKey, PlacedOp, Placement, PlacementGroup
from edgeinfer._kit.quantization import dequantize, quantize
from edgeinfer._kit.versions import installed_version
from edgeinfer._planning.detect import Roots, detect_devices
from edgeinfer._planning.devices import DEVICE_KINDS, DeviceRequest
from edgeinfer._planning.formats import ModelFormat, ModelUrl, formats, register_format
from edgeinfer._planning.npus import hailo_nodes, qualcomm_npu, rockchip_npu_nodes, rockchip_soc
from edgeinfer._planning.registry import BackendEntry, register_backend
from edgeinfer._types import Availability, OperatorEvent, Quantization, TensorSpec

__all__ = [
    "DEVICE_KINDS",
    "OUT_OF_MEMORY",
    "PRECISIONS",
    "Availability",
    "Backend",
    "BackendEntry",
    "BackendUnavailable",
    "ConfigurationError",
    "DeviceError",
    "DeviceRequest",
    "EdgeInferError",
    "ErrorRule",
    "GroupKey",
    "HeldSpecs",
    "InferenceError",
    "InvalidInput",
    "ModelError",
    "ModelFormat",
    "ModelIncompatible",
    "ModelUrl",
    "OnnxFacts",
    "OnnxValue",
    "OpenOptions",
    "OperatorEvent",
    "OutOfMemory",
    "PlacedOp",
    "Placement",
    "PlacementGroup",
    "Quantization",
    "Roots",
    "Session",
    "TensorSpec",
    "atomic_file",
    "cache_dir",
    "captured_native_stderr",
    "captured_native_stdout",
    "check_onnx_file",
    "check_options",
    "dequantize",
    "detect_devices",
    "formats",
    "hailo_nodes",
    "installed_version",
    "key_digest",
    "model_digest",
    "qualcomm_npu",
    "quantize",
    "read_cached",
    "register_backend",
    "register_format",
    "rockchip_npu_nodes",
    "rockchip_soc",
    "translate_errors",
    "translated",
    "write_cached",
]
