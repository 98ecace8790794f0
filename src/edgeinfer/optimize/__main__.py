"""``python -m edgeinfer.optimize``: see ``edgeinfer.optimize._cli``."""

from __future__ import annotations

import sys

from edgeinfer.optimize._cli import main

if __name__ == "__main__":
    sys.exit(main())
