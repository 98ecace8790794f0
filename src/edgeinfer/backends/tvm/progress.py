"""A progress bar for MetaSchedule tuning: trials measured out of the budget, on stderr.

On a terminal the bar redraws one line; elsewhere (a log file, CI) it writes a line at every
tenth of the budget. Either way edgeinfer's logger gets the same lines at INFO.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

__all__ = ["TuningProgress", "measure_callback"]

_log = logging.getLogger("edgeinfer.backends.tvm")
_WIDTH = 24


class TuningProgress:
    """Counts measured trials of one tuning run and draws them on ``stream`` (default: stderr
    as it is when the run starts)."""

    def __init__(self, what: str, budget: int, stream: TextIO | None = None) -> None:
        self.what = what
        self.budget = max(budget, 1)
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self._started = time.monotonic()
        self._last_tenth = -1
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def line(self) -> str:
        share = min(self.done / self.budget, 1.0)
        filled = int(share * _WIDTH)
        bar = "#" * filled + "." * (_WIDTH - filled)
        seconds = time.monotonic() - self._started
        return f"tvm: tuning {self.what} [{bar}] {self.done}/{self.budget} trials, {seconds:.0f} s"

    def advance(self, trials: int) -> None:
        self.done += trials
        tenth = int(10 * min(self.done / self.budget, 1.0))
        if self._tty and self.stream is not None:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            _log.info("%s", self.line())
            if not self._tty and self.stream is not None:
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def finish(self) -> None:
        if self._tty and self.stream is not None:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()


def measure_callback(progress: TuningProgress) -> Any:
    """A MetaSchedule measure callback that advances ``progress`` by each batch of trials."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class _Progress(PyMeasureCallback):  # type: ignore[misc]
        def apply(self, task_scheduler: Any, task_id: int, measure_candidates: Any,
                  builder_results: Any, runner_results: Any) -> None:  # fmt: skip
            progress.advance(len(measure_candidates))

    return _Progress()
