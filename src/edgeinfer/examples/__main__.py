"""``python -m edgeinfer.examples [FOLDER]``: write the documentation's example models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from edgeinfer.examples import build


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edgeinfer.examples",
        description="Write the example models the documentation uses into FOLDER.",
    )
    parser.add_argument("folder", nargs="?", default=".", help="where (default: here)")
    args = parser.parse_args(argv)
    written, skipped = build(args.folder)
    for path in written:
        print(f"  {path}")
    for name, why in skipped.items():
        print(f"  not built: {name}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
