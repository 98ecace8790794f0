"""Check an ONNX file before any runtime reads it: is it protobuf, and is its external data safe?

ONNX tensors may live in side files named by a relative ``location``. A hostile model can point
that at ``../../etc/shadow`` or at ONNX Runtime's in-memory marker ``*/_ORT_MEM_ADDR_/*`` (which
makes the runtime read raw process memory). This module walks the protobuf wire format itself, with
no ``onnx`` package and without loading tensor bytes (``raw_data`` is skipped by its length), and
refuses any location that leaves the model's folder.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from edgeinfer._errors import ModelError

__all__ = ["ProtobufError", "check_onnx_file", "external_data_locations"]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MAX_DEPTH = 64
_READ_WHOLE = 1 << 20  # files up to this size are read; larger ones are memory-mapped

# Message layouts: field number -> the message type that field holds. Only the fields that can
# (transitively) contain a TensorProto are listed; everything else is skipped by its length.
_MODEL = {7: "graph", 20: "training", 25: "function"}
_LAYOUTS: dict[str, dict[int, str]] = {
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "training": {1: "graph", 2: "graph"},
    "function": {7: "node"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
}
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _TENSOR_NAME = 13, 14, 8

# Indexing an mmap gives ints and slicing gives bytes, like bytes: no buffer is exported, so the
# map can always be closed.
Buffer = bytes | mmap.mmap


class ProtobufError(ValueError):
    """The bytes are not well-formed protobuf."""


def _varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise ProtobufError(f"truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError(f"varint too long at byte {pos}")


def _fields(buf: Buffer, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field, wire_type, value_start, value_end)``; varints yield their value as start."""
    pos = start
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte keys and lengths are the norm: decode them inline
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ProtobufError(f"field number 0 at byte {pos}")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield field, wire, value, pos
            continue
        if wire == _LEN:
            if pos < end and buf[pos] < 0x80:
                value_end = pos + 1 + buf[pos]
                pos += 1
            else:
                length, pos = _varint(buf, pos, end)
                value_end = pos + length
        elif wire == _I64:
            value_end = pos + 8
        elif wire == _I32:
            value_end = pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire} at byte {pos}")
        if value_end > end:
            raise ProtobufError(f"field {field} runs past the end of its message (byte {pos})")
        yield field, wire, pos, value_end
        pos = value_end


def _tensor_location(buf: Buffer, start: int, end: int) -> tuple[str, str | None, bool]:
    """Return ``(tensor name, external location or None, marked external)``."""
    name, location, external = "", None, False
    for field, wire, a, b in _fields(buf, start, end):
        if field == _TENSOR_NAME and wire == _LEN:
            name = buf[a:b].decode("utf-8", "replace")
        elif field == _TENSOR_DATA_LOCATION and wire == _VARINT:
            external = a == 1
        elif field == _TENSOR_EXTERNAL_DATA and wire == _LEN:
            key = value = None
            for entry_field, entry_wire, c, d in _fields(buf, a, b):
                if entry_wire == _LEN and entry_field in (1, 2):
                    text = buf[c:d].decode("utf-8", "replace")
                    key, value = (text, value) if entry_field == 1 else (key, text)
            if key == "location":
                location = value
    return name, location, external


def _walk(
    buf: Buffer, start: int, end: int, layout: dict[int, str], depth: int
) -> Iterator[tuple[str, str | None, bool]]:
    if depth > _MAX_DEPTH:
        raise ProtobufError(f"messages nested deeper than {_MAX_DEPTH} levels")
    for field, wire, a, b in _fields(buf, start, end):
        kind = layout.get(field)
        if kind is None or wire != _LEN:
            continue
        if kind == "tensor":
            yield _tensor_location(buf, a, b)
        else:
            yield from _walk(buf, a, b, _LAYOUTS[kind], depth + 1)


def external_data_locations(buf: Buffer) -> list[tuple[str, str | None]]:
    """Every tensor marked as external data, as ``(tensor name, location)``.

    Raises ``ProtobufError`` when the bytes are not an ONNX ModelProto.
    """
    saw_graph = False
    for field, wire, _a, _b in _fields(buf, 0, len(buf)):
        saw_graph = saw_graph or (field == 7 and wire == _LEN)
    if not saw_graph:
        raise ProtobufError("no graph field: this is not an ONNX ModelProto")
    return [
        (name, location)
        for name, location, external in _walk(buf, 0, len(buf), _MODEL, 0)
        if external or location is not None
    ]


_RULE = " External data must be a relative path inside the model's folder."


def _refusal(location: str | None, model_dir: Path) -> str | None:
    """Why ``location`` is unsafe or unusable, or ``None`` when it is fine."""
    if not location:
        return "it is marked as external data but names no location." + _RULE
    if "_ORT_MEM_ADDR_" in location:
        return "it uses ONNX Runtime's in-memory address marker, which reads raw process memory."
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute():
        return "the location is an absolute path." + _RULE
    if PureWindowsPath(location).drive or "\x00" in location:
        return "the location names a drive or holds a NUL byte." + _RULE
    root = model_dir.resolve()
    target = (root / location).resolve()
    if target != root and root not in target.parents:
        return f"the location resolves to {target}, outside the model's folder {root}." + _RULE
    if not target.is_file():
        return f"the external data file {target} does not exist."
    return None


def check_onnx_file(path: Path) -> None:
    """Raise ``ModelError`` unless ``path`` is well-formed ONNX protobuf with safe external data."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise ModelError(f"{path} is empty (0 bytes): not an ONNX model")
        try:
            if size <= _READ_WHOLE:
                handle.seek(0)
                tensors = external_data_locations(handle.read())
            else:  # large models: map, and skip tensor bytes without reading them
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    tensors = external_data_locations(mapped)
        except ProtobufError as error:
            raise ModelError(
                f"{path} is not a valid ONNX model ({error}); is the file truncated or of "
                "another format?"
            ) from error
    for name, location in tensors:
        reason = _refusal(location, path.parent)
        if reason is not None:
            raise ModelError(
                f"refusing {path}: tensor {name!r} has external data {location!r}, and {reason}"
            )
