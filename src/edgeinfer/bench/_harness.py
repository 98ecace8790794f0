"""The load generator: MLPerf LoadGen when installed (through ``edgeinfer.bench._loadgen``), else
a built-in loop that follows the same run rules and reports the same fields.

Run rules of the built-in loop: queries are issued back to back, one in flight (SingleStream: the
next query is sent when the previous one answers; Offline without a batch dimension: the same,
and throughput is the figure that counts). Each query is timed with ``time.perf_counter_ns`` (the
monotonic clock). The loop stops at the first query that ends once both ``duration`` seconds
have passed and ``min_queries`` queries have been answered, or at ``max_duration`` seconds,
whichever comes first; a run stopped by ``max_duration`` short of ``min_queries`` is marked
invalid. No early-stopping estimate is made. With ``--runs N`` the minimum is N queries and the
duration 0 (or ``--duration``): exactly N queries, as ``benchmark_app -niter N`` runs.

``concurrent_loop`` (``--concurrency N``): N threads each issue queries back to back on one
model, so N queries are in flight; a shared ticket counter applies the same stopping rule to the
queries started. Latencies are per query; throughput is every sample over the wall time.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeinfer._errors import ConfigurationError
from edgeinfer.bench._rules import HARNESSES

__all__ = [
    "HARNESSES",
    "Harness",
    "builtin_loop",
    "concurrent_loop",
    "pick_harness",
    "warm_up",
]

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
    cap = _cap_ns(started, duration, max_duration)
    while True:
        before = clock()
        call()
        after = clock()
        append(after - before)
        if after >= cap or (after >= deadline and len(latencies) >= min_queries):
            break
    return latencies, (after - started) / 1e9


def concurrent_loop(
    calls: Sequence[Callable[[], None]],
    duration: float,
    min_queries: int,
    max_duration: float,
) -> tuple[list[int], list[int], float]:
    """Each of ``calls`` back to back on its own thread, all at once, under the run rules above
    applied to the queries started. Returns (latencies ns, end times ns, wall seconds), ordered
    by end time. An exception in a call stops every thread and is raised here."""
    clock = time.perf_counter_ns
    tickets = itertools.count()
    barrier = threading.Barrier(len(calls) + 1)
    done: list[list[tuple[int, int]]] = [[] for _ in calls]
    failures: list[BaseException] = []
    times = [0, 0, 0]  # start, deadline, cap (set once every thread is ready)

    def worker(call: Callable[[], None], sink: list[tuple[int, int]]) -> None:
        barrier.wait()
        _start, deadline, cap = times
        append = sink.append
        try:
            while not failures:
                ticket = next(tickets)
                now = clock()
                if now >= cap or (ticket >= min_queries and now >= deadline):
                    return
                call()
                end = clock()
                append((end, end - now))
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=worker, args=(call, sink), daemon=True, name=f"bench-{k}")
        for k, (call, sink) in enumerate(zip(calls, done, strict=True))
    ]
    for thread in threads:
        thread.start()
    started = clock()
    times[:] = [started, started + int(duration * 1e9), _cap_ns(started, duration, max_duration)]
    barrier.wait()
    try:
        for thread in threads:
            thread.join()
    except BaseException as error:  # Ctrl-C: stop the workers before leaving
        failures.append(error)
        raise
    if failures:
        raise failures[0]
    merged = sorted(item for sink in done for item in sink)
    ends = [end for end, _ in merged]
    wall = ((ends[-1] if ends else started) - started) / 1e9
    return [took for _, took in merged], ends, wall


def _cap_ns(started: int, duration: float, max_duration: float) -> int:
    limit = max(max_duration, duration)
    return started + int(limit * 1e9) if limit != float("inf") else 2**62


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


def pick_harness(requested: str, builtin_because: str | None = None) -> Harness:
    """``auto``: LoadGen when available, else built-in; ``builtin_because``: why ``auto`` takes
    the built-in loop here (``--runs``, ``--concurrency``). ``loadgen`` without LoadGen is a
    ``ConfigurationError`` carrying the reason."""
    if requested not in HARNESSES:
        raise ConfigurationError(f"harness must be one of {', '.join(HARNESSES)}")
    if requested == "builtin":
        return Harness("builtin", builtin_loop, "built-in loop (asked for)")
    if requested == "auto" and builtin_because:
        return Harness("builtin", builtin_loop, f"built-in loop ({builtin_because})")
    ok, reason, loop = _loadgen()
    if ok and loop is not None:
        return Harness("loadgen", loop, f"MLPerf LoadGen ({reason})" if reason else "LoadGen")
    if requested == "loadgen":
        raise ConfigurationError(f"--harness loadgen: LoadGen is not usable here: {reason}")
    return Harness("builtin", builtin_loop, f"built-in loop (LoadGen not used: {reason})")
