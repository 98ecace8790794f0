"""``import edgeinfer``: no runtime imported, no I/O but Python's own, one public surface."""

from __future__ import annotations

import subprocess
import sys

import edgeinfer

RUNTIMES = [
    "onnxruntime",
    "ai_edge_litert",
    "tflite_runtime",
    "tensorflow",
    "tensorrt",
    "coremltools",
    "openvino",
    "tvm",
    "onnx",
    "psutil",
    "torch",
]


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_loads_no_runtime() -> None:
    out = run_python(
        f"import sys, edgeinfer\nprint(sorted(m for m in {RUNTIMES!r} if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_listing_backends_and_devices_loads_no_runtime() -> None:
    out = run_python(
        "import sys, edgeinfer\n"
        "edgeinfer.backends(); edgeinfer.devices()\n"
        f"print(sorted(m for m in {RUNTIMES!r} if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_import_opens_only_python_files() -> None:
    """An audit hook sees every open() during import: only Python's own files and metadata."""
    out = run_python(
        "import sys\n"
        "opened = []\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], str):\n"
        "        opened.append(args[0])\n"
        "sys.addaudithook(hook)\n"
        "import edgeinfer\n"
        "bad = [p for p in opened if not p.endswith(('.py', '.pyc', '.so', '.pth', '.typed'))\n"
        "       and '__pycache__' not in p and 'site-packages' not in p]\n"
        "print(bad)\n"
    )
    assert out.strip() == "[]"


def test_public_surface() -> None:
    for name in edgeinfer.__all__:
        assert hasattr(edgeinfer, name), name
    for name in (
        "load",
        "backends",
        "devices",
        "register_backend",
        "Backend",
        "Model",
        "TensorSpec",
        "NoBackendAvailable",
        "InvalidInput",
        "ModelIncompatible",
    ):
        assert name in edgeinfer.__all__
    assert edgeinfer.Model.__module__ == "edgeinfer"
    assert edgeinfer.ModelError.__module__ == "edgeinfer"


def test_backends_stays_a_function_after_a_backend_module_is_imported() -> None:
    import edgeinfer.backends.onnxruntime.backend

    assert callable(edgeinfer.backends)
    assert isinstance(edgeinfer.backends(), tuple)


def test_error_tree_keeps_builtins() -> None:
    assert issubclass(edgeinfer.ConfigurationError, ValueError)
    assert issubclass(edgeinfer.UnknownBackend, LookupError)
    assert issubclass(edgeinfer.BackendUnavailable, ImportError)
    assert issubclass(edgeinfer.ModelError, ValueError)
    assert issubclass(edgeinfer.ModelIncompatible, edgeinfer.ModelError)
    assert issubclass(edgeinfer.InvalidInput, ValueError)
    assert issubclass(edgeinfer.DeviceError, RuntimeError)
    assert issubclass(edgeinfer.InferenceError, RuntimeError)
    for name in (
        "ConfigurationError",
        "BackendUnavailable",
        "NoBackendAvailable",
        "ModelError",
        "InvalidInput",
        "DeviceError",
        "InferenceError",
    ):
        assert issubclass(getattr(edgeinfer, name), edgeinfer.EdgeInferError)


def test_errors_pickle() -> None:
    import pickle

    error = edgeinfer.BackendUnavailable("litert", "not installed", "pip install x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.backend, copy.reason, copy.hint) == ("litert", "not installed", "pip install x")
    attempt = edgeinfer.Attempt("a", "cpu", "m.onnx", False, "broke", "DeviceError")
    none = pickle.loads(pickle.dumps(edgeinfer.NoBackendAvailable("nothing opened", [attempt])))
    assert none.attempts == (attempt,)
    assert "broke" in str(none)


def test_installed_versions_agree_with_importlib_metadata() -> None:
    from importlib import metadata

    from edgeinfer._kit.versions import installed_version

    for distribution in ("numpy", "psutil", "edgeinfer", "onnxruntime", "ai-edge-litert"):
        try:
            expected: str | None = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            expected = None
        assert installed_version(distribution) == expected, distribution
    assert installed_version("no-such-distribution-edgeinfer") is None
