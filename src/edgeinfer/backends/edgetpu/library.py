"""Where libedgetpu is: its exact file name per platform, looked for in the places the loader
and Coral's installers use. Nothing is loaded here (``availability`` must stay cheap).

``ctypes.util.find_library("edgetpu")`` cannot be used: on macOS it looks for
``libedgetpu.dylib``, while Coral's installer puts ``libedgetpu.1.0.dylib`` and the symlink
``libedgetpu.1.dylib`` in ``/usr/local/lib`` (its install.sh), so the Edge TPU was never found
there. The names are pycoral's (``utils/edgetpu.py``): ``libedgetpu.so.1`` (Linux, from the
``libedgetpu1-std``/``-max`` packages, in ``/usr/lib/<triplet>``), ``libedgetpu.1.dylib`` (macOS),
``edgetpu.dll`` (Windows: Coral's install.bat copies it to ``%SystemRoot%\\System32``).
The full path found is what ``load_delegate`` gets: a bare name is resolved by the loader, which
on macOS may not search ``/usr/local/lib`` (hardened or Rosetta processes).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["LIBRARY_BY_PLATFORM", "find_library", "library_name", "platform_key", "search_dirs"]

LIBRARY_BY_PLATFORM = {
    "linux": "libedgetpu.so.1",
    "darwin": "libedgetpu.1.dylib",
    "win32": "edgetpu.dll",
}


def platform_key(platform: str | None = None) -> str:
    """``"linux"``, ``"darwin"`` or ``"win32"`` for a ``sys.platform`` value (default: this one)."""
    platform = platform or sys.platform
    if platform == "darwin":
        return "darwin"
    if platform in ("win32", "cygwin"):
        return "win32"
    return "linux"


def library_name(platform: str | None = None) -> str:
    """The file name of the delegate library on ``platform`` (default: this one)."""
    return LIBRARY_BY_PLATFORM[platform_key(platform)]


def _split(value: str | None, separator: str) -> list[str]:
    return [part for part in (value or "").split(separator) if part]


def _ld_so_conf(root: Path) -> Iterator[Path]:
    """The folders listed in ``/etc/ld.so.conf`` and the files it includes (what ldconfig
    caches: ``/usr/local/lib`` is usually listed there, not built in)."""
    pending = [root / "etc" / "ld.so.conf"]
    seen: set[Path] = set()
    while pending:
        conf = pending.pop(0)
        if conf in seen:
            continue
        seen.add(conf)
        try:
            lines = conf.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if line.startswith("include"):
                pattern = line.split(None, 1)[1] if " " in line else ""
                base = root / pattern.lstrip("/")
                pending.extend(sorted(base.parent.glob(base.name)))
            elif line.startswith("/"):
                yield root / line.lstrip("/")


def search_dirs(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
) -> list[Path]:
    """Folders to look in, in the loader's order. ``env`` and ``root`` are parameters so that
    tests describe a machine of another platform as a fake tree."""
    key = platform_key(platform)
    env = os.environ if env is None else env
    found: list[Path] = []
    if key == "win32":
        found += [Path(part) for part in _split(env.get("PATH"), ";")]
        system_root = env.get("SystemRoot") or env.get("SYSTEMROOT") or env.get("WINDIR")
        if system_root:
            found.append(Path(system_root) / "System32")
    elif key == "darwin":
        found += [Path(part) for part in _split(env.get("DYLD_LIBRARY_PATH"), ":")]
        found += [Path(part) for part in _split(env.get("DYLD_FALLBACK_LIBRARY_PATH"), ":")]
        # Coral's installer (Intel and Apple silicon), Homebrew on Apple silicon, MacPorts.
        found += [root / "usr/local/lib", root / "opt/homebrew/lib", root / "opt/local/lib"]
    else:
        found += [Path(part) for part in _split(env.get("LD_LIBRARY_PATH"), ":")]
        found += list(_ld_so_conf(root))
        for base in ("usr/lib", "lib"):  # Debian multiarch: /usr/lib/aarch64-linux-gnu...
            found += sorted((root / base).glob("*-linux-gnu*"))
        found += [root / d for d in ("usr/local/lib", "usr/lib", "lib", "usr/lib64", "lib64")]
    unique: list[Path] = []
    for folder in found:
        if folder not in unique:
            unique.append(folder)
    return unique


def find_library(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    root: Path = Path("/"),
) -> str | None:
    """The full path of libedgetpu on ``platform``, or ``None`` when it is in none of the usual
    folders. Cached for this machine (the call without arguments)."""
    if platform is None and env is None and root == Path("/"):
        return _find_here()
    return _search(platform, env, root)


def _search(platform: str | None, env: Mapping[str, str] | None, root: Path) -> str | None:
    name = library_name(platform)
    for folder in search_dirs(platform, env, root):
        candidate = folder / name
        if os.path.isfile(candidate):  # follows the symlinks the packages install
            return str(candidate)
    return None


@functools.lru_cache(maxsize=1)
def _find_here() -> str | None:
    return _search(None, None, Path("/"))
