"""The report as a table, like the bench's: rich on a terminal when it is installed, plain text
otherwise (and always when ``plain``); the lines under it say what was chosen and why, and
which recipes did not run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from edgeinfer.optimize._report import OptimizationReport, VariantResult

__all__ = ["print_report", "table_rows"]

HEADERS = ("variant", "precision", "size", "p50", "speed", "top-1", "top-5", "cosine",
           "max abs err", "drop", "verdict")  # fmt: skip
_LEFT = ("variant", "precision", "verdict")


def _latency(us: float | None) -> str:
    if us is None:
        return "-"
    return f"{us:.0f} us" if us < 1000 else f"{us / 1000:.2f} ms"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _row(v: VariantResult) -> list[str]:
    a = v.accuracy
    size = "-" if v.size_bytes is None else f"{v.size_bytes / 1e6:.2f} MB"
    if v.size_ratio is not None and v.recipe != "original":
        size += f" ({v.size_ratio:.0%})"
    speed = "-" if v.speedup is None else f"{v.speedup:.2f}x"
    original = v.recipe == "original"
    return [
        v.recipe,
        v.precision,
        size,
        _latency(v.latency_p50_us),
        speed,
        "-" if a is None or original else _share(a.top1),
        "-" if a is None or original else _share(a.top5),
        "-" if a is None or original else f"{a.cosine:.5f}",
        "-" if a is None or original else f"{a.max_abs_error:.3g}",
        "-" if a is None or original else f"{a.drop:.4f}",
        v.verdict,
    ]


def table_rows(report: OptimizationReport) -> tuple[list[str], list[list[str]]]:
    return list(HEADERS), [_row(v) for v in report.variants]


def _plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if h in _LEFT else c.rjust(w)
            for c, w, h in zip(cells, widths, headers, strict=True)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def _footer(report: OptimizationReport) -> list[str]:
    lines = [f"serving: {report.chosen}: {report.reason}"]
    c = report.calibration
    lines.append(
        f"calibration: {c.source}: {c.calibrated_on} calibrated, {c.held_back} held back for "
        f"accuracy; budget: drop <= {report.max_accuracy_drop:g}"
    )
    for v in report.variants:
        if v.reason and v.verdict != "within budget":
            lines.append(f"{v.recipe}: {v.verdict}: {v.reason}")
    lines.extend(
        f"not applicable: {s.recipe}: {s.reason}" + (f" ({s.hint})" if s.hint else "")
        for s in report.skipped
    )
    lines.extend(f"note: {note}" for note in report.notes)
    if report.out:
        lines.append(f"written: {report.out} (edgeinfer.load() serves it)")
    return lines


def _console(out: TextIO, plain: bool) -> Any:
    if plain or not out.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=out)


def print_report(
    report: OptimizationReport, *, plain: bool = False, stream: TextIO | None = None
) -> None:
    out = stream or sys.stdout
    headers, rows = table_rows(report)
    title = (
        f"edgeinfer.optimize: {report.model} ({report.format}, precision {report.precision}) "
        f"on {report.backend}/{report.device}, {report.seconds:.0f} s"
    )
    console = _console(out, plain)
    if console is None:
        out.write(title + "\n\n" + _plain(headers, rows) + "\n\n")
        out.write("\n".join(_footer(report)) + "\n")
        return
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for header in headers:
        table.add_column(header, justify="left" if header in _LEFT else "right", no_wrap=True)
    for row in rows:
        style = {"chosen": "bold green", "over budget": "red", "failed": "red"}.get(row[-1])
        table.add_row(*row, style=style)
    console.print(table)
    for line in _footer(report):
        console.print(line, highlight=False, markup=False)
