"""``--compare OLD.json``: each run's headline against the same run in an older file.

Runs match on model, format, precision, backend, device and scenario. The headline is p90
latency (SingleStream, lower is better) or throughput (Offline, higher is better). A change is
flagged only beyond the measured noise: ``max(MIN_NOISE, NOISE_FACTOR x the larger CV of the two
runs)``; worse by more than that is a regression, better by more is an improvement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.bench._fingerprint import differences
from edgeinfer.bench._schema import SCHEMA_VERSION

__all__ = ["MIN_NOISE", "NOISE_FACTOR", "Comparison", "compare", "load_results"]

MIN_NOISE = 0.05
NOISE_FACTOR = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    """One run in both files."""

    key: str
    metric: str
    old: float
    new: float
    change: float  # relative, signed: (new - old) / old
    noise: float  # the threshold used, relative
    verdict: str  # "regression", "improvement" or "same"


@dataclass(slots=True)
class Comparison:
    """Rows, the runs found in one file only, and fingerprint differences."""

    rows: list[Row] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == "regression"]

    def lines(self, old_name: str) -> list[str]:
        """The comparison as text."""
        out = [f"Compared with {old_name}:"]
        if self.machine:
            out.append("  different machine or software, deltas may not mean much: ")
            out.extend(f"    {d}" for d in self.machine)
        width = max((len(r.key) for r in self.rows), default=10)
        for r in self.rows:
            unit = "us" if r.metric == "p90_us" else "/s"
            name = "p90" if r.metric == "p90_us" else "throughput"
            flag = {"regression": "REGRESSION", "improvement": "better"}.get(r.verdict, "")
            out.append(
                f"  {r.key:<{width}}  {name} {r.old:.1f} -> {r.new:.1f} {unit}  "
                f"{r.change:+.1%} (noise {r.noise:.0%})  {flag}".rstrip()
            )
        for keys, where in ((self.only_old, f"only in {old_name}"), (self.only_new, "new")):
            if keys:
                shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                out.append(f"  {len(keys)} run(s) {where}: {shown}")
        verdict = len(self.regressions)
        out.append(
            f"  {verdict} regression(s) beyond noise" if verdict else "  no regression beyond noise"
        )
        return out


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``--json`` file; ``ValueError`` when it is not one of this schema version."""
    document = json.loads(Path(path).read_text())
    if not isinstance(document, dict) or document.get("tool") != "edgeinfer.bench":
        raise ValueError(f"{path} is not an edgeinfer.bench JSON file")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has schema_version {document.get('schema_version')!r}; this edgeinfer "
            f"reads {SCHEMA_VERSION}"
        )
    return document


def _key(run: dict[str, Any]) -> str:
    device = run.get("device") or run["device_requested"]
    parts = (run["model"], run["format"], run["precision"], run["backend"], device)
    return "/".join(parts) + f" [{run['scenario']}]"


def _headline(run: dict[str, Any]) -> tuple[str, float] | None:
    headline = run.get("headline")
    if run.get("status") != "ok" or not headline or not headline.get("value"):
        return None
    return headline["metric"], float(headline["value"])


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Match the runs of two documents and judge each change against the noise."""
    result = Comparison(machine=differences(old["fingerprint"], new["fingerprint"]))
    before = {_key(r): r for r in old["runs"] if _headline(r)}
    after = {_key(r): r for r in new["runs"] if _headline(r)}
    result.only_old = [k for k in before if k not in after]
    result.only_new = [k for k in after if k not in before]
    for key, run in after.items():
        if key not in before:
            continue
        old_run = before[key]
        new_headline, old_headline = _headline(run), _headline(old_run)
        if new_headline is None or old_headline is None or new_headline[0] != old_headline[0]:
            continue
        (metric, new_value), old_value = new_headline, old_headline[1]
        cvs = [(r.get("variation") or {}).get("cv") or 0.0 for r in (run, old_run)]
        noise = max(MIN_NOISE, NOISE_FACTOR * max(cvs))
        change = (new_value - old_value) / old_value
        worse = change > noise if metric == "p90_us" else change < -noise
        better = change < -noise if metric == "p90_us" else change > noise
        verdict = "regression" if worse else "improvement" if better else "same"
        result.rows.append(Row(key, metric, old_value, new_value, change, noise, verdict))
    return result
