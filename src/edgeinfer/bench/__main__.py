"""``python -m edgeinfer.bench``: see ``edgeinfer.bench._cli``."""

from __future__ import annotations

import sys

from edgeinfer.bench._cli import main

if __name__ == "__main__":
    sys.exit(main())
