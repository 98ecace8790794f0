"""The ONNX external-data safety scan: unsafe locations are refused before any runtime reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ModelError
from edgeinfer._kit.onnx_scan import ProtobufError, check_onnx_file, external_data_locations

onnx_models = pytest.importorskip("onnx_models")


def test_external_data_inside_the_folder_runs(tmp_path: Path) -> None:
    path = onnx_models.build_external_data(tmp_path / "ext.onnx", location="weights.bin")
    assert external_data_locations(path.read_bytes()) == [("w", "weights.bin")]
    check_onnx_file(path)
    if edgeinfer.backends()[0].available:
        with edgeinfer.load(path, backend="onnxruntime") as model:
            out = model.run(np.zeros((1, 4), np.float32))["y"]
        np.testing.assert_array_equal(out, [[1, 2, 3, 4]])


def test_external_data_in_a_subfolder_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    path = onnx_models.build_external_data(tmp_path / "ext.onnx", location="data/w.bin")
    check_onnx_file(path)


@pytest.mark.parametrize(
    ("location", "match"),
    [
        ("../outside.bin", "outside the model's folder"),
        ("../../../../../../etc/passwd", "outside the model's folder"),
        ("sub/../../outside.bin", "outside the model's folder"),
        ("/etc/passwd", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path|drive"),
        ("*/_ORT_MEM_ADDR_/*", "raw process memory"),
        ("", "names no location"),
        ("missing.bin", "does not exist"),
    ],
)
def test_unsafe_or_broken_locations_are_refused(location: str, match: str, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(bytes(16))
    path = onnx_models.build_external_data(folder / "ext.onnx", location=location)
    (folder / "missing.bin").unlink(missing_ok=True)  # the builder writes bare file names
    with pytest.raises(ModelError, match=match):
        check_onnx_file(path)
    with pytest.raises(ModelError, match=match):  # load() refuses it before any runtime
        edgeinfer.load(path)


def test_refused_inside_a_subgraph_too(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(bytes(16))
    path = onnx_models.build_external_data_in_subgraph(
        folder / "if.onnx", location="../outside.bin"
    )
    assert external_data_locations(path.read_bytes()) == [("w", "../outside.bin")]
    with pytest.raises(ModelError, match="outside the model's folder"):
        edgeinfer.load(path)


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_symlink_that_escapes_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(16))
    (folder / "weights.bin").symlink_to(secret)
    path = onnx_models.build_external_data(folder / "ext.onnx", location="weights.bin")
    with pytest.raises(ModelError, match="outside the model's folder"):
        check_onnx_file(path)


@pytest.mark.parametrize(
    "data",
    [b"\x08", b"\x08\x08\x3a\x05\x00", b"\x0f\x00", b"\x00\x00", b"\x08\x08", b"\xff" * 12],
)
def test_malformed_protobuf_is_reported(data: bytes) -> None:
    with pytest.raises(ProtobufError):
        external_data_locations(data)


def test_models_without_external_data_pass(mobilenet: Path) -> None:
    assert external_data_locations(mobilenet.read_bytes()) == []
    check_onnx_file(mobilenet)
