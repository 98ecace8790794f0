"""TensorRT backend: detection, the engine cache, precision planning and fallback, here; real
engines under the ``hardware`` marker.

TensorRT needs an NVIDIA GPU and NVIDIA's libraries, which the machines that run this suite do
not have. So:

- detection, ``load()`` and fallback run for real: with TensorRT absent, and with a ``tensorrt``
  package whose import fails the way a board without ``libnvonnxparser`` fails;
- the cache key, cache folder, options, precision plan and inspector parsing are pure functions;
- the CUDA error mapping and the executor's buffer bookkeeping run against small recording fakes
  of the cudart/TensorRT calls. Those tests prove edgeinfer's own logic (which error, when a
  buffer is reallocated), never that TensorRT works;
- a ``.engine`` here is a stand-in (TensorRT's magic bytes and nothing else): enough for format
  detection, planning and fallback, never loaded by TensorRT.

The ``hardware`` tests build real engines from tests/onnx_models.py and compare them with
onnxruntime on the CPU; they skip with the detector's reason where TensorRT or a GPU is missing.
"""

from __future__ import annotations

import ast
import ctypes
import enum
import importlib.util
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    OutOfMemory,
    TensorSpec,
)
from edgeinfer._kit import cache as _cache
from edgeinfer._planning import registry as _registry
from edgeinfer.backend import Availability
from edgeinfer.backends.tensorrt import build, cuda, precision, runtime
from edgeinfer.backends.tensorrt import cache as trt_cache
from edgeinfer.backends.tensorrt import errors as trt_errors
from edgeinfer.backends.tensorrt import io as trt_io
from edgeinfer.backends.tensorrt import logger as trt_logger

TARGET = "edgeinfer.backends.tensorrt.backend:TensorRtBackend"
HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
HAVE_CUDA_PYTHON = importlib.util.find_spec("cuda") is not None
ENGINE_STAND_IN = b"\x00" * 12 + b"ftrt" + b"\x00" * 48  # TensorRT's magic at bytes 12..16


@pytest.fixture(autouse=True)
def _fresh_detection() -> Iterator[None]:
    runtime.availability.cache_clear()
    runtime.installed_version.cache_clear()
    yield
    runtime.availability.cache_clear()
    runtime.installed_version.cache_clear()


@pytest.fixture
def tensorrt_backend(clean_registry: None) -> Iterator[None]:
    """The backend registered under its name (a no-op once it is built in)."""
    edgeinfer.register_backend("tensorrt", TARGET)
    yield
    _registry.unregister_backend("tensorrt")


@pytest.fixture
def broken_tensorrt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A ``tensorrt`` package whose import fails as on a board without TensorRT's libraries, and
    an empty ``cuda`` namespace (cuda-python's top level, without the bindings)."""
    message = "libnvonnxparser.so.10: cannot open shared object file: No such file or directory"
    fakes = tmp_path / "fake_site"
    (fakes / "tensorrt").mkdir(parents=True)
    (fakes / "tensorrt" / "__init__.py").write_text(f"raise ImportError({message!r})\n")
    (fakes / "cuda").mkdir()
    for name in [n for n in sys.modules if n.split(".")[0] in ("tensorrt", "cuda")]:
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    monkeypatch.syspath_prepend(str(fakes))
    yield message
    for name in [n for n in sys.modules if n.split(".")[0] in ("tensorrt", "cuda")]:
        del sys.modules[name]  # the fakes' (monkeypatch then restores any real ones)


def stand_in_engine(folder: Path, name: str = "model.engine") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(ENGINE_STAND_IN)
    return path


# --- detection --------------------------------------------------------------------------------


@pytest.mark.skipif(HAVE_TENSORRT, reason="tensorrt is installed here")
def test_not_installed_says_why_and_how() -> None:
    found = runtime.availability()
    assert not found.available
    assert "tensorrt" in found.reason
    assert found.hint is not None
    assert "pypi.nvidia.com" in found.hint
    assert "JetPack" in found.hint
    assert runtime.availability() is found  # cached


def test_detection_uses_find_spec_only(monkeypatch: pytest.MonkeyPatch) -> None:
    present = {"tensorrt"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name in present else None
    )
    assert "cuda-python" in runtime.availability().reason
    runtime.availability.cache_clear()
    present.add("cuda")
    monkeypatch.setattr(
        runtime, "_installed", lambda *dists: "10.3.0" if "tensorrt" in dists else None
    )
    runtime.installed_version.cache_clear()
    found = runtime.availability()
    assert found.available
    assert found.version == "10.3.0"
    assert "a GPU is needed" in found.reason


def test_detection_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise ValueError("tensorrt.__spec__ is None")

    monkeypatch.setattr(importlib.util, "find_spec", broken)
    found = runtime.availability()
    assert not found.available
    assert "__spec__" in found.reason


def test_importing_the_backend_imports_no_runtime_and_writes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "never-created"
    code = (
        "import sys, edgeinfer\n"
        "from edgeinfer.backends.tensorrt import TensorRtBackend, cache\n"
        "from pathlib import Path\n"
        "TensorRtBackend.availability()\n"
        "cache.engine_path(Path('m.onnx'), 'ab' * 32)\n"
        "runtimes = ('tensorrt', 'cuda', 'modelopt')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in runtimes))\n"
    )
    env = {"EDGEINFER_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not cache.exists()


def test_the_backend_imports_only_the_public_kit() -> None:
    package = Path(trt_errors.__file__).parent
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in (n for n in names if n.split(".")[0] == "edgeinfer"):
                allowed = name == "edgeinfer.backend" or name.startswith(
                    "edgeinfer.backends.tensorrt"
                )
                assert allowed, f"{source.name} imports {name}"


def test_import_failure_of_the_bindings_is_backend_unavailable(broken_tensorrt: str) -> None:
    assert runtime.availability().available  # find_spec sees the (broken) packages
    with pytest.raises(BackendUnavailable) as info:
        runtime.load_tensorrt("tensorrt")
    assert broken_tensorrt in info.value.reason
    assert info.value.hint == runtime.HINT
    assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.skipif(HAVE_CUDA_PYTHON, reason="cuda-python is installed here: its bindings load")
def test_cuda_python_without_bindings_is_backend_unavailable(broken_tensorrt: str) -> None:
    with pytest.raises(BackendUnavailable) as info:
        cuda.import_cudart("tensorrt")
    assert "cuda.bindings.runtime" in info.value.reason
    assert "cuda.cudart" in info.value.reason
    assert info.value.hint is not None
    assert "cuda-python" in info.value.hint


# --- load(): the "not available, here is why" paths ------------------------------------------


@pytest.mark.skipif(HAVE_TENSORRT, reason="tensorrt is installed here")
def test_load_onnx_on_gpu_without_tensorrt(tensorrt_backend: None, one_op: Path) -> None:
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(one_op, device="gpu", backend="tensorrt")
    assert info.value.backend == "tensorrt"
    assert "not installed" in info.value.reason
    assert info.value.hint is not None
    assert "pypi.nvidia.com" in info.value.hint


def test_load_reports_the_loaders_message(
    tensorrt_backend: None, broken_tensorrt: str, one_op: Path
) -> None:
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(one_op, device="gpu", backend="tensorrt")
    assert broken_tensorrt in str(info.value)
    assert "pypi.nvidia.com" in str(info.value)


@pytest.mark.skipif(HAVE_TENSORRT, reason="tensorrt is installed here")
def test_engine_alone_names_tensorrt(tensorrt_backend: None, tmp_path: Path) -> None:
    engine = stand_in_engine(tmp_path)
    with pytest.raises(BackendUnavailable) as info:
        edgeinfer.load(engine)  # auto: a TensorRT engine is tried on the GPU even if none found
    assert info.value.backend == "tensorrt"
    assert "tensorrt" in info.value.reason


@pytest.mark.backend("onnxruntime")
@pytest.mark.parametrize("device", [["gpu", "cpu"], "auto"])
def test_folder_falls_back_to_onnx_on_the_cpu(
    tensorrt_backend: None,
    broken_tensorrt: str,
    one_op: Path,
    tmp_path: Path,
    device: Any,
) -> None:
    folder = tmp_path / "variants"
    stand_in_engine(folder)
    (folder / "model.onnx").write_bytes(one_op.read_bytes())
    with edgeinfer.load(folder, device=device) as model:
        assert model.device == "cpu"  # onnxruntime, or under auto a backend that picks its own
        assert model.backend != "tensorrt"
        assert model.path.endswith("model.onnx")
        first = model.attempts[0]
        assert (first.backend, first.device, first.error) == (
            "tensorrt",
            "gpu",
            "BackendUnavailable",
        )
        assert first.file.endswith("model.engine")
        assert broken_tensorrt in first.reason
        assert broken_tensorrt in model.explain()
        x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
        np.testing.assert_allclose(model.run(x)["y"], np.maximum(x, 0), rtol=1e-2, atol=1e-2)


def test_backends_lists_tensorrt_with_its_reason(tensorrt_backend: None) -> None:
    row = {info.name: info for info in edgeinfer.backends()}["tensorrt"]
    assert row.formats == ("tensorrt", "onnx")
    assert row.devices == ("gpu",)
    if not row.available:
        assert row.hint is not None
        assert "pypi.nvidia.com" in row.hint


# --- the engine cache: key, folder, files ------------------------------------------------------

KEY_ARGS: dict[str, Any] = {
    "model_sha256": "a" * 64,
    "trt_version": "10.3.0",
    "gpu_name": "Orin",
    "compute_capability": (8, 7),
    "options": {"precision": "fp16", "workspace": 1 << 30, "shapes": {}},
}


def test_cache_key_is_stable() -> None:
    first = trt_cache.engine_key(**KEY_ARGS)
    assert first == trt_cache.engine_key(**KEY_ARGS)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    reordered = dict(reversed(list(KEY_ARGS["options"].items())))
    assert trt_cache.engine_key(**{**KEY_ARGS, "options": reordered}) == first


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_sha256", "b" * 64),
        ("trt_version", "10.3.1"),
        ("trt_version", "11.0.0"),
        ("gpu_name", "NVIDIA GeForce RTX 4090"),
        ("compute_capability", (8, 9)),
        ("options", {**KEY_ARGS["options"], "precision": "fp32"}),
        ("options", {**KEY_ARGS["options"], "workspace": 1 << 28}),
        ("options", {**KEY_ARGS["options"], "shapes": {"x": [[1, 8], [1, 8], [4, 8]]}}),
        ("options", {**KEY_ARGS["options"], "optimization_level": 5}),
    ],
)
def test_cache_key_changes_with_each_input(field: str, value: Any) -> None:
    assert trt_cache.engine_key(**{**KEY_ARGS, field: value}) != trt_cache.engine_key(**KEY_ARGS)


