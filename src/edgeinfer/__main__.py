"""``python -m edgeinfer``: what this machine has — each backend, usable or not and why; devices."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from edgeinfer import __version__
from edgeinfer._planning.detect import devices
from edgeinfer._planning.registry import backend_infos, offered_unasked


def _format_label(backend: str, fmt: str) -> str:
    """``fmt``, marked when the backend reads it only when named (tvm compiles ONNX)."""
    return fmt if offered_unasked(backend, fmt) else f"{fmt} (when named: backend={backend!r})"


def report() -> str:
    """The machine report, as text a person reads."""
    lines = [f"edgeinfer {__version__} on Python {sys.version.split()[0]} ({sys.platform})", ""]
    lines.append("Backends:")
    for info in backend_infos():
        mark = "yes" if info.available else "no "
        lines.append(f"  [{mark}] {info.name:<12} {info.reason}")
        if info.available:
            formats = ", ".join(_format_label(info.name, fmt) for fmt in info.formats)
            lines.append(f"        formats: {formats}; devices: {', '.join(info.devices)}")
        elif info.hint:
            lines.append(f"        fix: {info.hint}")
    lines.append("")
    lines.append("Devices found (present is not proven usable; loading a model proves that):")
    for device in devices():
        lines.append(f"  {device.id:<16} {device.name}  [{device.source}]")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edgeinfer",
        description="Show the backends and devices edgeinfer finds on this machine.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--version", action="version", version=f"edgeinfer {__version__}")
    arguments = parser.parse_args(argv)
    if arguments.json:
        document = {
            "edgeinfer": __version__,
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "backends": [info.to_dict() for info in backend_infos()],
            "devices": [device.to_dict() for device in devices()],
        }
        print(json.dumps(document, indent=2))
    else:
        print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
