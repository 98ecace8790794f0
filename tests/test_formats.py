"""Format detection from bytes and names; folders of variants; lists of files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinfer import ConfigurationError, ModelError
from edgeinfer._planning.formats import detect_format
from edgeinfer._planning.sources import resolve_model_files

ONNX_BYTES = b"\x08\x08\x3a\x00"
TFLITE_BYTES = b"\x1c\x00\x00\x00TFL3" + bytes(32)
ENGINE_BYTES = bytes(12) + b"ftrt" + bytes(32)
IR_BYTES = b'<?xml version="1.0"?>\n<net name="m" version="11">\n</net>\n'


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("m.onnx", ONNX_BYTES, "onnx"),
        ("m.bin", ONNX_BYTES, "onnx"),  # bytes decide when the name says nothing
        ("m.tflite", TFLITE_BYTES, "tflite"),
        ("weights", TFLITE_BYTES, "tflite"),
        ("m.onnx", TFLITE_BYTES, "tflite"),  # bytes beat a misleading name
        ("m_edgetpu.tflite", TFLITE_BYTES, "tflite-edgetpu"),
        ("m.tflite", TFLITE_BYTES + b"edgetpu-custom-op", "tflite-edgetpu"),
        ("m.engine", b"\x00" * 40, "tensorrt"),
        ("m.blob", ENGINE_BYTES, "tensorrt"),
        ("m.plan", ENGINE_BYTES, "tensorrt"),
        ("m.onnx", b"garbage that is no known format", "onnx"),  # runtime will say why
    ],
)
def test_detect_format(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    assert detect_format(write(tmp_path / name, data)) == expected


def test_openvino_ir_needs_its_bin(tmp_path: Path) -> None:
    xml = write(tmp_path / "m.xml", IR_BYTES)
    with pytest.raises(ModelError, match=r"needs m\.bin beside it"):
        detect_format(xml)
    write(tmp_path / "m.bin", b"\x00" * 8)
    assert detect_format(xml) == "openvino"


def test_coreml_package_is_a_folder(tmp_path: Path) -> None:
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    assert detect_format(package) == "coreml"
    assert resolve_model_files(package) == [(package, "coreml")]


def test_unknown_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot tell the format"):
        detect_format(write(tmp_path / "m.dat", b"hello world, no model here"))
    with pytest.raises(ModelError, match="empty"):
        detect_format(write(tmp_path / "m.onnx", b""))
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "absent.onnx")


def test_folder_variants_come_most_specialised_first(tmp_path: Path) -> None:
    write(tmp_path / "model.tflite", TFLITE_BYTES)
    write(tmp_path / "model.onnx", ONNX_BYTES)
    write(tmp_path / "model_edgetpu.tflite", TFLITE_BYTES)
    write(tmp_path / "model.engine", ENGINE_BYTES)
    write(tmp_path / "notes.txt", b"ignored")
    formats = [fmt for _, fmt in resolve_model_files(tmp_path)]
    assert formats == ["tflite-edgetpu", "tensorrt", "onnx", "tflite"]


def test_empty_folder_and_bad_path_types(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="holds no model file"):
        resolve_model_files(tmp_path)
    with pytest.raises(ConfigurationError, match="empty list"):
        resolve_model_files([])
    with pytest.raises(ConfigurationError, match="got int"):
        resolve_model_files(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="str or Path"):
        resolve_model_files([b"model.onnx"])  # type: ignore[list-item]


def test_list_keeps_the_callers_order(tmp_path: Path) -> None:
    tflite = write(tmp_path / "a.tflite", TFLITE_BYTES)
    onnx = write(tmp_path / "b.onnx", ONNX_BYTES)
    assert resolve_model_files([str(tflite), onnx]) == [(tflite, "tflite"), (onnx, "onnx")]


def test_a_folder_may_state_its_order(tmp_path: Path) -> None:
    write(tmp_path / "model.onnx", ONNX_BYTES)
    write(tmp_path / "model.int8.onnx", ONNX_BYTES)
    write(tmp_path / "model.tflite", TFLITE_BYTES)
    default = [path.name for path, _ in resolve_model_files(tmp_path)]
    assert default == ["model.int8.onnx", "model.onnx", "model.tflite"]
    (tmp_path / "variants.json").write_text('{"order": ["model.tflite", "model.onnx"]}')
    stated = [path.name for path, _ in resolve_model_files(tmp_path)]
    assert stated == ["model.tflite", "model.onnx"]
    (tmp_path / "variants.json").write_text('{"order": ["gone.onnx"]}')
    with pytest.raises(ModelError, match="missing files"):
        resolve_model_files(tmp_path)
    (tmp_path / "variants.json").write_text("not json")
    with pytest.raises(ModelError, match="not valid"):
        resolve_model_files(tmp_path)
