"""Recognise a model's format from its bytes and its name, and list the variants in a folder.

Formats: ``onnx``, ``tflite``, ``tflite-edgetpu`` (compiled for the Edge TPU), ``tensorrt``
(serialised engine), ``coreml`` (``.mlpackage`` folder or ``.mlmodel``), ``openvino`` (IR ``.xml``
with its ``.bin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgeinfer._errors import ConfigurationError, ModelError

__all__ = ["FORMATS", "detect_format", "resolve_model_files"]

FORMATS: tuple[str, ...] = ("onnx", "tflite", "tflite-edgetpu", "tensorrt", "coreml", "openvino")

_BY_SUFFIX = {
    ".onnx": "onnx",
    ".tflite": "tflite",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
    ".trt": "tensorrt",
    ".mlpackage": "coreml",
    ".mlmodel": "coreml",
    ".mlmodelc": "coreml",
    ".xml": "openvino",
}

# Order in which the variants of one model in a folder are offered: the most specialised first,
# since a variant compiled for one accelerator is only ever useful on it.
_VARIANT_ORDER = ("tflite-edgetpu", "tensorrt", "coreml", "openvino", "onnx", "tflite")

_HEAD_BYTES = 4096
_TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8
_TENSORRT_MAGIC = b"ftrt"  # serialised engines carry it at bytes 12..16 (TensorRT 8 and later)
_EDGETPU_MARKER = b"edgetpu-custom-op"


def _sniff(head: bytes, path: Path) -> str | None:
    """A format from the first bytes alone, or ``None`` when they say nothing certain."""
    if head[4:8] == _TFLITE_IDENTIFIER:
        return "tflite"
    if head[12:16] == _TENSORRT_MAGIC:
        return "tensorrt"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"<?xml", b"<net")):
        return "openvino" if b"<net" in head else None
    # ONNX ModelProto as written by protobuf serialisers: field 1 (ir_version, varint) first.
    if len(head) >= 2 and head[0] == 0x08 and 1 <= head[1] <= 20:
        return "onnx" if path.suffix.lower() != ".mlmodel" else "coreml"
    return None


def _is_edgetpu(path: Path) -> bool:
    if path.stem.endswith("_edgetpu"):
        return True
    with path.open("rb") as handle:
        return _EDGETPU_MARKER in handle.read(1 << 20)


def detect_format(path: Path) -> str:
    """The format of one model file or package. Raises ``FileNotFoundError`` or ``ModelError``."""
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    by_name = _BY_SUFFIX.get(path.suffix.lower())
    if path.is_dir():
        if by_name == "coreml" or (path / "Manifest.json").is_file():
            return "coreml"
        raise ModelError(
            f"{path} is a folder but not a Core ML package and holds no model variants"
        )
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise ModelError(f"{path} is empty (0 bytes): not a model file")
    by_bytes = _sniff(head, path)
    found = by_bytes or by_name
    if found is None:
        raise ModelError(
            f"cannot tell the format of {path}: its name ends in {path.suffix or '(nothing)'} and "
            f"its first bytes match no known format; expected one of {', '.join(FORMATS)}"
        )
    if found == "tflite" and _is_edgetpu(path):
        return "tflite-edgetpu"
    if found == "openvino" and not path.with_suffix(".bin").is_file():
        raise ModelError(f"OpenVINO IR {path} has no weights file {path.with_suffix('.bin').name}")
    return found


def _folder_variants(folder: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.suffix.lower() not in _BY_SUFFIX:
            continue
        try:
            found.append((child, detect_format(child)))
        except ModelError:
            continue  # e.g. an unrelated .xml; a variant that is wanted fails loudly when opened
    if not found:
        raise ModelError(
            f"folder {folder} holds no model file (looked for {', '.join(sorted(_BY_SUFFIX))})"
        )
    return sorted(found, key=lambda item: _VARIANT_ORDER.index(item[1]))


def resolve_model_files(path: str | Path | Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Turn ``load()``'s ``path`` into ``(file, format)`` pairs in preference order."""
    given: object = path
    if isinstance(given, (str, Path)):
        items: Sequence[str | Path] = [given]
    elif isinstance(given, (list, tuple)):
        items = given
    else:
        raise ConfigurationError(
            f"path must be a file, a folder or a list of files, got {type(path).__name__}"
        )
    if not items:
        raise ConfigurationError("path is an empty list: give at least one model file")
    files: list[tuple[Path, str]] = []
    for item in items:
        if not isinstance(item, (str, Path)):
            raise ConfigurationError(f"model paths must be str or Path, got {type(item).__name__}")
        candidate = Path(item).expanduser()
        if candidate.is_dir() and not _is_package(candidate):
            files.extend(_folder_variants(candidate))
        else:
            files.append((candidate, detect_format(candidate)))
    return files


def _is_package(path: Path) -> bool:
    """True when a folder is itself one model (a Core ML package), not a folder of variants."""
    return path.suffix.lower() in (".mlpackage", ".mlmodelc") or (path / "Manifest.json").is_file()
