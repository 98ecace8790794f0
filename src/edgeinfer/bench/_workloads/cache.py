"""Where built workloads live, and building each file once.

``<cache>/workloads/<name>-<precision>-v<BUILDER_VERSION>.<onnx|tflite|param|mnn>`` (an NCNN
``.param`` with its ``.bin`` beside it) under edgeinfer's cache
folder (``$EDGEINFER_CACHE`` or the user's cache folder, see :mod:`edgeinfer._kit.cache`). Files are
written atomically (a temporary file in the same folder, then ``os.replace``), so a reader never
sees half a model and two processes building the same one both leave a whole file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from edgeinfer._kit.cache import cache_dir, write_cached

__all__ = ["BUILDER_VERSION", "build_once", "workload_path"]

# Raise when a builder changes what it writes (weights, graph, quantisation): old files then
# stay where they are and new ones are built next to them.
BUILDER_VERSION = 1

_log = logging.getLogger("edgeinfer")


_SUFFIX = {"ncnn": "param", "executorch": "pte"}  # formats whose files are not named after them


def workload_path(name: str, fmt: str, precision: str, root: Path | None = None) -> Path:
    """The file for one variant of a workload under ``root`` (default: edgeinfer's cache)."""
    base = cache_dir() if root is None else Path(root)
    return base / "workloads" / f"{name}-{precision}-v{BUILDER_VERSION}.{_SUFFIX.get(fmt, fmt)}"


def build_once(path: Path, build: Callable[[], bytes | dict[str, bytes]]) -> Path:
    """Return ``path``, writing ``build()``'s bytes there first when it does not exist. A build
    that returns suffix -> bytes also writes the companions (NCNN's ``.bin``), before the main
    file, so a main file that exists always has them."""
    if path.is_file():
        return path
    start = time.perf_counter()
    built = build()
    files = built if isinstance(built, dict) else {path.suffix: built}
    for suffix, content in files.items():
        if suffix != path.suffix:
            write_cached(path.with_suffix(suffix), content)
    data = files[path.suffix]
    write_cached(path, data)
    _log.info("built %s (%.0f KiB) in %.1f s", path, len(data) / 1024, time.perf_counter() - start)
    return path
