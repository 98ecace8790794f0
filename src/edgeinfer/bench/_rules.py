"""The run rules as data: default durations and query counts, the exit status, and ``Settings``.

Nothing heavy is imported here (no numpy, no registry): the command line checks its arguments
with this module alone, so a bad argument is refused in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BUDGET_S",
    "DEFAULT_MIN_QUERIES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING_RAN",
    "EXIT_OK",
    "EXIT_PARITY",
    "EXIT_REGRESSION",
    "EXIT_USAGE",
    "HARNESSES",
    "MAX_DEFAULT_DURATION",
    "MIN_DEFAULT_DURATION",
    "QUICK_DURATION",
    "QUICK_MIN_QUERIES",
    "Settings",
    "UsageError",
    "default_duration",
]

# The exit status, one per kind of outcome (docs/bench.md, --help). When several apply: 64
# before anything runs; then parity (2) over a regression (3) over a failed run (1).
EXIT_OK = 0
EXIT_FAILED = 1  # a run failed (load or inference); its error is in the table and the JSON
EXIT_PARITY = 2  # a backend's outputs disagree with the reference beyond the thresholds
EXIT_REGRESSION = 3  # --compare: a regression that passed the statistical test
EXIT_NOTHING_RAN = 4  # no model/backend/device combination can run here (each says why)
EXIT_USAGE = 64  # bad arguments, checked before the first run (EX_USAGE of sysexits.h)
EXIT_INTERRUPTED = 130  # Ctrl-C: the finished runs are reported first (128 + SIGINT)

# The default suite spends about this many seconds measuring, split evenly across its runs, each
# run getting between MIN_DEFAULT_DURATION and MAX_DEFAULT_DURATION seconds.
DEFAULT_BUDGET_S = 36.0
MIN_DEFAULT_DURATION = 1.0
MAX_DEFAULT_DURATION = 10.0
QUICK_DURATION = 0.5
DEFAULT_MIN_QUERIES = 64
QUICK_MIN_QUERIES = 16
HARNESSES = ("auto", "loadgen", "builtin")


class UsageError(Exception):
    """An argument that cannot work, found before the first run: one line, exit 64."""


def default_duration(runs: int, quick: bool) -> float:
    """Seconds of measuring per run when ``--duration`` is not given."""
    if quick:
        return QUICK_DURATION
    share = DEFAULT_BUDGET_S / max(runs, 1)
    return round(min(MAX_DEFAULT_DURATION, max(MIN_DEFAULT_DURATION, share)), 2)


@dataclass(frozen=True, slots=True)
class Settings:
    """How every run of one bench is measured (see docs/bench.md for the run rules).

    ``min_queries`` with ``exact`` (``--runs``): the loop runs exactly that many queries (and at
    least ``duration`` seconds when one is given). ``warmup``/``warmup_runs``: untimed seconds
    and queries, both minimums. ``concurrency``: queries in flight at once, each from its own
    thread, on one ``Model``. ``options``: ``load(options=...)`` per backend. ``shapes``: sizes
    for dynamic input dimensions (``None`` names the only input). ``inputs``: the queries'
    data from ``--inputs`` files (name -> array each). ``profile_ops``: the folder for
    per-operator Chrome traces.
    """

    scenario: str = "single-stream"
    duration: float = 10.0
    min_queries: int = 64
    max_duration: float = 30.0
    warmup: float = 1.0
    warmup_runs: int = 1
    threads: int | None = None
    parity_inputs: int = 8
    offline_batch: int = 8
    exact: bool = False
    concurrency: int = 1
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    shapes: tuple[tuple[str | None, tuple[int, ...]], ...] = ()
    inputs: tuple[Mapping[str | None, Any], ...] = ()
    profile_ops: Path | None = None
    profile_runs: int = 10
