"""The syntax of ``--shape NAME:DIMS`` and ``--option BACKEND.KEY=VALUE`` (argparse types: a
malformed value is refused before anything runs)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

__all__ = ["options_of", "parse_option", "parse_shape"]

_DIMS = re.compile(r"^\[?\s*(\d+(?:\s*[x,]\s*\d+)*)\s*\]?$")


def parse_shape(text: str) -> tuple[str | None, tuple[int, ...]]:
    """``NAME:1x3x640x640`` (or ``NAME[1,3,640,640]``; no name: the model's only input) ->
    ``(name, dims)``. The name is what comes before the last ``:`` (names such as ``x:0``)."""
    name: str | None = None
    dims = text.strip()
    bracket = dims.find("[")
    if bracket > 0:
        name, dims = dims[:bracket], dims[bracket:]
    elif ":" in dims:
        name, dims = dims.rsplit(":", 1)
    found = _DIMS.match(dims.strip())
    if found is None or (name is not None and not name.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME:DIMS, e.g. images:1x3x640x640 (or 1x3x640x640 for a model "
            "with one input)"
        )
    sizes = tuple(int(part) for part in re.split(r"\s*[x,]\s*", found.group(1)))
    if 0 in sizes:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be >= 1")
    return (None if name is None else name.strip()), sizes


def parse_option(text: str) -> tuple[str, tuple[str, ...], Any]:
    """``openvino.performance_hint=THROUGHPUT`` -> ``("openvino", ("performance_hint",),
    "THROUGHPUT")``. The value is read as JSON when it is JSON (``4``, ``true``, ``["A"]``),
    else kept as text; dots below the backend name nest (``onnxruntime.session_options.
    graph_optimization_level=ORT_ENABLE_BASIC``)."""
    key, equals, raw = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not equals or len(parts) < 2 or not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not BACKEND.KEY=VALUE, e.g. openvino.performance_hint=THROUGHPUT"
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return parts[0], parts[1:], value


def options_of(items: list[tuple[str, tuple[str, ...], Any]] | None) -> dict[str, Any]:
    """The ``--option`` items as ``load(options=...)``: ``{backend: {key: value}}``."""
    found: dict[str, Any] = {}
    for backend, path, value in items or ():
        node = found.setdefault(backend, {})
        for depth, key in enumerate(path[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                shown = ".".join((backend, *path[: depth + 1]))
                raise argparse.ArgumentTypeError(f"--option {shown} is set to a value and a key")
            node = child
        if isinstance(node.get(path[-1]), dict):
            shown = ".".join((backend, *path))
            raise argparse.ArgumentTypeError(f"--option {shown} is set to a value and a key")
        node[path[-1]] = value
    return found
