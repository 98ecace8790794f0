"""The load generator: MLPerf LoadGen when installed (through ``edgeinfer.bench._loadgen``), else
a built-in loop that follows the same run rules and reports the same fields.

Run rules of the built-in loop: queries are issued back to back, one in flight (SingleStream: the
next query is sent when the previous one answers; Offline without a batch dimension: the same,
and throughput is the figure that counts). Each query is timed with ``time.perf_counter_ns`` (the
monotonic clock). The loop stops at the first query that ends once both ``duration`` seconds
have passed and ``min_queries`` queries have been answered, or at ``max_duration`` seconds,
whichever comes first; a run stopped by ``max_duration`` short of ``min_queries`` is marked
invalid. No early-stopping estimate is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edgeinfer._errors import ConfigurationError

__all__ = ["HARNESSES", "Harness", "builtin_loop", "pick_harness", "warm_up"]

HARNESSES = ("auto", "loadgen", "builtin")
Loop = Callable[[Callable[[], None], str, float, int, float], tuple[list[int], float]]


@dataclass(frozen=True, slots=True)
class Harness:
    """The loop that runs the measured queries; ``note`` says why this one was chosen."""

    name: str  # "loadgen" or "builtin"
    loop: Loop
    note: str


def builtin_loop(
    call: Callable[[], None],
    scenario: str,
    duration: float,
    min_queries: int,
    max_duration: float,
) -> tuple[list[int], float]:
    """Run ``call`` back to back under the run rules above: (latencies ns, wall seconds)."""
    clock = time.perf_counter_ns
    latencies: list[int] = []
    append = latencies.append
    started = clock()
    deadline = started + int(duration * 1e9)
    cap = started + int(max(max_duration, duration) * 1e9)
    while True:
        before = clock()
        call()
        after = clock()
        append(after - before)
        if after >= cap or (after >= deadline and len(latencies) >= min_queries):
            break
    return latencies, (after - started) / 1e9


def warm_up(call: Callable[[], None], seconds: float, minimum: int = 1) -> int:
    """Untimed queries for ``seconds`` (at least ``minimum``); returns how many ran."""
    deadline = time.perf_counter() + seconds
    count = 0
    while count < minimum or time.perf_counter() < deadline:
        call()
        count += 1
    return count


def _loadgen() -> tuple[bool, str, Loop | None]:
    try:
        from edgeinfer.bench._loadgen import loadgen_available, run_loadgen
    except ImportError as error:
        return False, f"the LoadGen adapter is not importable: {error}", None
    ok, reason = loadgen_available()
    if not ok:
        return False, str(reason), None

    def loop(
        call: Callable[[], None],
        scenario: str,
        duration: float,
        min_queries: int,
        max_duration: float,
    ) -> tuple[list[int], float]:
        latencies, wall = run_loadgen(call, scenario, duration, min_queries)
        return [int(x) for x in latencies], float(wall)

    return True, str(reason), loop


def pick_harness(requested: str) -> Harness:
    """``auto``: LoadGen when available, else built-in. ``loadgen`` without LoadGen is a
    ``ConfigurationError`` carrying the reason."""
    if requested not in HARNESSES:
        raise ConfigurationError(f"harness must be one of {', '.join(HARNESSES)}")
    if requested == "builtin":
        return Harness("builtin", builtin_loop, "built-in loop (asked for)")
    ok, reason, loop = _loadgen()
    if ok and loop is not None:
        return Harness("loadgen", loop, f"MLPerf LoadGen ({reason})" if reason else "LoadGen")
    if requested == "loadgen":
        raise ConfigurationError(f"--harness loadgen: LoadGen is not usable here: {reason}")
    return Harness("builtin", builtin_loop, f"built-in loop (LoadGen not used: {reason})")
