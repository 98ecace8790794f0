"""A model's identity for caches: the sha256 of every byte that makes the model.

An ONNX model's external data files are part of it (new weights in ``weights.bin`` must give a
new engine or a new selection); a folder model (a Core ML package) is every file in it, by
relative path. Used by the TensorRT engine cache, the TVM module cache and the cache of
measured selections. ``key_digest`` names a cache entry from what made it (a JSON document).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["key_digest", "model_digest"]

_BLOCK = 1 << 20


def _update(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)


def model_digest(path: Path) -> str:
    """The hex sha256 of the model at ``path`` with everything it reads."""
    import hashlib  # here, not at import: it loads OpenSSL, ~3.5 MB a process may never need

    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(b"\0" + str(child.relative_to(path)).encode("utf-8") + b"\0")
            _update(digest, child)
        return digest.hexdigest()
    _update(digest, path)
    if path.suffix.lower() == ".onnx":
        from edgeinfer._kit.onnx_scan import check_onnx_file

        for location in check_onnx_file(path).external_data:
            digest.update(b"\0" + location.encode("utf-8") + b"\0")
            _update(digest, path.parent / location)
    return digest.hexdigest()


def key_digest(document: Any) -> str:
    """The hex sha256 of ``document`` (JSON data) in canonical form (sorted keys, no spaces):
    stable across runs and processes; any change in any value gives another digest."""
    import hashlib
    import json

    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