def test_cache_key_includes_every_build_option() -> None:
    base = build.BuildOptions()
    plans = [
        precision.plan_precision(p, {"FP16", "BF16", "INT8", "TF32"}, 10, True, False)
        for p in (None, "fp32", "fp16", "bf16", "int8")
    ]
    keys = {
        trt_cache.engine_key(**{**KEY_ARGS, "options": {**plan.key(), **base.key()}})
        for plan in plans
    }
    assert len(keys) == len(plans)
    with_workspace = build.parse_options({"workspace": 1 << 20}).key()
    assert with_workspace != base.key()


def test_cache_paths(tmp_path: Path) -> None:
    key = trt_cache.engine_key(**KEY_ARGS)
    path = trt_cache.engine_path(Path("/models/my model!.onnx"), key, tmp_path)
    assert path.parent == tmp_path / "tensorrt" / "engines"
    assert path.name == f"my_model.{key[:32]}.engine"
    timing = trt_cache.timing_cache_path("10.3.0", "NVIDIA Orin (nvgpu)", (8, 7), tmp_path)
    assert timing.parent == tmp_path / "tensorrt" / "timing"
    assert timing.name == "trt10.3.0-NVIDIA_Orin_nvgpu-sm87.cache"
    assert not (tmp_path / "tensorrt").exists()


def test_model_digest_covers_external_data(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the test models are built with onnx")
    import onnx_models

    model = onnx_models.build_external_data(tmp_path / "ext.onnx", location="w.bin")
    first = edgeinfer.backend.model_digest(model)
    assert first == edgeinfer.backend.model_digest(model)
    (tmp_path / "w.bin").write_bytes(np.array([[9, 9, 9, 9]], np.float32).tobytes())
    assert edgeinfer.backend.model_digest(model) != first


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {"EDGEINFER_CACHE": "/srv/cache"}, "/srv/cache"),
        ("win32", {"EDGEINFER_CACHE": "/srv/cache", "LOCALAPPDATA": "/l"}, "/srv/cache"),
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, "/xdg/edgeinfer"),
        ("linux", {"XDG_CACHE_HOME": "relative/ignored"}, "/home/u/.cache/edgeinfer"),
        ("linux", {}, "/home/u/.cache/edgeinfer"),
        ("darwin", {"XDG_CACHE_HOME": "/xdg"}, "/home/u/Library/Caches/edgeinfer"),
        ("win32", {"LOCALAPPDATA": "/appdata/local"}, "/appdata/local/edgeinfer/Cache"),
        ("win32", {}, "/home/u/AppData/Local/edgeinfer/Cache"),
    ],
)
def test_cache_folder(platform: str, environ: dict[str, str], expected: str) -> None:
    found = _cache.cache_dir(environ=environ, platform=platform, home=Path("/home/u"))
    assert found == Path(expected)


def test_cache_folder_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("EDGEINFER_CACHE", "~/engines")
    assert _cache.cache_dir() == tmp_path / "engines"


def test_cache_files_are_created_only_when_written(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "tensorrt" / "engines" / "m.engine"
    assert _cache.read_cached(target) is None
    assert not (tmp_path / "cache").exists()
    _cache.write_cached(target, b"engine bytes")
    assert target.read_bytes() == b"engine bytes"
    _cache.write_cached(target, memoryview(b"replaced"))
    assert target.read_bytes() == b"replaced"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.engine"]  # no temporary left


# --- options -----------------------------------------------------------------------------------


def test_options_are_checked() -> None:
    parsed = build.parse_options(
        {
            "workspace": 1 << 30,
            "timing_cache": "~/timing.cache",
            "engine_cache": False,
            "shapes": {"x": {"min": [1, 8], "opt": [4, 8], "max": [16, 8]}},
            "optimization_level": 5,
        }
    )
    assert parsed.workspace == 1 << 30
    assert parsed.timing_cache == Path("~/timing.cache").expanduser()
    assert parsed.engine_cache is False
    assert parsed.shapes == {"x": ((1, 8), (4, 8), (16, 8))}
    assert build.parse_options({}) == build.BuildOptions()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"fp16": True}, "unknown tensorrt option"),
        ({"workspace": "1GB"}, "workspace"),
        ({"workspace": 0}, "workspace"),
        ({"workspace": True}, "workspace"),
        ({"timing_cache": 3}, "timing_cache"),
        ({"engine_cache": "yes"}, "engine_cache"),
        ({"optimization_level": 6}, "optimization_level"),
        ({"shapes": [1, 2]}, "shapes"),
        ({"shapes": {"x": [[1, 8], [4, 8]]}}, "(min, opt, max)"),
        ({"shapes": {"x": [[4, 8], [1, 8], [16, 8]]}}, "min <= opt <= max"),
        ({"shapes": {"x": [[1, 8], [4, 8], [16]]}}, "min <= opt <= max"),
        ({"shapes": {"x": [[0, 8], [4, 8], [16, 8]]}}, "shapes"),
    ],
)
def test_bad_options(extra: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(words)):
        build.parse_options(extra)


