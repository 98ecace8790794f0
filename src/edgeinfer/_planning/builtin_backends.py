"""The built-in backends as registry data (``BackendEntry``: where each class lives, what it
reads and serves, its rank per device kind, its pip extra), and the packages each extra of
edgeinfer installs, named in install hints. ``registry.py`` holds the registry itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeinfer._kit.contract import Backend

__all__ = ["BUILTIN_ENTRIES", "PLUGIN_RANK", "BackendEntry", "pip_hint"]

PLUGIN_RANK = 100  # third-party backends come after the built-ins unless they say otherwise


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """One registered backend.

    ``target``: the class, or ``"module:Class"`` imported on first use. ``formats``/``devices``:
    what it reads and serves (``None``: read from the class once imported). ``rank``: device kind
    -> place in the preference order, lower first (a kind not listed gets ``PLUGIN_RANK``).
    ``extra``: the pip extra that brings its runtime; ``hint``: how to install what it needs.
    """

    name: str
    target: str | type[Backend] | Any
    formats: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    rank: Mapping[str, int] = field(default_factory=dict)
    extra: str | None = None
    hint: str | None = None
    source: str = "register_backend"

    def rank_on(self, kind: str) -> int:
        return self.rank.get(kind, PLUGIN_RANK)


def _builtin(name: str, target: str, formats: tuple[str, ...], devices: tuple[str, ...],
             rank: dict[str, int], extra: str) -> BackendEntry:  # fmt: skip
    return BackendEntry(
        name, f"edgeinfer.backends.{target}", formats, devices, rank, extra, None, "builtin"
    )


# The built-in backends. Ranks per device kind, lower first: what edgeinfer prefers when the
# caller does not pin a backend (``load(..., backend=...)``).
BUILTIN_ENTRIES: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        _builtin("onnxruntime", "onnxruntime.backend:OnnxRuntimeBackend", ("onnx",),
                 ("cpu", "gpu", "npu"), {"cpu": 10, "gpu": 20, "npu": 30}, "onnx"),
        _builtin("litert", "litert.backend:LiteRtBackend", ("tflite",), ("cpu",),
                 {"cpu": 20, "gpu": 50, "npu": 40}, "litert"),
        _builtin("edgetpu", "edgetpu.backend:EdgeTpuBackend", ("tflite-edgetpu",), ("edgetpu",),
                 {"edgetpu": 10}, "edgetpu"),
        _builtin("openvino", "openvino.backend:OpenVinoBackend", ("openvino", "onnx"),
                 ("cpu", "gpu", "npu"), {"cpu": 30, "gpu": 30, "npu": 20}, "openvino"),
        _builtin("coreml", "coreml.backend:CoreMlBackend", ("coreml",), ("cpu", "gpu", "npu"),
                 {"cpu": 40, "gpu": 40, "npu": 10}, "coreml"),
        _builtin("tensorrt", "tensorrt.backend:TensorRtBackend", ("tensorrt", "onnx"), ("gpu",),
                 {"gpu": 10}, "tensorrt"),
        # ncnn, mnn, executorch, rknn and hailo each read their own format only: their rank
        # orders them among its readers; ncnn's preference on ARM CPUs is its format's
        # variant_rank (formats.py), which orders the files of a folder.
        _builtin("ncnn", "ncnn.backend:NcnnBackend", ("ncnn",), ("cpu", "gpu"),
                 {"cpu": 10, "gpu": 30}, "ncnn"),
        _builtin("mnn", "mnn.backend:MnnBackend", ("mnn",), ("cpu", "gpu"),
                 {"cpu": 10, "gpu": 30}, "mnn"),
        _builtin("executorch", "executorch.backend:ExecuTorchBackend", ("executorch",), ("cpu",),
                 {"cpu": 10}, "executorch"),
        _builtin("rknn", "rknn.backend:RknnBackend", ("rknn",), ("npu",), {"npu": 5}, "rknn"),
        _builtin("hailo", "hailo.backend:HailoBackend", ("hailo",), ("npu",), {"npu": 5}, "hailo"),
        # tvm's entry names its own format only: an ONNX model is compiled (seconds to minutes)
        # only when tvm is asked for by name (load(..., backend="tvm")), never under auto.
        _builtin("tvm", "tvm.backend:TvmBackend", ("tvm",), ("cpu", "gpu"),
                 {"cpu": 10, "gpu": 30}, "tvm"),
        _builtin("remote", "remote.backend:RemoteBackend", ("oip",), ("remote",), {"remote": 10},
                 "remote"),
    )
}  # fmt: skip

_PACKAGES = {  # what each extra of edgeinfer installs: named in hints, which work however
    "onnx": "onnxruntime",  # edgeinfer itself was installed (index, wheel or checkout)
    "litert": "ai-edge-litert",
    "edgetpu": "ai-edge-litert",
    "openvino": "openvino",
    "coreml": "coremltools",
    "ncnn": "ncnn",
    "mnn": "mnn",
    "executorch": "executorch torch",
    "rknn": "rknn-toolkit-lite2",
    "remote": "'tritonclient[http]'",
    "tvm": "apache-tvm 'apache-tvm-ffi>=0.1.14,<0.1.15' onnx cloudpickle",
    "tensorrt-cu12": "tensorrt-cu12 'cuda-python>=12,<13' --extra-index-url https://pypi.nvidia.com",
    "tensorrt-cu13": "tensorrt-cu13 'cuda-python>=13,<14' --extra-index-url https://pypi.nvidia.com",
    "tensorrt": "tensorrt-cu13 'cuda-python>=13,<14' --extra-index-url https://pypi.nvidia.com",
}


def pip_hint(extra: str) -> str:
    packages = _PACKAGES.get(extra)
    if packages is None:
        return f"pip install 'edgeinfer[{extra}]'"
    return f"pip install {packages} (what edgeinfer's '{extra}' extra installs)"
