"""edgeinfer's cache folder: the one place edgeinfer writes to (TensorRT engines, timing caches).

Where: ``$EDGEINFER_CACHE`` when set, else the user's cache folder: ``$XDG_CACHE_HOME/edgeinfer`` or
``~/.cache/edgeinfer`` on Linux, ``~/Library/Caches/edgeinfer`` on macOS,
``%LOCALAPPDATA%\\edgeinfer\\Cache`` on Windows. Nothing here touches the disk at import, and a
lookup that finds nothing creates nothing: folders are made only when a file is written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "atomic_file", "cache_dir", "read_cached", "write_cached"]

ENV_VAR = "EDGEINFER_CACHE"
_APP = "edgeinfer"


def cache_dir(
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path:
    """The cache folder (which may not exist yet). The arguments exist for tests."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    home = Path.home() if home is None else home
    if platform == "win32":
        local = env.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else home / "AppData" / "Local"
        return base / _APP / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / _APP
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".cache"
    return base / _APP


def read_cached(path: Path) -> bytes | None:
    """The file's bytes, or ``None`` when it is missing or unreadable. Creates nothing."""
    try:
        return path.read_bytes()
    except OSError:
        return None


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (its folders created) for a writer that wants a file
    name (a compiler's ``export_library``); renamed over ``path`` when the block ends, removed if
    it raises. A reader never sees half a file, and two processes writing the same one at once
    both leave a whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_cached(path: Path, data: Any) -> None:
    """Write ``data`` (bytes or any buffer) to ``path`` atomically (``atomic_file``), creating
    its folders."""
    with atomic_file(path) as temporary, temporary.open("wb") as out:
        out.write(data)
