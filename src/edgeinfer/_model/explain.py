"""``Model.explain()``: the plan, what serves, why the others did not, and every switch since."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeinfer._model.model import Model

__all__ = ["explain"]


def explain(model: Model) -> str:
    chain = model._chain
    active = chain.active
    lines = [f"Model {active.candidate.file.name}"]
    state = " (closed)" if model._closed else ""
    lines.append(
        f"  runs on: {active.name} on {active.device}, file {active.candidate.file}{state}"
    )
    if active.backend is not None:
        lines.extend(f"    {key}: {value}" for key, value in active.backend.details().items())
    lines.append("  inputs:  " + ", ".join(str(spec) for spec in active.inputs))
    lines.append("  outputs: " + ", ".join(str(spec) for spec in active.outputs))
    opened = chain.links[0]
    at_load = "" if active is opened else f" (at load, for {opened.name} on {opened.device})"
    lines.extend(f"  note{at_load}: {note}" for note in model._notes)
    failed = [attempt for attempt in model.attempts if not attempt.ok]
    if failed:
        lines.append("  not chosen at load, in plan order:")
        lines.extend(f"    - {attempt.describe()}" for attempt in failed)
    else:
        first = "it" if active is opened else f"{opened.name} on {opened.device}"
        lines.append(f"  {first} was the first candidate of the plan.")
    lines.extend(_chain_lines(model))
    if model._recorder.count:
        lines.append(f"  latency: {model.stats().summary()}")
    return "\n".join(lines)


def _chain_lines(model: Model) -> list[str]:
    chain = model._chain
    lines: list[str] = []
    if chain.policy is None:
        lines.append("  run-time fallback: off (fallback=False): a failure is raised")
    rest = [link for link in chain.links if link is not chain.active]
    if rest and chain.policy is not None:
        lines.append("  fallback chain at run time, in order:")
        now = time.monotonic()
        for link in chain.links:
            if link is chain.active:
                status = "serving"
            elif link.unusable:
                status = f"cannot open: {link.unusable}"
            elif link.demoted_until > now:
                status = (
                    f"demoted after {link.failures} failures; probed again in "
                    f"{link.demoted_until - now:.0f} s"
                )
            elif link.backend is None:
                status = "not opened yet (opened if needed)"
            else:
                status = "open, standing by"
            inputs = ""
            if link.backend is not None and link.inputs != chain.active.inputs:
                inputs = "; its inputs differ: it serves only when float_io makes them agree"
            lines.append(
                f"    - {link.name} on {link.device} ({link.candidate.file.name}): {status}{inputs}"
            )
    if chain.history:
        lines.append("  run-time events:")
        lines.extend(f"    - {event.describe()}" for event in chain.history)
    return lines