def test_profile_ranges() -> None:
    default = build.BuildOptions()
    assert build._profile_range("x", (-1, 8), default) == ((1, 8), (1, 8), (32, 8))
    given = build.parse_options({"shapes": {"x": [[2, 8], [4, 8], [8, 8]]}})
    assert build._profile_range("x", (-1, 8), given) == ((2, 8), (4, 8), (8, 8))
    with pytest.raises(ConfigurationError, match="does not fit"):
        build._profile_range("x", (-1, 3), given)  # the fixed dim differs
    with pytest.raises(ConfigurationError, match="does not fit"):
        build._profile_range("x", (-1, 8, 8), given)  # another rank


# --- precision per TensorRT version -----------------------------------------------------------

TRT10_FLAGS = {"FP16", "BF16", "INT8", "TF32", "FP8", "INT4"}
TRT11_FLAGS = {"TF32", "REFIT", "DEBUG", "EDITABLE_TIMING_CACHE"}  # no precision flags


def test_precision_plan_tensorrt_10() -> None:
    default = precision.plan_precision(None, TRT10_FLAGS, 10, True, False)
    assert (default.strongly_typed, default.flags, default.clear_tf32) == (True, (), False)
    fp32 = precision.plan_precision("fp32", TRT10_FLAGS, 10, True, False)
    assert fp32.clear_tf32
    assert "TF32 math disabled" in fp32.summary
    fp16 = precision.plan_precision("fp16", TRT10_FLAGS, 10, True, False)
    assert (fp16.strongly_typed, fp16.flags, fp16.autocast) == (False, ("FP16",), None)
    assert "BuilderFlag.FP16" in fp16.summary
    bf16 = precision.plan_precision("bf16", TRT10_FLAGS, 10, True, True)
    assert (bf16.strongly_typed, bf16.flags) == (False, ("BF16",))
    int8 = precision.plan_precision("int8", TRT10_FLAGS, 10, True, False)
    assert (int8.strongly_typed, int8.flags, int8.needs_qdq) == (True, (), True)


def test_precision_plan_tensorrt_11() -> None:
    with pytest.raises(ModelIncompatible) as info:
        precision.plan_precision("fp16", TRT11_FLAGS, 11, True, autocast=False)
    message = str(info.value)
    assert "TensorRT 11 has no BuilderFlag.FP16" in message
    assert "nvidia-modelopt" in message
    assert "modelopt.onnx.autocast" in message
    converted = precision.plan_precision("fp16", TRT11_FLAGS, 11, True, autocast=True)
    assert (converted.strongly_typed, converted.flags, converted.autocast) == (True, (), "fp16")
    assert "AutoCast" in converted.summary
    bf16 = precision.plan_precision("bf16", TRT11_FLAGS, 11, True, autocast=True)
    assert bf16.autocast == "bf16"
    int8 = precision.plan_precision("int8", TRT11_FLAGS, 11, True, autocast=False)
    assert (int8.strongly_typed, int8.needs_qdq) == (True, True)
    assert precision.plan_precision(None, TRT11_FLAGS, 11, True, False).flags == ()


def test_precision_plan_rejects_the_unknown() -> None:
    with pytest.raises(ModelIncompatible):
        precision.plan_precision("fp64", TRT10_FLAGS, 10, True, False)


def test_int8_needs_qdq_layers() -> None:
    trt = SimpleNamespace(LayerType=SimpleNamespace(QUANTIZE="Q", DEQUANTIZE="DQ", CONVOLUTION="C"))

    def network(*types: str) -> SimpleNamespace:
        layers = [SimpleNamespace(type=t) for t in types]
        return SimpleNamespace(num_layers=len(layers), get_layer=layers.__getitem__)

    assert precision.has_qdq(trt, network("C", "Q", "C", "DQ"))
    assert not precision.has_qdq(trt, network("C", "C"))


TRT10_INSPECTOR = {
    "Layers": [
        {
            "Name": "conv1 + relu",
            "LayerType": "CaskConvolution",
            "Inputs": [{"Name": "x", "Format/Datatype": "Row major linear FP16 format"}],
            "Outputs": [{"Name": "y", "Format/Datatype": "Channel major FP16 format where ..."}],
        },
        {
            "Name": "reformat",
            "LayerType": "Reformat",
            "Inputs": [{"Format/Datatype": "Row major linear FP32"}],
            "Outputs": [{"Format/Datatype": "Row major linear FP16 format"}],
        },
        {
            "Name": "gemm",
            "LayerType": "CaskGemmConvolution",
            "Inputs": [{"Format/Datatype": "Row major linear FP32"}],
            "Outputs": [{"Format/Datatype": "Row major linear FP32"}],
        },
        {
            "Name": "qconv",
            "LayerType": "CaskConvolution",
            "Inputs": [{"Format/Datatype": "Thirty-two wide channel vectorized row major Int8"}],
            "Outputs": [{"Format/Datatype": "Row major linear FP32"}],
        },
    ],
    "Bindings": ["x", "y"],
}
TRT11_INSPECTOR = {
    "Layers": [
        {
            "Name": "conv",
            "LayerType": "CaskConvolution",
            "Inputs": [{"Name": "x", "DataType": "Half", "Format": "Row major linear"}],
            "Outputs": [{"Name": "y", "DataType": "Half", "Format": "Row major linear"}],
        }
    ],
    "I/O Tensors": [{"Name": "x", "IOMode": "Input", "DataType": "Float"}],
}


def test_engine_precisions_from_the_inspector() -> None:
    counts = precision.engine_precisions(json.dumps(TRT10_INSPECTOR))
    assert counts == {"fp16": 1, "fp32": 1, "int8": 1}
    assert precision.engine_precisions(json.dumps(TRT11_INSPECTOR)) == {"fp16": 1}
    names_only = {"Layers": ["conv1 + relu", "gemm"], "Bindings": ["x"]}
    assert precision.engine_precisions(json.dumps(names_only)) is None
    assert precision.engine_precisions("not json") is None
    assert precision.describe_precisions(counts) in (
        "fp16 (1 layer), fp32 (1 layer), int8 (1 layer)",
        "fp16 (1 layer), int8 (1 layer), fp32 (1 layer)",
    )
    assert precision.describe_precisions(None) is None


# --- deserializing: another TensorRT's engine is ModelIncompatible ----------------------------


class LoggingTrt:
    """Stands in for what TensorRT does with loggers: it keeps the first logger it is handed
    (by ``init_libnvinfer_plugins``, ``Builder``, ``Runtime`` or ``OnnxParser``) and logs every
    later message to that one ("TensorRT maintains only a single logger pointer at any given
    time, so the existing value ... will be used instead", NVIDIA/TensorRT#1475)."""

    __version__ = "10.3.0.26"

    class ILogger:
        """The binding's base class; subclasses call ``ILogger.__init__(self)``."""

        def __init__(self) -> None:
            pass

    def __init__(self) -> None:
        self.handed: list[Any] = []  # every logger edgeinfer handed to "TensorRT", in order
        self.plugin_inits = 0

    def keep(self, logger: Any) -> None:
        self.handed.append(logger)

    def init_libnvinfer_plugins(self, logger: Any, namespace: str) -> bool:
        self.plugin_inits += 1
        self.keep(logger)
        return True

    def say(self, message: str, severity: int = 1) -> None:
        """A message from inside TensorRT: to the first logger it was ever given."""
        self.handed[0].log(severity, message)


