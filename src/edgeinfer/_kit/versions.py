"""Which distribution of a runtime is installed, and its version: package metadata only, no import.

One runtime often ships under several names (``onnxruntime``, ``onnxruntime-gpu``...).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["installed", "installed_version"]


def installed(distributions: Sequence[str]) -> tuple[str, str] | None:
    """The first of ``distributions`` that is installed, with its version; ``None`` if none is."""
    from importlib.metadata import PackageNotFoundError, version

    for distribution in distributions:
        try:
            return distribution, version(distribution)
        except PackageNotFoundError:
            continue
    return None


def installed_version(*distributions: str) -> str | None:
    """The version of the first of ``distributions`` that is installed, else ``None``."""
    found = installed(distributions)
    return None if found is None else found[1]
