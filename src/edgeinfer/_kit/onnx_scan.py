"""Check an ONNX file before any runtime reads it, and read what edgeinfer needs from it.

ONNX tensors may live in side files named by a relative ``location``. A hostile model can point
that at ``../../etc/shadow`` or at ONNX Runtime's in-memory marker ``*/_ORT_MEM_ADDR_/*`` (which
makes the runtime read raw process memory). This module walks the protobuf wire format itself, with
no ``onnx`` package and without loading tensor bytes (``raw_data`` is skipped by its length), and
refuses any location that leaves the model's folder, and opset versions no ONNX release has (a
version of 2**40 makes OpenVINO's reader loop for an hour).

On the way it reads the file's own facts (``OnnxFacts``): the graph's input and output names in
order, whether each input declares a shape (unknown rank is not rank 0), its declared dimensions,
the opsets and the metadata (``imgsz`` from Ultralytics exports, for instance). Backends use them
to report the file's names whatever their runtime calls the tensors.
"""

from __future__ import annotations

import dataclasses
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from edgeinfer._errors import ModelError

__all__ = [
    "MAX_OPSET_VERSION",
    "OnnxFacts",
    "OnnxValue",
    "ProtobufError",
    "check_onnx_file",
    "external_data_locations",
    "read_facts",
    "scan",
]

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
# Opset versions: ai.onnx is in the twenties in 2026; custom domains count from 1. Anything above
# this is not a real opset and is refused before a runtime sees it.
MAX_OPSET_VERSION = 1000

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
    """Return ``(tensor name, external location or None, marked external)``.

    The hottest loop of the scan (a model holds hundreds of tensors), written out instead of
    going through ``_fields``: it skips every field but the name and the external-data ones.
    """
    name, location, external = "", None, False
    pos = start
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"field number 0 at byte {pos}")
        if wire == _VARINT:
            if pos < end and buf[pos] < 0x80:
                value, pos = buf[pos], pos + 1
            else:
                value, pos = _varint(buf, pos, end)
            if number == _TENSOR_DATA_LOCATION:
                external = value == 1
            continue
        if wire == _LEN:
            if pos < end and buf[pos] < 0x80:
                length, pos = buf[pos], pos + 1
            else:
                length, pos = _varint(buf, pos, end)
            stop = pos + length
        elif wire == _I64:
            stop = pos + 8
        elif wire == _I32:
            stop = pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire} at byte {pos}")
        if stop > end:
            raise ProtobufError(f"field {number} runs past the end of its message (byte {pos})")
        if number == _TENSOR_NAME and wire == _LEN:
            name = bytes(buf[pos:stop]).decode("utf-8", "replace")
        elif number == _TENSOR_EXTERNAL_DATA and wire == _LEN:
            key_text = value_text = None
            for entry_field, entry_wire, c, d in _fields(buf, pos, stop):
                if entry_wire == _LEN and entry_field in (1, 2):
                    text = bytes(buf[c:d]).decode("utf-8", "replace")
                    if entry_field == 1:
                        key_text = text
                    else:
                        value_text = text
            if key_text == "location":
                location = value_text
        pos = stop
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
        elif kind != "node" or _may_hold_external_data(buf, a, b):
            yield from _walk(buf, a, b, _LAYOUTS[kind], depth + 1)


# A tensor stored outside the file says so with an external_data entry whose key is "location",
# or with data_location = EXTERNAL (field 14, varint 1: bytes 0x70 0x01). A node whose bytes hold
# neither cannot hold such a tensor, at any depth: searching its bytes in C is much cheaper than
# walking its attributes in Python, and most nodes of a real model are skipped this way.
_EXTERNAL_MARKS = (b"location", b"\x70\x01")


def _may_hold_external_data(buf: Buffer, start: int, end: int) -> bool:
    return any(buf.find(mark, start, end) >= 0 for mark in _EXTERNAL_MARKS)


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


@dataclass(frozen=True, slots=True)
class OnnxValue:
    """A graph input or output as the file declares it. ``dims`` is ``None`` when the file
    declares no shape (unknown rank); each dim an int, a symbolic name, or ``None``. ``kind``:
    ``tensor``, ``sequence``, ``optional``, ``map`` or ``unknown``."""

    name: str
    dims: tuple[int | str | None, ...] | None
    kind: str = "tensor"


@dataclass(frozen=True, slots=True)
class OnnxFacts:
    """What edgeinfer reads of an ONNX file without the ``onnx`` package."""

    inputs: tuple[OnnxValue, ...] = ()
    outputs: tuple[OnnxValue, ...] = ()
    opsets: tuple[tuple[str, int], ...] = ()
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    #: the external data files the model names, relative to its folder, first mention first
    external_data: tuple[str, ...] = ()


def _text(buf: Buffer, a: int, b: int) -> str:
    return bytes(buf[a:b]).decode("utf-8", "replace")


def _pair(buf: Buffer, a: int, b: int) -> tuple[str, str | int]:
    """A (string, string) entry or an OperatorSetId (domain, version)."""
    key: str = ""
    value: str | int = ""
    for field_number, wire, c, d in _fields(buf, a, b):
        if field_number == 1 and wire == _LEN:
            key = _text(buf, c, d)
        elif field_number == 2:
            value = c if wire == _VARINT else _text(buf, c, d)
    return key, value


