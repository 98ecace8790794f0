"""``Model.explain()``: the plan, what serves, why the others did not, and every switch since.

Written on the model's public read API only (``candidates``, ``notes``, ``details``,
``attempts``, ``history``, ``event_counts``, ``selection``, ``stats()``), so anyone can build
another view.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeinfer._model.chain import CandidateState
    from edgeinfer._model.model import Model

__all__ = ["explain"]


def explain(model: Model) -> str:
    states = model.candidates
    serving = next((state for state in states if state.state == "serving"), None)
    opened = states[0]  # the candidate that opened at load comes first
    lines = [f"Model {Path(model.path).name}"]
    state = " (closed)" if model.closed else ""
    lines.append(f"  runs on: {model.backend} on {model.device}, file {model.path}{state}")
    lines.extend(f"    {key}: {value}" for key, value in model.details.items())
    lines.append("  inputs:  " + ", ".join(str(spec) for spec in model.inputs))
    lines.append("  outputs: " + ", ".join(str(spec) for spec in model.outputs))
    moved = serving is not None and serving is not opened
    at_load = f" (at load, for {opened.backend} on {opened.device})" if moved else ""
    lines.extend(f"  note{at_load}: {note}" for note in model.notes)
    if model.selection is not None:
        lines.extend(f"  {line}" for line in model.selection.lines())
    failed = [attempt for attempt in model.attempts if not attempt.ok]
    if failed:
        lines.append("  not chosen at load, in plan order:")
        lines.extend(f"    - {attempt.describe()}" for attempt in failed)
    else:
        first = f"{opened.backend} on {opened.device}" if moved else "it"
        lines.append(f"  {first} was the first candidate of the plan.")
    lines.extend(_chain_lines(model, states))
    lines.extend(_privacy_lines(model, states))
    stats = model.stats()
    if stats.count:
        lines.append(f"  latency: {stats.summary()}")
    return "\n".join(lines)


def _privacy_lines(model: Model, states: tuple[CandidateState, ...]) -> list[str]:
    """Where inputs go when a remote candidate (a model named by URL) serves."""
    lines = []
    for state in states:
        if state.device != "remote":
            continue
        when = "every call now" if state.state == "serving" else "the calls it serves"
        if state.state not in ("serving", "closed"):
            when += " (as a fallback" + (
                ", or by the offload policy)" if model.offload_policy else ")"
            )
        lines.append(f"  privacy: {when}: inputs are sent to {state.file}")
    if model.offload_policy is not None:
        lines.append(f"  offload policy: {model.offload_policy.describe()}")
    return lines


def _status(state: CandidateState) -> str:
    if state.state == "cannot open":
        return f"cannot open: {state.reason}"
    if state.state == "demoted":
        return (
            f"demoted after {state.failures} failures; probed again in "
            f"{state.demoted_for or 0:.0f} s"
        )
    if state.state == "not opened":
        return "not opened yet (opened if needed)"
    if state.state == "standing by":
        return "open, standing by"
    return state.state


def _chain_lines(model: Model, states: tuple[CandidateState, ...]) -> list[str]:
    lines: list[str] = []
    if not model.fallback_enabled:
        lines.append("  run-time fallback: off (fallback=False): a failure is raised")
    elif len(states) > 1:
        lines.append("  fallback chain at run time, in order:")
        for state in states:
            differ = (
                "; its inputs differ: it serves only when float_io makes them agree"
                if state.inputs_differ
                else ""
            )
            lines.append(
                f"    - {state.backend} on {state.device} ({Path(state.file).name}): "
                f"{_status(state)}{differ}"
            )
    history = model.history
    if history:
        counts = model.event_counts
        total = sum(counts.values())
        shown = f" (the last {len(history)} of {total})" if total > len(history) else ""
        lines.append(f"  run-time events{shown}:")
        lines.extend(f"    - {event.describe()}" for event in history)
    return lines
