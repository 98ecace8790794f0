"""Small sysfs readers shared by the health modules: every failure becomes a reason, never 0.

``Notes`` collects ``(field, reason)`` pairs; ``HealthSnapshot.unavailable`` is built from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Notes", "numbered", "read_int", "read_text"]

Notes = list[tuple[str, str]]

_INT = re.compile(r"[+-]?[0-9]{1,19}")


def read_text(path: Path) -> tuple[str | None, str | None]:
    """``(text, None)`` or ``(None, reason)``; NULs (device-tree strings) become spaces."""
    try:
        return path.read_text(errors="replace").replace("\x00", " ").strip(), None
    except FileNotFoundError:
        return None, f"{path} does not exist"
    except OSError as e:
        return None, f"{path}: {e.strerror or type(e).__name__}"


def read_int(path: Path, notes: Notes, field: str) -> int | None:
    """The ASCII integer in ``path``, or ``None`` with a reason added to ``notes``."""
    text, reason = read_text(path)
    if text is not None:
        if _INT.fullmatch(text):
            return int(text)
        reason = f"{path}: not an integer: {text[:40]!r}"
    notes.append((field, reason or f"{path}: unreadable"))
    return None


def numbered(paths: Iterable[Path], prefix: str) -> list[tuple[int, Path]]:
    """``(N, path)`` for each ``<prefix>N`` name, sorted by N (cpu2 before cpu10)."""
    found = []
    for path in paths:
        suffix = path.name[len(prefix) :]
        if path.name.startswith(prefix) and suffix.isascii() and suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)