def _dims(buf: Buffer, a: int, b: int) -> tuple[int | str | None, ...]:
    dims: list[int | str | None] = []
    for field_number, wire, c, d in _fields(buf, a, b):
        if field_number != 1 or wire != _LEN:
            continue
        dim: int | str | None = None
        for dim_field, dim_wire, e, f in _fields(buf, c, d):
            if dim_field == 1 and dim_wire == _VARINT:
                dim = e - (1 << 64) if e >= 1 << 63 else e  # int64 on the wire
                dim = dim if dim >= 0 else None
            elif dim_field == 2 and dim_wire == _LEN:
                dim = _text(buf, e, f) or None
        dims.append(dim)
    return tuple(dims)


_TYPE_KINDS = {1: "tensor", 4: "sequence", 5: "map", 9: "optional", 8: "tensor"}


def _value(buf: Buffer, a: int, b: int) -> OnnxValue:
    name, dims, kind = "", None, "unknown"
    for field_number, wire, c, d in _fields(buf, a, b):
        if field_number == 1 and wire == _LEN:
            name = _text(buf, c, d)
        elif field_number == 2 and wire == _LEN:  # TypeProto
            for type_field, type_wire, e, f in _fields(buf, c, d):
                if type_wire != _LEN or type_field not in _TYPE_KINDS:
                    continue
                kind = _TYPE_KINDS[type_field]
                if kind == "tensor":
                    for tensor_field, tensor_wire, g, h in _fields(buf, e, f):
                        if tensor_field == 2 and tensor_wire == _LEN:
                            dims = _dims(buf, g, h)
    return OnnxValue(name, dims, kind)


def scan(buf: Buffer) -> tuple[list[tuple[str, str | None]], OnnxFacts]:
    """One pass over a ModelProto: every tensor marked as external data, as ``(tensor name,
    location)``, and the file's facts. Raises ``ProtobufError`` when it is not a ModelProto."""
    opsets: list[tuple[str, int]] = []
    metadata: dict[str, str] = {}
    inputs: list[OnnxValue] = []
    outputs: list[OnnxValue] = []
    initializers: set[str] = set()
    found: list[tuple[str, str | None, bool]] = []
    graph_layout = _LAYOUTS["graph"]
    saw_graph = False
    for number, wire, a, b in _fields(buf, 0, len(buf)):
        if wire != _LEN:
            continue
        if number == 7:  # the graph: its facts and its tensors in one pass
            saw_graph = True
            for graph_field, graph_wire, c, d in _fields(buf, a, b):
                if graph_wire != _LEN:
                    continue
                if graph_field == 5:  # initializer: a graph input with a default value
                    tensor = _tensor_location(buf, c, d)
                    initializers.add(tensor[0])
                    found.append(tensor)
                elif graph_field == 11:
                    inputs.append(_value(buf, c, d))
                elif graph_field == 12:
                    outputs.append(_value(buf, c, d))
                elif graph_field == 1:  # a node: walked only when it may hold external data
                    if _may_hold_external_data(buf, c, d):
                        found.extend(_walk(buf, c, d, _LAYOUTS["node"], 1))
                elif graph_field in graph_layout:
                    found.extend(_walk(buf, c, d, _LAYOUTS[graph_layout[graph_field]], 1))
        elif number == 8:  # opset_import
            domain, version = _pair(buf, a, b)
            opsets.append((domain, version if isinstance(version, int) else 0))
        elif number == 14:  # metadata_props
            key, value = _pair(buf, a, b)
            metadata[key] = str(value)
        elif number in _MODEL:  # training info, functions: tensors only
            found.extend(_walk(buf, a, b, _LAYOUTS[_MODEL[number]], 1))
    if not saw_graph:
        raise ProtobufError("no graph field: this is not an ONNX ModelProto")
    external = [(name, location) for name, location, marked in found if marked or location]
    files = tuple(dict.fromkeys(location for _, location in external if location))
    facts = OnnxFacts(
        tuple(value for value in inputs if value.name not in initializers),
        tuple(outputs),
        tuple(opsets),
        metadata,
        files,
    )
    return external, facts


def read_facts(buf: Buffer) -> OnnxFacts:
    """The facts of a ModelProto (``ProtobufError`` when it is not one)."""
    return scan(buf)[1]


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


def check_onnx_file(path: Path) -> OnnxFacts:
    """Raise ``ModelError`` unless ``path`` is well-formed ONNX protobuf with safe external data
    and real opset versions; return the file's facts."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            raise ModelError(f"{path} is empty (0 bytes): not an ONNX model")
        try:
            if size <= _READ_WHOLE:
                handle.seek(0)
                tensors, facts = scan(handle.read())
            else:  # large models: map, and skip tensor bytes without reading them
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    tensors, facts = scan(mapped)
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
    for domain, version in facts.opsets:
        if not 0 < version <= MAX_OPSET_VERSION:
            raise ModelError(
                f"refusing {path}: it imports opset version {version} of domain "
                f"{domain or 'ai.onnx'!r}, which no ONNX release has (versions run from 1 to "
                f"a few dozen); the file is corrupt or hostile"
            )
    return facts
