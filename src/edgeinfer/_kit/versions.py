"""Which distribution of a runtime is installed, and its version: package metadata only, no import.

One runtime often ships under several names (``onnxruntime``, ``onnxruntime-gpu``...).

pip installs a wheel as ``<name>-<version>.dist-info`` (the name normalised, PEP 427/503), so the
version is read from that folder's name on ``sys.path``, which costs a directory listing;
``importlib.metadata`` (which pulls in the ``email`` package and friends, about 2.5 MB of
resident memory on a small board) answers only what the listing does not find, such as an
editable or egg-info install.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Sequence

__all__ = ["installed", "installed_version"]

_SEPARATORS = re.compile(r"[-_.]+")


def _normalised(name: str) -> str:
    return _SEPARATORS.sub("_", name).lower()


@functools.cache
def _dist_infos() -> dict[str, str]:
    """Normalised distribution name -> version, from the ``.dist-info`` folders on sys.path."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith(".dist-info"):
                continue
            distribution, _, version = name[: -len(".dist-info")].partition("-")
            if version:
                found.setdefault(_normalised(distribution), version)  # first on sys.path wins
    return found


def _version(distribution: str) -> str | None:
    listed = _dist_infos().get(_normalised(distribution))
    if listed is not None:
        return listed
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def installed(distributions: Sequence[str]) -> tuple[str, str] | None:
    """The first of ``distributions`` that is installed, with its version; ``None`` if none is."""
    for distribution in distributions:
        found = _version(distribution)
        if found is not None:
            return distribution, found
    return None


def installed_version(*distributions: str) -> str | None:
    """The version of the first of ``distributions`` that is installed, else ``None``."""
    found = installed(distributions)
    return None if found is None else found[1]
