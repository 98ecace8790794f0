"""ONNX -> ``.mnn`` with the converter the ``mnn`` package ships (``MNNConvert``, the C++ tool
behind its ``mnnconvert`` command), for the reference workloads and the tests.

It is called through its extension module ``_tools.mnnconvert(argv)``, not through the
``mnnconvert`` console script: that wrapper (``MNN/tools/mnnconvert.py``) imports a usage
logger that tries to ``pip install`` a logging SDK and sends the conversion's details to
Alibaba's servers. The converter prints its progress from C; it is captured and logged at DEBUG.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from edgeinfer._errors import BackendUnavailable, ModelError
from edgeinfer._kit.native_stderr import captured_native_stderr, captured_native_stdout

__all__ = ["mnn_from_onnx"]

_log = logging.getLogger("edgeinfer")


def mnn_from_onnx(onnx_file: Path | bytes, out: Path | None = None) -> bytes:
    """The ``.mnn`` bytes of an ONNX model (a file or its bytes); also written to ``out``."""
    try:
        with captured_native_stdout(), captured_native_stderr():
            import _tools
    except ImportError as error:
        raise BackendUnavailable(
            "mnn", f"the MNN converter is not importable: {error}", "pip install mnn"
        ) from error
    with tempfile.TemporaryDirectory(prefix="edgeinfer-mnn-") as folder:
        source = Path(folder) / "model.onnx"
        if isinstance(onnx_file, bytes):
            source.write_bytes(onnx_file)
        else:
            source = Path(onnx_file)
        target = Path(folder) / "model.mnn"
        argv = ["mnnconvert", "-f", "ONNX", "--modelFile", str(source), "--MNNModel", str(target),
                "--bizCode", "edgeinfer"]  # fmt: skip
        with captured_native_stdout() as said, captured_native_stderr() as errors:
            ok = _tools.mnnconvert(argv)
        for line in said.lines() + errors.lines():
            _log.debug("mnnconvert: %s", line)
        if not ok or not target.is_file():
            lines = "; ".join(said.lines() + errors.lines())
            raise ModelError(f"mnnconvert could not convert {source.name}: {lines}")
        data = target.read_bytes()
    if out is not None:
        out.write_bytes(data)
    return data
