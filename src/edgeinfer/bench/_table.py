"""The results table: rich on a terminal when installed, plain text otherwise, and the notes
under it (from ``_report.notes``). On a narrow terminal the least needed columns are dropped in
the order of ``DROP_ORDER`` (and said so under the table) rather than wrapping every cell; the
headline (``p90*`` or ``thr*``), the names and parity are never dropped. The JSON and CSV always
hold everything."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from edgeinfer.bench._report import notes

__all__ = [
    "DROP_ORDER",
    "dropped",
    "fit",
    "format_latency",
    "plain_table",
    "print_results",
    "table_rows",
]

_MIB = 1024**2
# Least needed first. Never dropped: model, variant, backend, the headline (starred), parity.
DROP_ORDER = ("1st run", "device", "CV", "load", "peak RSS", "p99", "batch", "p50", "thr")
_LEFT = ("model", "variant", "backend", "device", "parity")


def format_latency(us: float | None) -> str:
    """``57.3 us``, ``12.4 ms``, ``1.20 s``; ``-`` for unknown."""
    if us is None:
        return "-"
    if us < 100:
        return f"{us:.1f} us"
    if us < 1000:
        return f"{us:.0f} us"
    if us < 10_000:
        return f"{us / 1000:.2f} ms"
    if us < 1e6:
        return f"{us / 1000:.1f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"
    return f"{us / 1e6:.2f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else format_latency(value * 1000.0)


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}/s" if value >= 100 else f"{value:.1f}/s"


def _parity_cell(parity: dict[str, Any]) -> str:
    """``ref``, ``ok 2e-06`` (max relative error), ``FAIL 1e+00``, ``-`` (skipped)."""
    status, rel = parity["status"], parity["max_rel_error"]
    if status == "reference":
        return "ref"
    if status == "skipped" or rel is None:
        return "-"
    return f"{'ok' if status == 'pass' else 'FAIL'} {rel:.0e}"


def table_rows(
    records: Sequence[dict[str, Any]], scenario: str
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells; the headline column (p90 or throughput) carries a ``*``. Offline
    shows each run's batch (samples per query)."""
    offline = scenario == "offline"
    headers = ["model", "variant", "backend", "device"] + (["batch"] if offline else [])
    headers += ["load", "1st run"]
    headers += ["thr*", "p50", "p99"] if offline else ["p50", "p90*", "p99", "thr"]
    headers += ["CV", "peak RSS", "parity"]
    rows = []
    for r in records:
        variant = f"{r['format']} {r['precision']}" + ("*" if r.get("converted_by") else "")
        head = [r["model"], variant, r["backend"]]
        head.append(r["device"] or r["device_requested"])
        if offline:
            head.append(str(r.get("batch") or "-") if r["status"] == "ok" else "-")
        if r["status"] != "ok":
            rows.append([*head] + ["-"] * (len(headers) - len(head) - 1) + ["FAILED"])
            continue
        lat = r["latency_us"]
        cells = [_ms(r["load_ms"]), _ms(r["first_inference_ms"])]
        if offline:
            cells += [_rate(r["throughput"])] + [format_latency(lat[k]) for k in ("p50", "p99")]
        else:
            cells += [format_latency(lat[k]) for k in ("p50", "p90", "p99")]
            cells.append(_rate(r["throughput"]))
        cv = r["variation"]["cv"]
        cells.append("-" if cv is None else f"{cv:.0%}" + ("!" if r["warnings"] else ""))
        rss = r["peak_rss_bytes"]
        cells.append("-" if rss is None else f"{rss / _MIB:.0f} MiB")
        cells.append(_parity_cell(r["parity"]))
        rows.append(head + cells)
    return headers, rows


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]


def _width(headers: Sequence[str], rows: Sequence[Sequence[str]], per_column: int) -> int:
    return sum(_widths(headers, rows)) + per_column * (len(headers) - 1)


def fit(
    headers: list[str], rows: list[list[str]], width: int, per_column: int
) -> tuple[list[str], list[list[str]]]:
    """Drop columns in ``DROP_ORDER`` until the table fits ``width`` characters (``per_column``:
    the characters between two columns); then shorten the model names, never the headline."""
    for name in DROP_ORDER:
        if _width(headers, rows, per_column) <= width:
            break
        if name in headers:
            i = headers.index(name)
            headers = headers[:i] + headers[i + 1 :]
            rows = [row[:i] + row[i + 1 :] for row in rows]
    over = _width(headers, rows, per_column) - width
    if over > 0 and rows:
        longest = max(len(row[0]) for row in rows)
        keep = max(len("model"), longest - over)
        rows = [
            [row[0] if len(row[0]) <= keep else row[0][: keep - 1] + "…", *row[1:]] for row in rows
        ]
    return headers, rows


def dropped(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """The columns ``fit`` left out."""
    return [name for name in before if name not in after]


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; text left, figures right."""
    widths = _widths(headers, rows)

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if h in _LEFT else c.rjust(w)
            for c, w, h in zip(cells, widths, headers, strict=True)
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def _rich_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for header in headers:
        table.add_column(header, justify="left" if header in _LEFT else "right", no_wrap=True)
    for row in rows:
        cells = [f"[red]{c}[/red]" if c.startswith(("FAIL", "FAILED")) else c for c in row]
        table.add_row(*cells)
    return table


def _console(out: TextIO, plain: bool) -> Any:
    if plain or not out.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=out)


def print_results(
    doc: dict[str, Any], *, plain: bool = False, stream: TextIO | None = None
) -> None:
    """The table and its notes: rich on a terminal when installed (unless ``plain``)."""
    out = stream or sys.stdout
    full, rows = table_rows(doc["runs"], doc["settings"]["scenario"])
    title = f"edgeinfer.bench: {len(rows)} run(s) in {doc['elapsed_s']:.0f} s"
    console = _console(out, plain)
    width = console.width if console is not None else shutil.get_terminal_size().columns
    headers = full
    if console is not None or out.isatty():
        headers, rows = fit(full, rows, width, 3 if console is not None else 2)
    lines = notes(doc)
    left_out = dropped(full, headers)
    if left_out and rows:
        lines.insert(
            0,
            f"left out to fit {width} columns: {', '.join(left_out)} (--json/--csv hold "
            "them; a wider terminal shows them)",
        )
    if console is not None:
        console.print(_rich_table(headers, rows, title) if rows else "nothing ran")
        for line in lines:
            console.print(line, highlight=False, markup=False)
        return
    table = plain_table(headers, rows) if rows else "nothing ran"
    out.write(title + "\n\n" + table + "\n\n" + "\n".join(lines) + "\n")
