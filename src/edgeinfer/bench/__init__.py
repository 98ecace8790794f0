"""``python -m edgeinfer.bench``: benchmark models on every backend and device this machine has.

Nothing here is imported by ``import edgeinfer``. See docs/bench.md for the run rules, the
fields of the table and of the JSON (``--schema`` prints its JSON Schema), and the exit status.
"""

from __future__ import annotations

from edgeinfer.bench._cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_RAN,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_REGRESSION,
    EXIT_USAGE,
    main,
)
from edgeinfer.bench._schema import SCHEMA, SCHEMA_VERSION

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING_RAN",
    "EXIT_OK",
    "EXIT_PARITY",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "SCHEMA",
    "SCHEMA_VERSION",
    "main",
]
