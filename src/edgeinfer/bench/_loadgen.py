"""Optional MLCommons LoadGen driver: ``run_loadgen(call, scenario, duration, min_queries)``.

LoadGen (PyPI ``mlcommons-loadgen``, module ``mlperf_loadgen``) decides when queries are issued
and when the test may end; this module is its system under test. Each sample is one ``call()``,
timed here with ``perf_counter_ns``, so the latencies are the model's own, without LoadGen's
bookkeeping (about 10 us per query on a desktop x86 core).

- ``single-stream``: ``TestScenario.SingleStream``, one query of one sample at a time, the next
  issued when the previous completes.
- ``offline``: ``TestScenario.Offline``, LoadGen issues every sample at once in one query; they
  are served one by one, in order, on the calling thread (``call`` is not assumed thread-safe),
  each completed as soon as it returns. Offline latencies are therefore service times, not the
  time a sample waited in the batch.

LoadGen generates its queries before the test, from an expected latency (single-stream) or
throughput (offline): too few and it ends before ``duration``, too many and offline runs long.
A few calls first measure it (they double as warm-up; their times are not returned).
At most ``_MAX_GENERATED`` queries are generated (LoadGen keeps ~0.3 KB per generated query):
a very fast model then ends early with that many queries, or ``min_queries`` if more.

LoadGen's log files go to a temporary folder, deleted afterwards, and its copies of the summary
to stdout are switched off. What it still writes to descriptors 1 and 2 by itself (a file it
cannot open, a timestamp) is captured while LoadGen runs alone (before the first query and after
the last) and logged at DEBUG on the ``edgeinfer`` logger. While ``call()`` runs, nothing is
redirected: the model's own warnings (a fallback, say) reach the user as usual, and a fallback
that opens a runtime under ``captured_native_stderr`` cannot deadlock on its lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgeinfer._kit.native_stderr import NativeOutput, captured_native_stderr

__all__ = ["SCENARIOS", "loadgen_available", "run_loadgen"]

SCENARIOS = ("single-stream", "offline")
_HINT = "pip install mlcommons-loadgen"
_DISTRIBUTIONS = ("mlcommons-loadgen", "mlperf-loadgen")
_MAX_GENERATED = 200_000
_CALIBRATION_S = 0.05  # at most this long (and 5% of the duration) of untimed calls first
_log = logging.getLogger("edgeinfer")
_test_lock = threading.Lock()  # LoadGen keeps global state: one test per process at a time


def loadgen_available() -> tuple[bool, str]:
    """``(True, "mlperf_loadgen <version>")`` when LoadGen is installed, else why not and the pip
    hint. Cheap: looks the module up without importing it."""
    try:
        found = importlib.util.find_spec("mlperf_loadgen") is not None
    except (ImportError, ValueError) as e:
        return False, f"mlperf_loadgen cannot be looked up ({e}); {_HINT}"
    if not found:
        return False, f"MLCommons LoadGen (module mlperf_loadgen) is not installed: {_HINT}"
    for distribution in _DISTRIBUTIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return True, f"mlperf_loadgen {importlib.metadata.version(distribution)}"
    return True, "mlperf_loadgen (version unknown)"


def _import_loadgen() -> Any:
    try:
        return importlib.import_module("mlperf_loadgen")
    except ImportError as e:
        raise ImportError(f"MLCommons LoadGen is not usable here ({e}): {_HINT}") from e


def _calibrate(call: Callable[[], None], budget_s: float) -> int:
    """The fastest of the calls made in ``budget_s`` seconds (at least one), in ns."""
    fastest = None
    deadline = time.perf_counter() + budget_s
    while True:
        start = time.perf_counter_ns()
        call()
        took = time.perf_counter_ns() - start
        fastest = took if fastest is None else min(fastest, took)
        if time.perf_counter() >= deadline:
            return max(fastest, 1)


def _flush_c_stdio() -> None:
    """Flush C stdio buffers (std::cout is synced to them) so nothing leaks after a restore."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


class _Quiet:
    """Descriptors 1 and 2 captured in phases switched on and off (not reentrant)."""

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None
        self._native: list[NativeOutput] = []
        self._stdout: list[str] = []

    def on(self) -> None:
        if self._stack is not None:
            return
        with contextlib.ExitStack() as stack:
            self._native.append(stack.enter_context(captured_native_stderr()))
            stack.enter_context(_captured_stdout(self._stdout))
            self._stack = stack.pop_all()

    def off(self) -> None:
        if self._stack is None:
            return
        stack, self._stack = self._stack, None
        _flush_c_stdio()
        stack.close()

    def text(self) -> str:
        return "".join([*(native.text for native in self._native), *self._stdout])


