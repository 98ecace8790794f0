"""A bare install (no extras): import works and every load says which extra to install.

Runs for real in the nox session ``bare``; elsewhere it skips because a runtime is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import edgeinfer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is not None,
    reason="onnxruntime is installed: this is not a bare install (see the nox session 'bare')",
)


def test_every_backend_reports_why_and_how_to_fix() -> None:
    rows = {info.name: info for info in edgeinfer.backends()}
    for info in rows.values():
        assert not info.available, info
        assert info.reason
        assert info.hint  # how to fix it: a pip command, or what the platform needs
    for name in ("onnxruntime", "litert", "openvino"):  # fixed by pip alone
        hint = rows[name].hint
        assert hint is not None
        assert hint.startswith("pip install")


def test_load_raises_backend_unavailable_with_the_pip_hint(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x08\x3a\x00")
    with pytest.raises(edgeinfer.BackendUnavailable) as info:
        edgeinfer.load(model)
    assert info.value.hint == "pip install onnxruntime (what edgeinfer's 'onnx' extra installs)"
    assert "onnxruntime is not installed" in str(info.value)
