"""``--plot``: latency CDFs of bench runs as one PNG (matplotlib, Agg canvas, no pyplot).

The figure is drawn through matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), so it
neither needs a display nor changes the process's pyplot backend or state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PERCENTILES", "draw_cdf", "plot_cdf"]

PERCENTILES = (50.0, 90.0, 99.0)
_HINT = "--plot needs matplotlib: pip install matplotlib"


def _format_us(us: float) -> str:
    return f"{us / 1000:.3g} ms" if us >= 1000 else f"{us:.3g} us"


_MARKERS = {50.0: "o", 90.0: "s", 99.0: "^"}
_STYLES = ("-", "--", ":", "-.")


def draw_cdf(runs: list[dict[str, Any]]) -> Any:
    """The figure of ``plot_cdf`` (a matplotlib ``Figure`` on an Agg canvas), not saved.

    No text is drawn on the curves (labels of close curves would overlap): p50/p90/p99 are
    marked by marker shape, explained once in the legend, and each run's figures are in its
    legend entry. The legend sits below the axes, outside them, one entry per line, and the
    figure grows with the number of runs, so neither curves nor labels are covered."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError as e:
        raise ImportError(_HINT) from e

    height = 4.5 + 0.22 * (len(runs) + 1)
    figure = Figure(figsize=(9.0, height), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    drawn = 0
    for index, run in enumerate(runs):
        label = str(run.get("label", "?"))
        values = sorted(
            float(x) for x in run.get("latencies_us") or () if math.isfinite(x) and x > 0
        )
        if not values:
            axes.plot([], [], label=f"{label} (no data)")
            continue
        n = len(values)
        marks = [float(np.percentile(values, q)) for q in PERCENTILES]
        summary = ", ".join(
            f"p{q:g} {_format_us(v)}" for q, v in zip(PERCENTILES, marks, strict=True)
        )
        (line,) = axes.step(
            values,
            [(i + 1) / n for i in range(n)],
            where="post",
            label=f"{label}: {summary}",
            linestyle=_STYLES[index // 10 % len(_STYLES)],  # the 10 colours repeat after 10
        )
        for q, v in zip(PERCENTILES, marks, strict=True):
            axes.plot([v], [q / 100], linestyle="none", marker=_MARKERS[q], color=line.get_color())
        drawn += 1
    if drawn:
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _format_us(x)))
        axes.xaxis.set_minor_formatter(NullFormatter())
    for q in PERCENTILES:
        axes.axhline(q / 100, color="0.85", linewidth=0.8, zorder=0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("latency per query (log scale)")
    axes.set_ylabel("fraction of queries at or below")
    axes.set_title("Latency CDF")
    axes.grid(True, which="both", axis="x", alpha=0.3)
    if runs:
        handles, labels = axes.get_legend_handles_labels()
        for q, marker in _MARKERS.items():
            handles.append(Line2D([], [], color="0.3", marker=marker, linestyle="none"))
            labels.append(f"marker: p{q:g}")
        figure.legend(handles, labels, loc="outside lower center", ncols=1, fontsize=8)
    return figure


def plot_cdf(runs: list[dict[str, Any]], path: Path) -> None:
    """Draw one latency CDF per run (``run["label"]``, ``run["latencies_us"]``) on a log-scaled
    x axis, p50/p90/p99 marked on each curve, and save it to ``path`` as PNG. Runs without
    positive finite latencies are listed in the legend as "no data"."""
    draw_cdf(runs).savefig(Path(path), format="png")