class NullRuntime:
    """``trt.Runtime`` whose ``deserialize_cuda_engine`` logs ``said`` and returns ``None``."""

    def __init__(self, trt: LoggingTrt, logger: Any, said: str, raises: bool = False) -> None:
        trt.keep(logger)
        self.trt, self.said, self.raises = trt, said, raises

    def deserialize_cuda_engine(self, data: bytes) -> None:
        self.trt.say(self.said)
        if self.raises:
            raise RuntimeError(self.said)


@pytest.mark.parametrize(
    "said",
    [
        "IRuntime::deserializeCudaEngine: Error Code 6: API Usage Error (The engine plan file is "
        "not compatible with this version of TensorRT, expecting library version 10.3.0.26 got "
        "10.0.1.6, please rebuild.)",
        "1: [stdArchiveReader.cpp::StdArchiveReader::40] Error Code 1: Serialization "
        "(Serialization assertion stdVersionRead == serializationVersion failed.Version tag does "
        "not match. Note: Current Version: 239, Serialized Engine Version: 213)",
        "The engine plan file is generated on an incompatible device, expecting compute 8.7 got "
        "compute 8.6, please rebuild.",
    ],
)
def test_engine_from_another_tensorrt_is_incompatible(said: str) -> None:
    trt = LoggingTrt()
    logger = trt_logger.process_logger(trt)
    trt.say("stale line", severity=2)  # logged before the call: not its reason
    with pytest.raises(ModelIncompatible) as info:
        runtime.deserialize(trt, NullRuntime(trt, logger, said), b"x", "model.engine")
    message = str(info.value)
    assert "model.engine" in message
    assert "TensorRT 10.3.0.26" in message
    assert said in message
    assert "another TensorRT version or for another GPU" in message
    assert "stale line" not in message


def test_unreadable_engine_is_a_model_error() -> None:
    trt = LoggingTrt()
    logger = trt_logger.process_logger(trt)
    broken = NullRuntime(trt, logger, "Magic tag does not match", raises=True)
    with pytest.raises(ModelError, match="Magic tag does not match") as info:
        runtime.deserialize(trt, broken, b"x", "model.engine")
    assert not isinstance(info.value, ModelIncompatible)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert isinstance(info.value.__cause__.__cause__, RuntimeError)  # what the binding raised


# --- one logger per process, its messages routed to the call that asked -----------------------


def test_the_process_logger_is_made_once_and_kept() -> None:
    trt = LoggingTrt()
    first = trt_logger.process_logger(trt)
    assert isinstance(first, LoggingTrt.ILogger)
    assert trt_logger.process_logger(trt) is first
    assert trt.plugin_inits == 1  # TensorRT's plugins registered once, with that logger
    assert trt.handed == [first]


def test_messages_go_to_the_capture_of_the_thread_that_logged_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = trt_logger.process_logger(LoggingTrt())
    both_inside = threading.Barrier(2)
    heard: dict[str, list[str]] = {}

    def work(name: str) -> None:
        with trt_logger.Capture() as capture:
            both_inside.wait(timeout=10)  # the two captures are open at the same time
            logger.log(1, f"error of {name}")
            both_inside.wait(timeout=10)
            logger.log(2, f"warning of {name}")
            logger.log(3, f"info of {name}")  # INFO and VERBOSE are not kept
            logger.log(4, f"verbose of {name}")
        heard[name] = list(capture.lines)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert heard == {n: [f"error of {n}", f"warning of {n}"] for n in ("a", "b")}
    with caplog.at_level("DEBUG", logger="edgeinfer"):
        logger.log(1, "nobody asked")  # no capture open on this thread: the log only
    assert "tensorrt: nobody asked" in [r.getMessage() for r in caplog.records]


def test_nested_captures_hear_their_own_lines() -> None:
    logger = trt_logger.process_logger(LoggingTrt())
    with trt_logger.Capture() as outer:
        logger.log(1, "outer before")
        with trt_logger.Capture() as inner:
            logger.log(1, "inner")
        logger.log(1, "outer after")
    assert list(inner.lines) == ["inner"]
    assert list(outer.lines) == ["outer before", "outer after"]
    with outer:  # entering again starts afresh
        pass
    assert outer.text() == ""


def test_an_exception_in_a_capture_carries_what_tensorrt_said() -> None:
    logger = trt_logger.process_logger(LoggingTrt())
    native = TypeError("pybind11::init(): factory function returned nullptr")

    def fail(said: str, error: Exception) -> None:
        with trt_logger.Capture():
            if said:
                logger.log(1, said)
            raise error

    with pytest.raises(trt_errors.TensorRtError) as info:
        fail("CUDA initialization failure with error: 35", native)
    assert str(info.value) == (
        "TypeError: pybind11::init(): factory function returned nullptr "
        "[TensorRT said: CUDA initialization failure with error: 35]"
    )
    assert info.value.__cause__ is native
    with pytest.raises(TypeError, match=r"^plain$"):  # nothing said: left as it was
        fail("", TypeError("plain"))
    with pytest.raises(ModelError, match=r"^already translated$"):  # edgeinfer's own: as it was
        fail("ignored", ModelError("already translated"))


def test_the_logger_never_raises_into_tensorrt() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    logger = trt_logger.process_logger(LoggingTrt())
    with trt_logger.Capture() as capture:
        logger.log(object(), Unprintable())  # an odd severity, a message that cannot print
        logger.log(1, "still here")
    assert list(capture.lines) == ["still here"]


# --- CUDA errors, named ------------------------------------------------------------------------


# cudart's error enum, by its own names.
CudaError = enum.IntEnum(
    "CudaError",
    {
        "cudaSuccess": 0,
        "cudaErrorMemoryAllocation": 2,
        "cudaErrorInsufficientDriver": 35,
        "cudaErrorNoDevice": 100,
        "cudaErrorUnknown": 999,
    },
)


class FakeCudart:
    """Records cudart calls; "device memory" is host memory, so copies are real memmoves."""

    cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)  # noqa: N815

    def __init__(
        self,
        count: int = 1,
        count_error: CudaError = CudaError.cudaSuccess,
        driver: int | None = None,
        runtime: int | None = None,
    ) -> None:
        self.count, self.count_error = count, count_error
        # cudaDriverGetVersion / cudaRuntimeGetVersion (1000 * major + 10 * minor); None: the
        # call fails as well
        self.driver, self.runtime = driver, runtime
        self.memory: dict[int, np.ndarray] = {}
        self.fail_copies: CudaError | None = None
        self.calls: list[str] = []

    def cudaGetErrorString(self, error: CudaError) -> tuple[int, bytes]:  # noqa: N802
        return 0, f"description of {error.name}".encode()

    def cudaDriverGetVersion(self) -> tuple[int, int]:  # noqa: N802
        # "If no driver is installed, then 0 is returned as the driver version"
        return (0, self.driver) if self.driver is not None else (CudaError.cudaErrorUnknown, 0)

    def cudaRuntimeGetVersion(self) -> tuple[int, int]:  # noqa: N802
        if self.runtime is None:
            return CudaError.cudaErrorInsufficientDriver, 0
        return 0, self.runtime

    def cudaGetDeviceCount(self) -> tuple[CudaError, int]:  # noqa: N802
        return self.count_error, self.count

    def cudaSetDevice(self, index: int) -> tuple[int]:  # noqa: N802
        self.calls.append(f"set {index}")
        return (0,)

    def cudaGetDeviceProperties(self, index: int) -> tuple[int, Any]:  # noqa: N802
        return 0, SimpleNamespace(name=b"Orin\x00\x00junk", major=8, minor=7)

    def cudaMalloc(self, nbytes: int) -> tuple[int, int]:  # noqa: N802
        block = np.zeros(nbytes, np.uint8)
        self.memory[block.ctypes.data] = block
        self.calls.append(f"malloc {nbytes}")
        return 0, block.ctypes.data

    def cudaFree(self, ptr: int) -> tuple[int]:  # noqa: N802
        del self.memory[ptr]
        self.calls.append("free")
        return (0,)

    def cudaMemcpyAsync(self, dst: int, src: int, n: int, kind: int, stream: Any) -> tuple[Any]:  # noqa: N802
        if self.fail_copies is not None:
            return (self.fail_copies,)
        ctypes.memmove(dst, src, n)
        return (0,)

    def cudaStreamCreate(self) -> tuple[int, int]:  # noqa: N802
        return 0, 7

    def cudaStreamSynchronize(self, stream: Any) -> tuple[int]:  # noqa: N802
        return (0,)

    def cudaStreamDestroy(self, stream: Any) -> tuple[int]:  # noqa: N802
        self.calls.append("stream destroyed")
        return (0,)


