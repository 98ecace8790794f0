"""Fake machines for detection and health tests: sysfs, /dev and /proc as folders under tmp."""

from __future__ import annotations

from pathlib import Path

from edgeinfer._planning.detect import Roots


def touch(path: Path, text: str = "") -> None:
    """Write ``text`` at ``path``, creating its folders (a sysfs attribute, a /dev node)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_roots(folder: Path, machine: str = "x86_64") -> Roots:
    """Empty sys, dev and proc trees under ``folder``, as a Linux machine of ``machine``."""
    for name in ("sys", "dev", "proc"):
        (folder / name).mkdir()
    return Roots(folder / "sys", folder / "dev", folder / "proc", "Linux", machine)
