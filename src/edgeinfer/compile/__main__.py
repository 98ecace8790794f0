"""``python -m edgeinfer.compile``: see ``edgeinfer.compile._cli``."""

from __future__ import annotations

import sys

from edgeinfer.compile._cli import main

if __name__ == "__main__":
    sys.exit(main())
