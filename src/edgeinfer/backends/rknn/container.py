"""How many inputs and outputs a ``.rknn`` model has, read from the file.

``RKNNLite`` (rknn-toolkit-lite2's public API: ``load_rknn``, ``init_runtime``, ``inference``,
``release``) does not expose its model's tensors. The file does: a container that starts with
``RKNN``, then (little-endian) 8 more header bytes, a ``uint64`` version, a ``uint64`` data size,
for versions 2 to 6 with data a further 40 bytes, the data (the compiled graph), a ``uint64`` JSON
size and the JSON model, whose ``graph`` entries with ``left`` equal to ``"input"`` or
``"output"`` are the model's inputs and outputs, in order. This is the layout Netron reads
(``source/rknn.js``); it has not been checked here against a real file (no board, no converter).
Shapes are not taken from it: RKNN's JSON sizes follow the converter's own dimension order.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from edgeinfer.backend import ModelError

__all__ = ["rknn_io_counts"]

_WITH_PADDING = {0x0002, 0x1002, 0x0003, 0x1003, 0x0004, 0x1004, 0x0005, 0x0006}
_KNOWN = _WITH_PADDING | {0x0001, 0x1001}


def rknn_io_counts(path: Path) -> tuple[int, int]:
    """``(inputs, outputs)`` of an RKNN container; ``ModelError`` for what it cannot read."""
    data = path.read_bytes()
    if data[:4] != b"RKNN" or len(data) < 32:
        raise ModelError(f"{path.name} is not an RKNN container (no RKNN header)")
    version, size = struct.unpack_from("<QQ", data, 8)
    if version not in _KNOWN:
        raise ModelError(f"{path.name}: unknown RKNN container version {version:#x}")
    offset = 24 + (40 if version in _WITH_PADDING and size > 0 else 0) + size
    if offset + 8 > len(data):
        raise ModelError(f"{path.name} is truncated (its graph data runs past the end)")
    (json_size,) = struct.unpack_from("<Q", data, offset)
    text = data[offset + 8 : offset + 8 + json_size]
    try:
        model = json.loads(text.decode("utf-8"))
        entries = model["graph"]
        inputs = sum(1 for entry in entries if entry.get("left") == "input")
        outputs = sum(1 for entry in entries if entry.get("left") == "output")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelError(f"{path.name}: unreadable RKNN model description ({error})") from error
    if not inputs or not outputs:
        raise ModelError(f"{path.name}: the RKNN model description lists no inputs or outputs")
    return inputs, outputs
