"""``--compare OLD.json``: each run's headline against the same run in an older file, judged by
a statistical test on the slices both runs carry.

Runs match on model, format, precision, backend, device and scenario. The headline is p90
latency (SingleStream, lower is better) or throughput (Offline, higher is better).

The test. Each run's measured loop is cut into consecutive slices of equal query count
(``_latency.SEGMENTS``, 10), and the JSON keeps each slice's p90 latency and throughput. A slice
is the unit of replication: single queries are not independent (interference comes in bursts
that span many of them), so a test on thousands of queries would call every tiny drift
significant, while slices a tenth of a run apart are close to independent repetitions of a short
run. The two runs' slices are compared with the two-sided **Mann-Whitney U test** (Wilcoxon
rank-sum): it assumes no distribution (latencies are skewed, and slices of a throttling board are
not normal), is exact for these sizes (the U distribution counted, no approximation, when there
are no ties), and with 10 slices a side it can reach p = 1e-5. A bootstrap confidence interval
would be the other choice, but with 10 values per side its coverage falls short of its nominal
level. Because a file holds many runs, the p-values are corrected for multiple comparisons with
Holm's method (family-wise error ``ALPHA``, 0.01: a regression gate should rarely cry wolf, and
with 10 slices a side a clear shift still reaches it among hundreds of runs). A change is
reported only when it passes the test **and** the headline moved by at least ``MIN_CHANGE``
(5%): a significant 1% is real, but machines drift by that much between runs minutes apart,
which slices of one run cannot see. Everything else is "within noise".

The test assumes that what differs between the two runs is the software, not the machine's
other load, which slices cannot tell apart. So a run measured on a busy machine (a 1-minute load
average above ``_record.BUSY_LOAD`` x its logical cores, before or after the run) is not judged,
and ``--quick`` runs (0.5 s) are too short to compare (the drift between two runs dwarfs what
their slices show): both are reported as "not judged", with the reason. Older files without
per-slice p90s (schema 1 before slices carried them) are tested on their slice medians.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgeinfer.bench._fingerprint import differences
from edgeinfer.bench._record import busy_load
from edgeinfer.bench._schema import SCHEMA_VERSION

__all__ = [
    "ALPHA",
    "MIN_CHANGE",
    "Comparison",
    "compare",
    "load_results",
    "mann_whitney",
]

ALPHA = 0.01
MIN_CHANGE = 0.05
_EXACT_LIMIT = 400  # n1 * n2 up to which the U distribution is counted exactly
_QUICK_WARNING = (
    "--quick runs are too short to compare (0.5 s each: the machine drifts more between two "
    "runs than such slices can show); not judged. Compare runs of --duration 10 or more on an "
    "idle machine"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One run in both files."""

    key: str
    metric: str
    old: float
    new: float
    change: float  # relative, signed: (new - old) / old
    p_value: float | None  # Mann-Whitney on the slices, Holm-adjusted; None: not tested
    verdict: str  # "regression", "improvement", "same" or "not judged"
    note: str = ""  # why not judged, or which slices were tested


@dataclass(slots=True)
class Comparison:
    """Rows, the runs found in one file only, fingerprint differences and warnings."""

    rows: list[Row] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == "regression"]

    def lines(self, old_name: str) -> list[str]:
        """The comparison as text."""
        out = [f"Compared with {old_name}:"]
        out.extend(f"  warning: {w}" for w in self.warnings)
        if self.machine:
            out.append("  different machine or software, deltas may not mean much: ")
            out.extend(f"    {d}" for d in self.machine)
        width = max((len(r.key) for r in self.rows), default=10)
        for r in self.rows:
            unit = "us" if r.metric == "p90_us" else "/s"
            name = "p90" if r.metric == "p90_us" else "throughput"
            if r.verdict == "not judged":
                flag = f"not judged: {r.note}"
            else:
                shown = "p=?" if r.p_value is None else f"p={r.p_value:.2g}"
                flag = {"regression": "REGRESSION", "improvement": "better"}.get(
                    r.verdict, "within noise"
                )
                flag = f"{flag} ({shown})"
            out.append(
                f"  {r.key:<{width}}  {name} {r.old:.1f} -> {r.new:.1f} {unit}  "
                f"{r.change:+.1%}  {flag}"
            )
        for keys, where in ((self.only_old, f"only in {old_name}"), (self.only_new, "new")):
            if keys:
                shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                out.append(f"  {len(keys)} run(s) {where}: {shown}")
        count = len(self.regressions)
        out.append(
            f"  {count} regression(s) that pass the test (Mann-Whitney on the slices, Holm, "
            f"alpha {ALPHA:g}, change >= {MIN_CHANGE:.0%})"
            if count
            else "  no regression beyond noise"
        )
        return out


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``--json`` file; ``ValueError`` when it is not one of this schema version."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(document, dict) or document.get("tool") != "edgeinfer.bench":
        raise ValueError("not an edgeinfer.bench --json file")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"has schema_version {document.get('schema_version')!r}; this edgeinfer "
            f"reads {SCHEMA_VERSION}"
        )
    return document


