"""Progress while the runs go, on standard error: a rich progress bar when rich is installed and
standard error is a terminal, one plain line per run otherwise."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edgeinfer.bench._matrix import RunSpec
from edgeinfer.bench._table import format_latency

__all__ = ["PlainProgress", "Progress", "make_progress"]


def _result(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return "failed: " + (record["error"] or "?").splitlines()[0][:100]
    headline = record["headline"]
    if headline["metric"] == "p90_us":
        figure = f"p90 {format_latency(headline['value'])}"
    else:
        figure = f"{headline['value']:.1f}/s"
    parity = record["parity"]["status"]
    return f"{figure}, {record['queries']} queries, parity {parity}"


class Progress:
    """The interface: ``begin`` a run, report its ``phase``, ``end`` it, ``close``."""

    def begin(self, index: int, total: int, spec: RunSpec) -> None: ...

    def phase(self, text: str) -> None: ...

    def end(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class PlainProgress(Progress):
    """``[3/14] mobilenet_v2 onnx int8 on openvino/auto ... p90 3.1 ms, 640 queries``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def begin(self, index: int, total: int, spec: RunSpec) -> None:
        where = f"{spec.backend}/{spec.device}"
        self.stream.write(f"[{index}/{total}] {spec.label} on {where} ... ")
        self.stream.flush()

    def end(self, record: dict[str, Any]) -> None:
        self.stream.write(_result(record) + "\n")
        self.stream.flush()


class RichProgress(Progress):
    """A bar over the runs, and the current run's phase."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.console = Console(stderr=True)
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: Any = None
        self._label = ""

    def begin(self, index: int, total: int, spec: RunSpec) -> None:
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task("", total=total)
        self._label = f"{spec.label} on {spec.backend}/{spec.device}"
        self._bar.update(self._task, description=self._label)

    def phase(self, text: str) -> None:
        self._bar.update(self._task, description=f"{self._label}: {text}")

    def end(self, record: dict[str, Any]) -> None:
        self._bar.console.print(f"  {record['id']}: {_result(record)}", highlight=False)
        self._bar.advance(self._task)

    def close(self) -> None:
        if self._task is not None:
            self._bar.stop()


def make_progress(plain: bool) -> Progress:
    """Rich on a terminal when rich is installed and ``plain`` is False, plain lines otherwise."""
    if not plain and sys.stderr.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress()