def test_cuda_errors_are_named() -> None:
    cudart = FakeCudart()
    assert cuda.call(cudart, (0, 5), "x") == 5
    assert cuda.call(cudart, (0, 1, 2), "x") == (1, 2)
    assert cuda.call(cudart, (0,), "x") is None
    with pytest.raises(DeviceError, match="CUDA failed in cudaFree: cudaErrorUnknown") as fault:
        cuda.call(cudart, (CudaError.cudaErrorUnknown,), "cudaFree")
    assert isinstance(fault.value.__cause__, trt_errors.CudaError)
    # out of memory is the kit's OutOfMemory for every backend (an InferenceError: it falls back)
    with pytest.raises(OutOfMemory, match="cudaErrorMemoryAllocation: description of"):
        cuda.call(cudart, (CudaError.cudaErrorMemoryAllocation, 0), "cudaMalloc")
    with pytest.raises(BackendUnavailable) as info:
        cuda.call(cudart, (CudaError.cudaErrorInsufficientDriver,), "cudaGetDeviceCount")
    assert "cudaErrorInsufficientDriver" in info.value.reason
    assert "driver" in info.value.reason
    assert info.value.hint is not None
    assert "nvidia-smi" in info.value.hint


@pytest.mark.parametrize(
    ("cudart", "index", "error", "words"),
    [
        (FakeCudart(count_error=CudaError.cudaErrorNoDevice), None, BackendUnavailable, "NoDevice"),
        (
            FakeCudart(count_error=CudaError.cudaErrorInsufficientDriver),
            0,
            BackendUnavailable,
            "no NVIDIA driver is loaded",
        ),
        (FakeCudart(count=0), None, BackendUnavailable, "no CUDA-capable GPU"),
        (FakeCudart(count=1), 1, DeviceError, "gpu:1 was asked for"),
    ],
)
def test_device_selection_failures(
    cudart: FakeCudart, index: int | None, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        cuda.select_device(cudart, index)


@pytest.mark.parametrize(
    ("driver", "runtime_", "installed", "words"),
    [
        # no driver: cudaDriverGetVersion reports 0, the runtime still knows its own version
        (0, 13000, None, "no NVIDIA driver is loaded (or it is older than CUDA 13.0 needs)"),
        # a driver for CUDA 12.4 under cuda-python 13
        (12040, 13000, None, "the NVIDIA driver supports CUDA 12.4, older than CUDA 13.0"),
        # nothing answers: the installed cuda-python says which CUDA it was built for
        (None, None, "13.0.2", "no NVIDIA driver is loaded (or it is older than CUDA 13 needs)"),
        (None, None, None, "no NVIDIA driver is loaded (or it is older than this cuda-python's"),
    ],
)
def test_no_driver_is_said_plainly(
    monkeypatch: pytest.MonkeyPatch,
    driver: int | None,
    runtime_: int | None,
    installed: str | None,
    words: str,
) -> None:
    monkeypatch.setattr(cuda, "installed_version", lambda *names: installed)
    cudart = FakeCudart(
        count_error=CudaError.cudaErrorInsufficientDriver, driver=driver, runtime=runtime_
    )
    with pytest.raises(BackendUnavailable) as info:
        cuda.select_device(cudart, None)
    found = info.value
    assert found.backend == "tensorrt"
    assert found.reason.startswith(words), found.reason
    # the runtime's own words stay, not as the explanation but as the evidence
    assert "cudaGetDeviceCount: cudaErrorInsufficientDriver: description of" in found.reason
    assert found.hint is not None
    for fix in ("nvidia-smi", "JetPack", "pip install tensorrt-cu12", "device='cpu'"):
        assert fix in found.hint


@pytest.mark.backend("onnxruntime")
def test_no_driver_falls_back_with_the_reason(
    tensorrt_backend: None, fake_tensorrt: Any, monkeypatch: pytest.MonkeyPatch, one_op: Path
) -> None:
    from edgeinfer.backends.tensorrt import backend as backend_module

    no_driver = FakeCudart(
        count_error=CudaError.cudaErrorInsufficientDriver, driver=0, runtime=13000
    )
    monkeypatch.setattr(backend_module, "import_cudart", lambda name: no_driver)
    monkeypatch.setattr(runtime, "availability", lambda: Availability(True, "stand-ins"))
    with edgeinfer.load(one_op, device=["gpu", "cpu"]) as model:
        assert model.backend != "tensorrt"
        (tried,) = [a for a in model.attempts if a.backend == "tensorrt"]
        assert tried.error == "BackendUnavailable"
        assert tried.reason.startswith(
            "no NVIDIA driver is loaded (or it is older than CUDA 13.0 needs)"
        )
        assert "pip install tensorrt-cu12" in model.explain()


def test_device_selection() -> None:
    cudart = FakeCudart(count=2)
    assert cuda.select_device(cudart, None) == (0, "Orin", (8, 7))
    assert cuda.select_device(cudart, 1)[0] == 1
    assert cudart.calls == ["set 0", "set 1"]


def test_device_buffers_grow_only() -> None:
    cudart = FakeCudart()
    buffer = cuda.DeviceBuffer(cudart)
    assert buffer.ensure(64)
    first = buffer.ptr
    assert not buffer.ensure(16)
    assert not buffer.ensure(64)
    assert buffer.ptr == first
    assert buffer.ensure(65)
    assert buffer.nbytes == 65
    buffer.free()
    buffer.free()
    assert cudart.memory == {}
    assert cudart.calls == ["malloc 64", "free", "malloc 65", "free"]


# --- the executor's bookkeeping (against the recording fake above) -----------------------------


class FakeContext:
    """Stands in for IExecutionContext: y = fn(x) (float32) over whatever the addresses hold."""

    def __init__(self, cudart: FakeCudart, fn: Any = lambda x: 2 * x, shapes: Any = None) -> None:
        self.cudart = cudart
        self.fn = fn
        self.addresses: dict[str, int] = {}
        self.shapes: dict[str, tuple[int, ...]] = dict(shapes or {})
        self.address_sets = 0

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        self.address_sets += 1
        return True

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes["x"]

    def execute_async_v3(self, stream: int) -> bool:
        shape = self.shapes["x"]
        count = int(np.prod(shape))
        x = self.cudart.memory[self.addresses["x"]][: count * 4].view(np.float32)
        y = self.cudart.memory[self.addresses["y"]][: count * 4].view(np.float32)
        y[:] = self.fn(x)
        return True


def executor(dynamic: bool) -> tuple[trt_io.Executor, FakeCudart, FakeContext]:
    cudart = FakeCudart()
    dims = (-1, 4) if dynamic else (2, 4)
    spec_shape = tuple(None if d < 0 else d for d in dims)
    profile = ((1, 4), (1, 4), (8, 4)) if dynamic else None
    x = trt_io.Tensor(
        "x",
        TensorSpec("x", spec_shape, np.dtype(np.float32)),
        dims,
        profile,
        cuda.DeviceBuffer(cudart),
    )
    y = trt_io.Tensor(
        "y",
        TensorSpec("y", spec_shape, np.dtype(np.float32)),
        dims,
        None,
        cuda.DeviceBuffer(cudart),
    )
    context = FakeContext(cudart)
    if not dynamic:
        context.shapes["x"] = dims
    run = trt_io.Executor(SimpleNamespace(), cudart, context, [x], [y], 0)
    return run, cudart, context


def test_executor_static_shapes_allocate_once_and_return_fresh_arrays() -> None:
    run, _, context = executor(dynamic=False)
    assert run.allocations == 2  # both buffers at open
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    first = run.run({"x": x})["y"]
    second = run.run({"x": x + 1})["y"]
    np.testing.assert_array_equal(first, 2 * x)  # not overwritten by the second call
    np.testing.assert_array_equal(second, 2 * (x + 1))
    assert not np.shares_memory(first, second)
    assert (run.allocations, context.address_sets) == (2, 2)


def test_executor_dynamic_shapes_grow_buffers_only_when_needed() -> None:
    run, cudart, _ = executor(dynamic=True)
    assert run.allocations == 0  # nothing known before the first call
    for batch, allocations in ((4, 2), (1, 2), (4, 2), (8, 4), (2, 4)):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        np.testing.assert_allclose(run.run({"x": x})["y"], 2 * x)
        assert run.allocations == allocations, batch
    with pytest.raises(
        InvalidInput, match=r"outside the engine's optimization profile \[1..8, 4\]"
    ):
        run.run({"x": np.zeros((9, 4), np.float32)})
    run.close()
    run.close()
    assert cudart.memory == {}
    assert cudart.calls.count("stream destroyed") == 1
    with pytest.raises(InferenceError, match="closed"):
        run.run({"x": np.zeros((1, 4), np.float32)})


def test_executor_names_a_failing_copy() -> None:
    run, cudart, _ = executor(dynamic=False)
    cudart.fail_copies = CudaError.cudaErrorMemoryAllocation
    with pytest.raises(OutOfMemory, match="cudaErrorMemoryAllocation"):
        run.run({"x": np.zeros((2, 4), np.float32)})


def test_executor_is_thread_safe() -> None:
    run, _, _ = executor(dynamic=True)
    failures: list[str] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(50):
            x = rng.standard_normal((int(rng.integers(1, 9)), 4)).astype(np.float32)
            if not np.allclose(run.run({"x": x})["y"], 2 * x):
                failures.append(f"thread {seed}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


class FakeEngine:
    """Stands in for ICudaEngine's name-based I/O queries."""

    def __init__(self, tensors: list[tuple[str, str, str, tuple[int, ...], str]]) -> None:
        self.tensors = {t[0]: t for t in tensors}
        self.num_io_tensors = len(tensors)
        self.names = [t[0] for t in tensors]

    def get_tensor_name(self, index: int) -> str:
        return self.names[index]

    def get_tensor_mode(self, name: str) -> str:
        return self.tensors[name][1]

    def get_tensor_dtype(self, name: str) -> Any:
        return SimpleNamespace(name=self.tensors[name][2])

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name][3]

    def get_tensor_location(self, name: str) -> str:
        return self.tensors[name][4]

    def get_tensor_profile_shape(self, name: str, profile: int) -> list[tuple[int, ...]]:
        return [(1, 3), (2, 3), (8, 3)]


FAKE_TRT = SimpleNamespace(
    TensorIOMode=SimpleNamespace(INPUT="in", OUTPUT="out"),
    TensorLocation=SimpleNamespace(DEVICE="dev", HOST="host"),
)


def test_engine_tensors_become_specs() -> None:
    engine = FakeEngine(
        [
            ("x", "in", "FLOAT", (-1, 3), "dev"),
            ("mask", "in", "BOOL", (1, 3), "dev"),
            ("y", "out", "HALF", (-1, 3), "dev"),
            ("ids", "out", "INT64", (-1,), "dev"),
        ]
    )
    inputs, outputs = trt_io.read_tensors(FAKE_TRT, engine, FakeCudart())
    assert [str(t.spec) for t in inputs] == ["x: float32[?, 3]", "mask: bool[1, 3]"]
    assert [str(t.spec) for t in outputs] == ["y: float16[?, 3]", "ids: int64[?]"]
    assert inputs[0].profile == ((1, 3), (2, 3), (8, 3))
    assert inputs[1].profile is None


@pytest.mark.parametrize(
    ("tensor", "words"),
    [
        (("x", "in", "BF16", (1, 3), "dev"), "BF16, which numpy cannot hold"),
        (("x", "in", "FP8", (1, 3), "dev"), "FP8"),
        (("x", "in", "INT32", (2,), "host"), "shape tensor"),
    ],
)
def test_engine_tensors_edgeinfer_cannot_feed(tensor: Any, words: str) -> None:
    with pytest.raises(ModelIncompatible, match=words):
        trt_io.read_tensors(FAKE_TRT, FakeEngine([tensor]), FakeCudart())


# --- where the engine comes from: build, cache, file (against a recording fake of TensorRT) -----


class FakeTrt(LoggingTrt):
    """Records the TensorRT 10.x calls edgeinfer makes to build, cache and open an engine for
    tests/onnx_models.build_one_op (x float32[1, 16] -> y = relu(x)). Nothing here is TensorRT:
    it shows that edgeinfer calls the API in the documented order and keeps its cache right.
    Failures are logged the way TensorRT logs them: to the first logger it was given."""

    BuilderFlag = SimpleNamespace(
        FP16="FP16", BF16="BF16", INT8="INT8", TF32="TF32", __members__={"FP16", "BF16", "INT8"}
    )
    NetworkDefinitionCreationFlag = SimpleNamespace(STRONGLY_TYPED=1)
    MemoryPoolType = SimpleNamespace(WORKSPACE="workspace")
    ProfilingVerbosity = SimpleNamespace(DETAILED="detailed")
    LayerInformationFormat = SimpleNamespace(JSON="json")
    LayerType = SimpleNamespace(QUANTIZE="Q", DEQUANTIZE="DQ")
    TensorIOMode = FAKE_TRT.TensorIOMode
    TensorLocation = FAKE_TRT.TensorLocation
    STALE = "The engine plan file is not compatible with this version of TensorRT, expecting "

    def __init__(self, cudart: FakeCudart) -> None:
        super().__init__()
        self.cudart = cudart
        self.fail_build = ""
        self.fail_runtime = ""  # Runtime(logger) logs this and raises, as with no usable CUDA
        self.calls: list[str] = []

    # --- builder side -------------------------------------------------------------------------
    def Builder(self, logger: Any) -> Any:  # noqa: N802 - TensorRT's name
        self.calls.append("Builder")
        self.keep(logger)
        return SimpleNamespace(
            create_network=self._network,
            create_builder_config=lambda: _FakeConfig(self.calls),
            build_serialized_network=lambda network, config: self._build(config),
        )

    def _network(self, flags: int) -> Any:
        self.calls.append(f"network flags {flags}")
        tensor = SimpleNamespace(name="x", shape=(1, 16))
        return SimpleNamespace(num_inputs=1, get_input=lambda i: tensor, num_layers=0)

    def OnnxParser(self, network: Any, logger: Any) -> Any:  # noqa: N802
        self.keep(logger)
        return SimpleNamespace(parse_from_file=lambda path: self.calls.append("parse") or True)

    def _build(self, config: _FakeConfig) -> Any:
        self.calls.append(f"build (verbosity {config.profiling_verbosity})")
        if self.fail_build:
            self.say(self.fail_build)
            return None
        return memoryview(b"ENGINE")

    # --- runtime side -------------------------------------------------------------------------
    def Runtime(self, logger: Any) -> Any:  # noqa: N802
        self.keep(logger)
        if self.fail_runtime:
            self.say(self.fail_runtime)
            raise TypeError("pybind11::init(): factory function returned nullptr")
        return SimpleNamespace(deserialize_cuda_engine=self._engine)

    def _engine(self, data: Any) -> Any:
        self.calls.append(f"deserialize {bytes(data)!r}")
        if bytes(data) != b"ENGINE":  # a stand-in engine names the TensorRT that "built" it
            built_by = bytes(data)[16:].strip(b"\0").decode() or "8.6.1"
            self.say(self.STALE + f"library version 10.3.0.26 got {built_by}, please rebuild.")
            return None
        io = [("x", "in", "FLOAT", (1, 16), "dev"), ("y", "out", "FLOAT", (1, 16), "dev")]
        engine = FakeEngine(io)
        layers = {"Layers": [{"LayerType": "CaskPointwise", "Inputs": [{"DataType": "Float"}]}]}
        engine.create_execution_context = lambda: FakeContext(
            self.cudart, lambda x: np.maximum(x, 0), {"x": (1, 16)}
        )
        engine.create_engine_inspector = lambda: SimpleNamespace(
            get_engine_information=lambda fmt: json.dumps(layers)
        )
        return engine


class _FakeConfig:
    profiling_verbosity = None

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.cache: Any = None

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.calls.append(f"workspace {size}")

    def set_flag(self, flag: str) -> None:
        self.calls.append(f"flag {flag}")

    def clear_flag(self, flag: str) -> None:
        self.calls.append(f"clear {flag}")

    def create_timing_cache(self, data: bytes) -> Any:
        self.calls.append(f"timing cache of {len(data)} bytes")
        return SimpleNamespace(serialize=lambda: b"timing+" + bytes(data))

    def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
        self.cache = cache
        return not ignore_mismatch

    def get_timing_cache(self) -> Any:
        return self.cache


@pytest.fixture
def fake_tensorrt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[FakeTrt, FakeCudart, Path]:
    from edgeinfer.backends.tensorrt import backend as backend_module

    cudart = FakeCudart()
    fake = FakeTrt(cudart)
    monkeypatch.setattr(runtime, "load_tensorrt", lambda name: fake)
    monkeypatch.setattr(backend_module, "import_cudart", lambda name: cudart)
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEINFER_CACHE", str(cache))
    return fake, cudart, cache


def open_one_op(one_op: Path, **options: Any) -> Any:
    from edgeinfer.backend import OpenOptions
    from edgeinfer.backends.tensorrt.backend import TensorRtBackend

    precision_ = options.pop("precision", None)
    return TensorRtBackend.open(
        one_op, edgeinfer.DeviceRequest("gpu"), OpenOptions(precision=precision_, extra=options)
    )


def test_build_then_cache_hit(fake_tensorrt: Any, one_op: Path) -> None:
    fake, _, cache = fake_tensorrt
    first = open_one_op(one_op, workspace=1 << 20, precision="fp16")
    assert fake.calls[:4] == ["Builder", "network flags 0", "parse", "workspace 1048576"]
    assert "flag FP16" in fake.calls
    assert "build (verbosity detailed)" in fake.calls
    details = first.details()
    assert details["engine"].startswith("built: from one_op.onnx in")
    assert details["precision"].startswith("fp32 (1 layer) (engine inspector); built as: fp16")
    assert details["gpu"] == "Orin (compute capability 8.7, CUDA device 0)"
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    np.testing.assert_array_equal(first.run({"x": x})["y"], np.maximum(x, 0))
    first.close()
    first.close()
    engines = sorted(p.name for p in (cache / "tensorrt" / "engines").iterdir())
    assert [Path(n).suffix for n in engines] == [".engine", ".json"]
    about = json.loads((cache / "tensorrt" / "engines" / engines[1]).read_text())
    assert (about["tensorrt"], about["gpu"], about["options"]["flags"]) == (
        "10.3.0.26",
        "Orin",
        ["FP16"],
    )
    timing = cache / "tensorrt" / "timing" / "trt10.3.0.26-Orin-sm87.cache"
    assert timing.read_bytes() == b"timing+"
    fake.calls.clear()
    second = open_one_op(one_op, workspace=1 << 20, precision="fp16")
    assert "Builder" not in fake.calls
    assert (
        second.details()["engine"] == f"engine cache: {cache / 'tensorrt' / 'engines' / engines[0]}"
    )
    third = open_one_op(one_op, workspace=1 << 21, precision="fp16")  # another option: a build
    assert "built" in third.details()["engine"]
    assert "timing cache of 7 bytes" in fake.calls  # the saved timing cache was read back


def test_stale_cache_entry_is_rebuilt(fake_tensorrt: Any, one_op: Path) -> None:
    fake, _, cache = fake_tensorrt
    open_one_op(one_op).close()
    (engine,) = (cache / "tensorrt" / "engines").glob("*.engine")
    engine.write_bytes(b"truncated")
    fake.calls.clear()
    again = open_one_op(one_op)
    assert "Builder" in fake.calls
    assert "did not load and was rebuilt" in again.details()["engine"]
    assert engine.read_bytes() == b"ENGINE"


def test_caches_can_be_turned_off(fake_tensorrt: Any, one_op: Path) -> None:
    _, _, cache = fake_tensorrt
    backend = open_one_op(one_op, engine_cache=False, timing_cache=False)
    assert backend.details()["timing cache"] == "off"
    assert not cache.exists()


def test_build_failure_says_why(fake_tensorrt: Any, one_op: Path) -> None:
    fake, _, _ = fake_tensorrt
    fake.fail_build = "Error Code 10: Internal Error (Could not find any implementation for node)"
    with pytest.raises(ModelIncompatible, match="Could not find any implementation"):
        open_one_op(one_op)
    fake.fail_build = "Error Code 2: OutOfMemory (Requested size was 1073741824 bytes.)"
    with pytest.raises(OutOfMemory, match=r"could not build an engine from one_op\.onnx"):
        open_one_op(one_op)


def test_shapes_must_name_dynamic_inputs(fake_tensorrt: Any, one_op: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"not dynamic inputs of the model \(its dynamic"):
        open_one_op(one_op, shapes={"x": [[1, 16], [1, 16], [1, 16]]})


def test_user_engine_from_another_tensorrt(fake_tensorrt: Any, tmp_path: Path) -> None:
    engine = stand_in_engine(tmp_path)
    with pytest.raises(ModelIncompatible, match="another TensorRT version") as info:
        open_one_op(engine)
    assert "TensorRT 10.3.0.26" in str(info.value)


def test_consecutive_opens_hear_their_own_errors_through_one_logger(
    fake_tensorrt: Any, tmp_path: Path
) -> None:
    """The fake logs, as TensorRT does, to the first logger it was ever given. With a logger per
    open the second open heard nothing (its logger was never called) and its stale engine read
    as an unreadable file; with one logger routed per call, each open gets its own reason."""
    fake, _, _ = fake_tensorrt
    errors = []
    for built_by in ("8.6.1", "10.0.1.6"):
        engine = tmp_path / built_by / "model.engine"
        engine.parent.mkdir()
        engine.write_bytes(ENGINE_STAND_IN[:16] + built_by.encode())
        with pytest.raises(ModelIncompatible) as info:
            open_one_op(engine)
        errors.append(str(info.value))
    assert "got 8.6.1," in errors[0]
    assert "got 10.0.1.6," in errors[1]
    assert "8.6.1" not in errors[1]
    assert len(fake.handed) == 3  # init_libnvinfer_plugins, then one Runtime per open
    assert all(logger is fake.handed[0] for logger in fake.handed)
    assert fake.plugin_inits == 1


def test_tensorrt_failing_to_start_says_what_it_logged(fake_tensorrt: Any, one_op: Path) -> None:
    fake, _, _ = fake_tensorrt
    fake.fail_runtime = (
        "CUDA initialization failure with error: 35. Please check your CUDA installation: "
        "http://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html"
    )
    with pytest.raises(DeviceError) as info:  # the device, not the model: falls back likewise
        open_one_op(one_op)
    message = str(info.value)
    assert message.startswith("TensorRT cannot open one_op.onnx: TypeError: pybind11::init()")
    assert "[TensorRT said: CUDA initialization failure with error: 35." in message
    assert isinstance(info.value.__cause__, trt_errors.TensorRtError)
    assert isinstance(info.value.__cause__.__cause__, TypeError)


def test_extras_per_cuda_major_match_the_install_hint() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert extras["tensorrt"] == ["edgeinfer[tensorrt-cu13]"]  # what `pip install tensorrt` gets
    for major in (12, 13):
        wheels = [d for d in extras[f"tensorrt-cu{major}"] if d.startswith("tensorrt")]
        assert [d.split(">=")[0] for d in wheels] == [f"tensorrt-cu{major}"]
        assert f"cuda-python>={major}.0,<{major + 1}" in extras[f"tensorrt-cu{major}"]
        assert f"'tensorrt-cu{major}' extra" in runtime.HINT
        assert f"'cuda-python>={major},<{major + 1}'" in runtime.HINT  # Jetson: cuda-python only
    assert "--extra-index-url https://pypi.nvidia.com" in runtime.HINT
    assert "TensorRT comes with JetPack" in runtime.HINT


def test_external_data_in_subgraphs_is_part_of_the_model_digest(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the test models are built with onnx")
    import onnx_models
    from edgeinfer._kit.onnx_scan import check_onnx_file

    model = onnx_models.build_external_data_in_subgraph(tmp_path / "sub.onnx", location="w.bin")
    assert check_onnx_file(model).external_data == ("w.bin",)
    first = edgeinfer.backend.model_digest(model)
    (tmp_path / "w.bin").write_bytes(np.array([[9, 9, 9, 9]], np.float32).tobytes())
    assert edgeinfer.backend.model_digest(model) != first


# --- real TensorRT on a real GPU ---------------------------------------------------------------


@pytest.fixture
def gpu_cache(tensorrt_backend: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private engine cache, once TensorRT is known to open a model on a GPU here."""
    info = runtime.availability()
    if not info.available:
        pytest.skip(f"tensorrt: {info.reason} ({info.hint})")
    if not HAVE_ORT:
        pytest.skip("onnxruntime is the reference: pip install 'edgeinfer[test]'")
    pytest.importorskip("onnx", reason="the test models are built with onnx")
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEINFER_CACHE", str(cache))
    import onnx_models

    probe = onnx_models.build_one_op(tmp_path / "probe.onnx")
    quiet = {"engine_cache": False, "timing_cache": False}  # leaves the cache folder empty
    try:
        edgeinfer.load(
            probe, device="gpu", backend="tensorrt", fallback=False, options=quiet
        ).close()
    except BackendUnavailable as error:
        pytest.skip(f"tensorrt: {error.reason} ({error.hint})")
    return cache


def reference(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def allocations(model: edgeinfer.Model) -> int:
    found = re.search(r"device buffers: (\d+) allocation", model.explain())
    assert found, model.explain()
    return int(found.group(1))


@pytest.mark.hardware
@pytest.mark.parametrize(("precision_", "tolerance"), [("fp32", 1e-3), ("fp16", 5e-2)])
def test_real_mobilenet_matches_onnxruntime(
    gpu_cache: Path, tmp_path: Path, precision_: str, tolerance: float
) -> None:
    import onnx_models

    path = onnx_models.build_mobilenet_v2(tmp_path / "mobilenet_v2.onnx")
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = reference(path, {"input": x})["logits"]
    try:
        model = edgeinfer.load(
            path, device="gpu", backend="tensorrt", precision=precision_, fallback=False
        )
    except ModelIncompatible as error:
        if "has no BuilderFlag" not in str(error):
            raise
        pytest.skip(str(error))  # fp16 on TensorRT 11 without ModelOpt: the documented refusal
    with model:
        assert (model.backend, model.device) == ("tensorrt", "gpu:0")
        got = model.run(x)["logits"]
        scale = float(np.abs(expected).max())
        assert float(np.abs(got - expected).max()) <= tolerance * scale
        text = model.explain()
        assert "precision:" in text
        assert "engine: built" in text
        engines = list((gpu_cache / "tensorrt" / "engines").glob("*.engine"))
        assert len(engines) == 1
        assert list((gpu_cache / "tensorrt" / "timing").glob("*.cache"))
    with edgeinfer.load(path, device="gpu", backend="tensorrt", precision=precision_) as again:
        assert "engine: engine cache" in again.explain()
        np.testing.assert_allclose(again.run(x)["logits"], got, rtol=1e-4, atol=1e-4)


@pytest.mark.hardware
def test_real_buffers_are_reused_and_outputs_fresh(gpu_cache: Path, one_op: Path) -> None:
    with edgeinfer.load(one_op, device="gpu", backend="tensorrt") as model:
        before = allocations(model)
        x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
        outputs = [model.run(x * k)["y"] for k in (1, 2, 3)]
        assert allocations(model) == before
        for k, out in zip((1, 2, 3), outputs, strict=True):
            np.testing.assert_array_equal(out, np.maximum(x * k, 0))
        assert not np.shares_memory(outputs[0], outputs[1])


@pytest.mark.hardware
def test_real_dynamic_batch(gpu_cache: Path, dynamic_batch: Path) -> None:
    shapes = {"x": [[1, 8], [4, 8], [16, 8]]}
    with edgeinfer.load(
        dynamic_batch, device="gpu", backend="tensorrt", options={"shapes": shapes}
    ) as model:
        assert "optimization profile: x: [1..16 (opt 4), 8]" in model.explain()
        for batch in (16, 4, 1, 16):
            x = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
            expected = reference(dynamic_batch, {"x": x})["y"]
            np.testing.assert_allclose(model.run(x)["y"], expected, rtol=1e-3, atol=1e-3)
        grown = allocations(model)
        model.run(np.zeros((2, 8), np.float32))
        assert allocations(model) == grown  # smaller batches reuse the buffers
        with pytest.raises(InvalidInput, match="optimization profile"):
            model.run(np.zeros((17, 8), np.float32))


@pytest.mark.hardware
def test_real_threads_share_one_engine(gpu_cache: Path, one_op: Path) -> None:
    with edgeinfer.load(one_op, device="gpu", backend="tensorrt") as model:
        failures: list[int] = []

        def worker(seed: int) -> None:
            x = np.random.default_rng(seed).standard_normal((1, 16)).astype(np.float32)
            for _ in range(20):
                if not np.array_equal(model.run(x)["y"], np.maximum(x, 0)):
                    failures.append(seed)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