@contextlib.contextmanager
def _captured_stdout(texts: list[str]) -> Iterator[None]:
    """Descriptor 1 into a temporary file for the block; its text appended to ``texts``."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            texts.append(sink.read().decode("utf-8", "replace"))


def _settings(lg: Any, scenario: str, duration: float, min_queries: int, call_ns: int) -> Any:
    settings = lg.TestSettings()
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_duration_ms = round(duration * 1000)
    settings.min_query_count = min_queries
    # LoadGen pre-generates queries for twice the duration at the expected rate (single-stream)
    # or 1.1 times the duration at the expected throughput (offline, one query).
    if scenario == "single-stream":
        floor_ns = 2 * duration * 1e9 / _MAX_GENERATED
        settings.scenario = lg.TestScenario.SingleStream
        settings.single_stream_expected_latency_ns = max(call_ns // 2, int(floor_ns), 1)
    else:
        settings.scenario = lg.TestScenario.Offline
        settings.offline_expected_qps = min(1e9 / call_ns, _MAX_GENERATED / max(duration, 1e-3))
    return settings


def run_loadgen(
    call: Callable[[], None], scenario: str, duration: float, min_queries: int
) -> tuple[list[int], float]:
    """Run a LoadGen PerformanceOnly test of ``call`` (one call per sample) for at least
    ``duration`` seconds and ``min_queries`` queries (at least 1: LoadGen crashes on 0).

    Returns each sample's latency in ns (measured here around ``call()``) and the wall time in
    seconds from the first sample's start to the last one's end. An exception from ``call``
    (KeyboardInterrupt included) stops the calls; LoadGen's remaining samples are completed
    without calling, and the exception is raised once LoadGen returns.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {scenario!r}")
    if not duration >= 0:
        raise ValueError(f"duration must be >= 0 seconds, not {duration!r}")
    min_queries = max(1, int(min_queries))
    lg = _import_loadgen()
    with _test_lock:
        call_ns = _calibrate(call, min(_CALIBRATION_S, 0.05 * duration))
        return _run(lg, call, scenario, duration, min_queries, call_ns)


def _run(
    lg: Any,
    call: Callable[[], None],
    scenario: str,
    duration: float,
    min_queries: int,
    call_ns: int,
) -> tuple[list[int], float]:
    latencies: list[int] = []
    span = [0, 0]  # first start, last end (perf_counter_ns)
    failure: list[BaseException] = []
    quiet = _Quiet()
    clock = time.perf_counter_ns
    response = lg.QuerySampleResponse
    complete = lg.QuerySamplesComplete

    def issue_queries(samples: list[Any]) -> None:
        # Never let an exception escape: through LoadGen's C++ it aborts the process.
        quiet.off()
        for sample in samples:
            if not failure:
                try:
                    start = clock()
                    call()
                    end = clock()
                except BaseException as e:
                    failure.append(e)
                else:
                    latencies.append(end - start)
                    if not span[0]:
                        span[0] = start
                    span[1] = end
            complete([response(sample.id, 0, 0)])

    def flush_queries() -> None:
        with contextlib.suppress(BaseException):
            quiet.on()

    settings = _settings(lg, scenario, duration, min_queries, call_ns)
    with tempfile.TemporaryDirectory(prefix="edgeinfer-loadgen-") as folder:
        log_settings = lg.LogSettings()
        log_settings.log_output.outdir = folder
        log_settings.log_output.copy_summary_to_stdout = False
        log_settings.log_output.copy_detail_to_stdout = False
        log_settings.enable_trace = False
        audit = str(Path(folder) / "audit.config")  # absent: never read the user's audit.config
        sut = lg.ConstructSUT(issue_queries, flush_queries)
        qsl = lg.ConstructQSL(1, 1, _ignore, _ignore)
        try:
            quiet.on()
            try:
                lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, audit)
            except TypeError:  # LoadGen before the audit_config_filename argument
                lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
        finally:
            quiet.off()
            lg.DestroyQSL(qsl)
            lg.DestroySUT(sut)
    noise = quiet.text().strip()
    if noise:
        _log.debug("LoadGen output: %s", noise)
    if failure:
        raise failure[0]
    return latencies, (span[1] - span[0]) / 1e9


def _ignore(_indices: list[int]) -> None:
    """QSL load/unload: ``call`` brings its own input."""