@lru_cache(maxsize=64)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give each U = 0..m*n (no ties)."""
    # counts[j][u]: orderings of i x-values and j y-values with U = u; built up over i.
    previous = [[1] for _ in range(n + 1)]  # i = 0: U is 0 whatever j
    for i in range(1, m + 1):
        current: list[list[int]] = [[1]]  # j = 0: U is 0
        for j in range(1, n + 1):
            size = i * j + 1
            row = [0] * size
            # the largest value is an x (adds j to U) or a y (adds nothing)
            for u, count in enumerate(previous[j]):
                row[u + j] += count
            for u, count in enumerate(current[j - 1]):
                row[u] += count
            current.append(row)
        previous = current
    return tuple(previous[n])


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    k = 0
    while k < len(order):
        end = k
        while end + 1 < len(order) and values[order[end + 1]] == values[order[k]]:
            end += 1
        for index in order[k : end + 1]:
            ranks[index] = (k + end) / 2 + 1
        k = end + 1
    return ranks


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    """The two-sided p-value of the Mann-Whitney U test of ``a`` against ``b``: exact without
    ties (for len(a) * len(b) <= 400), else the normal approximation with the tie correction."""
    m, n = len(a), len(b)
    if not m or not n:
        return 1.0
    values = [*a, *b]
    ranks = _ranks(values)
    u = sum(ranks[:m]) - m * (m + 1) / 2
    tied = len(set(values)) < len(values)
    if not tied and m * n <= _EXACT_LIMIT:
        counts = _u_counts(m, n)
        total = sum(counts)
        k = round(u)
        low = sum(counts[: k + 1]) / total
        high = sum(counts[k:]) / total
        return min(1.0, 2 * min(low, high))
    ties = sum(t**3 - t for t in (values.count(v) for v in set(values)))
    variance = m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - m * n / 2) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def _holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone)."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _key(run: dict[str, Any]) -> str:
    device = run.get("device") or run["device_requested"]
    parts = (run["model"], run["format"], run["precision"], run["backend"], device)
    return "/".join(parts) + f" [{run['scenario']}]"


def _headline(run: dict[str, Any]) -> tuple[str, float] | None:
    headline = run.get("headline")
    if run.get("status") != "ok" or not headline or not headline.get("value"):
        return None
    return headline["metric"], float(headline["value"])


def _slices(
    old: dict[str, Any], new: dict[str, Any], metric: str
) -> tuple[list[float], list[float], str]:
    """The two runs' slices of the same statistic: p90s (throughputs for Offline), or medians
    for both when one file predates p90 slices (never a p90 against a median)."""
    was, now = old.get("variation") or {}, new.get("variation") or {}
    keys = (
        [("segment_throughput", "slice throughputs")]
        if metric == "throughput"
        else [("segment_p90_us", "slice p90s"), ("segment_p50_us", "slice medians")]
    )
    for key, what in keys:
        if was.get(key) and now.get(key):
            return list(was[key]), list(now[key]), what
    return [], [], "no slices"


def _busy(*pairs: tuple[dict[str, Any], dict[str, Any]]) -> list[str]:
    """Why a run's machine was too busy to judge, for each (document, run) that says so."""
    found = []
    for which, (doc, run) in zip(("old", "new"), pairs, strict=True):
        cores = (doc.get("fingerprint") or {}).get("cores_logical")
        load = busy_load(run, cores)
        if load is not None:
            found.append(f"the {which} run's machine was busy (load {load:.1f} on {cores} cores)")
    return found


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Match the runs of two documents and judge each change with the test above."""
    result = Comparison(machine=differences(old.get("fingerprint", {}), new.get("fingerprint", {})))
    quick = any((doc.get("settings") or {}).get("quick") for doc in (old, new))
    if quick:
        result.warnings.append(_QUICK_WARNING)
    before = {_key(r): r for r in old["runs"] if _headline(r)}
    after = {_key(r): r for r in new["runs"] if _headline(r)}
    result.only_old = [k for k in before if k not in after]
    result.only_new = [k for k in after if k not in before]
    pending: list[tuple[str, str, float, float, float, float | None, str]] = []
    for key, run in after.items():
        if key not in before:
            continue
        new_headline, old_headline = _headline(run), _headline(before[key])
        if new_headline is None or old_headline is None or new_headline[0] != old_headline[0]:
            continue
        (metric, new_value), old_value = new_headline, old_headline[1]
        change = (new_value - old_value) / old_value
        old_slices, new_slices, what = _slices(before[key], run, metric)
        busy = _busy((old, before[key]), (new, run))
        if quick:
            pending.append((key, metric, old_value, new_value, change, None, "--quick runs"))
        elif busy:
            pending.append((key, metric, old_value, new_value, change, None, "; ".join(busy)))
        elif len(old_slices) < 2 or len(new_slices) < 2:
            note = "too few queries for slices (run longer)"
            pending.append((key, metric, old_value, new_value, change, None, note))
        else:
            tested = mann_whitney(old_slices, new_slices)
            pending.append((key, metric, old_value, new_value, change, tested, what))
    adjusted = iter(_holm([item[5] for item in pending if item[5] is not None]))
    for key, metric, old_value, new_value, change, p_value, note in pending:
        if p_value is None:
            result.rows.append(
                Row(key, metric, old_value, new_value, change, None, "not judged", note)
            )
            continue
        q = next(adjusted)
        worse = change > 0 if metric == "p90_us" else change < 0
        verdict = "same"
        if q < ALPHA and abs(change) >= MIN_CHANGE:
            verdict = "regression" if worse else "improvement"
        result.rows.append(Row(key, metric, old_value, new_value, change, q, verdict, note))
    return result
