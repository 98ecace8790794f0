"""``Model.placement()``, and the warning ``load()`` gives when an accelerator runs only part of
the model, before it hurts.

The report comes from the serving session (``Session.placement``, where ``placement_report`` is
set). ``Model.placement()`` hands it inputs to time the model with where the runtime must run it
(ONNX Runtime's profiler, OpenVINO's performance counters): the caller's, else the warm-up's, else
generated float inputs where that is safe. At load, for a candidate on an accelerator only, the
session is asked without inputs (its static answer: no run, no second session on the
accelerator); a CPU load computes nothing. The load warns once when less than ``WARN_BELOW`` of
the operations run on the accelerator, or, for the Edge TPU, when any operation is left out
(the Edge TPU compiler maps what it supports and leaves the rest to the CPU, often at several
times the latency).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer._errors import EdgeInferError
from edgeinfer._kit.placement import Placement

if TYPE_CHECKING:
    from edgeinfer._kit.contract import Session
    from edgeinfer._model.chain import Link
    from edgeinfer._model.model import InputsLike

__all__ = ["WARN_BELOW", "at_load", "placement", "warns"]

_log = logging.getLogger("edgeinfer")

#: ``load()`` warns when less than this fraction of the operations runs on the accelerator.
WARN_BELOW = 0.9
#: Device kinds where a single operation left out warns (the Edge TPU: each one is a round trip).
STRICT_KINDS = ("edgetpu",)


def _kind(device: str) -> str:
    return device.split(":")[0]


def warns(found: Placement) -> bool:
    """Whether ``found`` is worth a warning at load: an accelerator was asked for and too little
    of the model runs on it (any operation left out, for the Edge TPU)."""
    if found.accelerator is None or not found.off_accelerator():
        return False
    if _kind(found.accelerator) in STRICT_KINDS:
        return True
    return found.on_accelerator is not None and found.on_accelerator < WARN_BELOW


def at_load(name: str, session: Session, file: str) -> Placement | None:
    """The static placement of a session opened on an accelerator (``None`` on the CPU, or when
    the backend offers no report), with one warning when too little of it runs there."""
    if not session.placement_report or _kind(session.device) == "cpu":
        return None
    try:
        found = dataclasses.replace(session.placement(None), backend=name)
    except EdgeInferError as error:
        _log.debug("%s: no placement report at load: %s", name, error)
        return None
    except Exception as error:  # a report is never worth failing a load that worked
        _log.debug("%s: placement report failed: %s: %s", name, type(error).__name__, error)
        return None
    if warns(found):
        _log.warning("%s: %s. See Model.placement()", file, found.summary())
    return found


def _feeds(
    link: Link, inputs: InputsLike | None
) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """Checked inputs to time the model with, or ``None`` and why there are none."""
    from edgeinfer._model.profile import default_inputs

    check = link.check
    assert check is not None
    if inputs is None:
        try:
            inputs = default_inputs(link)
        except EdgeInferError as error:
            return None, str(error)
    return check(inputs), None


def placement(link: Link, inputs: InputsLike | None) -> Placement:
    """The serving candidate's placement, timed on ``inputs`` where the runtime can time it."""
    session, name = link.backend, link.name
    if session is None or link.check is None:
        return Placement.unknown(name, link.device, f"{name} is not open")
    if not session.placement_report:
        reason = (
            f"{name} runs in its own process (isolate=True): its runtime is not reached from "
            "here; load without isolate to see the placement"
            if session.bounded_runs
            else f"{name} offers no placement report"
        )
        return Placement.unknown(name, session.device, reason)
    feeds, why = _feeds(link, inputs)
    found = dataclasses.replace(session.placement(feeds), backend=name)
    if why is not None:
        found = dataclasses.replace(found, notes=(*found.notes, f"no inputs to run it on: {why}"))
    return found
