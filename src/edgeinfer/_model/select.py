"""``load(..., select="fastest")``: open every candidate of the plan, measure each, keep the
fastest whose outputs agree with the reference, and remember the choice.

The reference is the first candidate of the plan that opens (the preference order puts the
model's own precision first: the fp32 file on ONNX Runtime, typically). A candidate is eligible
when its outputs, on the same inputs, differ from the reference's by at most ``max_error``
(relative to the largest reference value) and, for classifier-shaped outputs (``[N, C]``), pick
the same top-1 class: precision never changes silently, and ``explain()`` says why a faster
candidate was passed over. Timing interleaves blocks of calls (about 0.2 s each) of every eligible
candidate until the time budget is spent, so drift hits them all alike, with a pause and an
untimed call at each switch so that one runtime's spinning threads do not slow the next; the
p50 of a candidate's own ``run`` decides (``Model.run``'s overhead is the same for all). The
losers are closed and stay in the chain as fallbacks, opened again if needed. The choice is
stored (see ``selection_cache``); ``refresh=True`` measures again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer._errors import EdgeInferError, InvalidInput
from edgeinfer._kit.contract import Session
from edgeinfer._model.inputs import InputChecker, differ_fix
from edgeinfer._model.model import Model
from edgeinfer._model.opening import Loader, final_error
from edgeinfer._model.selection_cache import candidate_id, read_choice, write_choice
from edgeinfer._model.warmup import Opened, generated_inputs
from edgeinfer._planning.plan import Candidate
from edgeinfer._types import Attempt, _ToDict

__all__ = ["DEFAULT_BUDGET", "DEFAULT_MAX_ERROR", "Selection", "Trial", "fastest"]

_log = logging.getLogger("edgeinfer")
DEFAULT_MAX_ERROR = 1e-2
DEFAULT_BUDGET = 2.0
_MIN_CALLS = 5
_BLOCK_SECONDS = 0.2  # one block of calls of one candidate, between switches
# Between blocks: a runtime's worker threads keep spinning for a while after its last call
# (ONNX Runtime's intra-op pool does), taking CPU from the next candidate (measured here:
# OpenVINO 16.6 ms alone, 27.7 ms right after a spinning ONNX Runtime). A pause lets them
# settle, and the first call of each block, the one that may still meet them, is not kept.
_SETTLE_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Trial(_ToDict):
    """One candidate measured by ``select="fastest"``."""

    backend: str
    device: str
    file: str
    eligible: bool
    p50_us: float | None
    calls: int
    max_error: float | None
    top1_agreement: float | None
    precision: str | None
    reason: str

    def describe(self) -> str:
        figures = []
        if self.p50_us is not None:
            figures.append(f"p50 {self.p50_us / 1000:.3f} ms over {self.calls} calls")
        if self.max_error is not None:
            figures.append(f"max relative error {self.max_error:.1e}")
        if self.top1_agreement is not None:
            figures.append(f"top-1 agreement {self.top1_agreement:.0%}")
        if self.precision:
            figures.append(f"precision {self.precision}")
        shown = f" ({', '.join(figures)})" if figures else ""
        return f"{self.backend} on {self.device} ({Path(self.file).name}){shown}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Selection(_ToDict):
    """How ``select="fastest"`` chose: every trial, the reference, the time it took, and
    whether the choice came from the cache (measured earlier, at ``measured_at``)."""

    chosen: str
    reference: str | None
    trials: tuple[Trial, ...]
    seconds: float
    cached: bool
    measured_at: str | None = None
    max_error: float = DEFAULT_MAX_ERROR

    def lines(self) -> list[str]:
        how = (
            f"the cached choice measured at {self.measured_at} (load(..., refresh=True) "
            "measures again)"
            if self.cached
            else f"measured now in {self.seconds:.2f} s"
        )
        lines = [f"selection (select='fastest', max_error={self.max_error:g}): {how}"]
        if self.reference:
            lines.append(f"  reference for accuracy: {self.reference}")
        lines.extend(f"  - {trial.describe()}" for trial in self.trials)
        return lines


@dataclass(frozen=True, slots=True)
class SelectSettings:
    max_error: float
    budget: float
    refresh: bool
    key: str


def _compare(reference: Mapping[str, Any], got: Mapping[str, Any]) -> tuple[float, float | None]:
    """(max relative error over float outputs, top-1 agreement of [N, C] outputs or None)."""
    pairs = (
        [(reference[name], got[name]) for name in reference]
        if set(reference) == set(got)
        else list(zip(reference.values(), got.values(), strict=False))  # other file: by order
    )
    worst, agree, rows = 0.0, 0, 0
    for want, have in pairs:
        want, have = np.asarray(want), np.asarray(have)
        if want.shape != have.shape:
            return float("inf"), None
        if want.dtype.kind != "f":
            worst = max(worst, 0.0 if np.array_equal(want, have) else float("inf"))
            continue
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        error = float(np.max(np.abs(have.astype(np.float64) - want))) if want.size else 0.0
        worst = max(worst, error / max(scale, 1e-12))
        if want.ndim == 2 and want.shape[1] > 1:
            agree += int(np.sum(np.argmax(want, 1) == np.argmax(have, 1)))
            rows += want.shape[0]
    return worst, (agree / rows if rows else None)


def _inputs(loader: Loader, session: Session) -> tuple[Any, str | None]:
    if loader.warmup_inputs is not None:
        return loader.warmup_inputs, None
    feeds, why = generated_inputs(session.inputs, session.dim_names(), session.metadata())
    return feeds, None if feeds is not None else why


def _time(
    runners: Mapping[int, tuple[Session, dict[str, np.ndarray]]], budget: float
) -> dict[int, list[int]]:
    """Per-call durations (ns) of each runner, in interleaved blocks until ``budget`` s."""
    durations: dict[int, list[int]] = {index: [] for index in runners}
    block = dict.fromkeys(runners, 1)
    deadline = time.perf_counter() + budget
    while True:
        for index, (session, feeds) in runners.items():
            if len(runners) > 1:
                time.sleep(_SETTLE_SECONDS)
                session.run(feeds)  # the call that may meet the previous runtime's threads
            started = time.perf_counter_ns()
            for _ in range(block[index]):
                before = time.perf_counter_ns()
                session.run(feeds)
                durations[index].append(time.perf_counter_ns() - before)
            spent = (time.perf_counter_ns() - started) / 1e9
            block[index] = max(1, min(64, int(block[index] * _BLOCK_SECONDS / max(spent, 1e-6))))
        if time.perf_counter() >= deadline and all(
            len(found) >= _MIN_CALLS for found in durations.values()
        ):
            return durations


def _precision(session: Session) -> str | None:
    return session.details().get("precision")


def _reason_line(attempt: Attempt, trial: Trial) -> Attempt:
    return replace(attempt, reason=f"{attempt.reason}; {trial.describe()}")


def fastest(
    loader: Loader, steps: Sequence[Candidate | Attempt], settings: SelectSettings
) -> Model:
    """The model served by the fastest eligible candidate of ``steps``."""
    started = time.perf_counter()
    candidates = [step for step in steps if isinstance(step, Candidate)]
    if not settings.refresh:
        reused = _from_cache(loader, steps, candidates, settings)
        if reused is not None:
            return reused
    attempts: list[Attempt] = []
    errors: list[EdgeInferError] = []
    opened: list[tuple[Candidate, Opened, int]] = []  # candidate, opened, index in attempts
    for step in steps:
        if isinstance(step, Attempt):
            attempts.append(step)
            continue
        found = loader.try_open(step, attempts, errors)
        if found is not None:
            opened.append((step, found, len(attempts) - 1))
    if not opened:
        raise final_error(attempts, errors)
    inputs, why = _inputs(loader, opened[0][1].session)
    if why is not None:
        note = (
            f"selection: not measured ({why}); the first candidate serves. Give "
            "load(..., warmup_inputs=...) to measure"
        )
        return _serve(loader, steps, opened, 0, attempts, [note], None)
    trials, chosen = _measure(opened, inputs, settings)
    for index, (_candidate, _found, at) in enumerate(opened):
        attempts[at] = _reason_line(attempts[at], trials[index])
    reference = opened[0][0]
    selection = Selection(
        candidate_id(opened[chosen][0]),
        f"{reference.backend} on {reference.device.id} ({reference.file.name})",
        tuple(trials),
        time.perf_counter() - started,
        cached=False,
        max_error=settings.max_error,
    )
    write_choice(
        settings.key, selection.chosen, [trial.to_dict() for trial in trials], selection.reference
    )
    _log.info("select='fastest' chose %s", trials[chosen].describe())
    return _serve(loader, steps, opened, chosen, attempts, [], selection)


def _measure(
    opened: Sequence[tuple[Candidate, Opened, int]], inputs: Any, settings: SelectSettings
) -> tuple[list[Trial], int]:
    reference_out: dict[str, Any] | None = None
    runners: dict[int, tuple[Session, dict[str, np.ndarray]]] = {}
    verdicts: dict[int, tuple[bool, str, float | None, float | None]] = {}
    for index, (_candidate, found, _at) in enumerate(opened):
        session = found.session
        try:
            feeds = InputChecker(session.inputs, session.dim_names())(inputs)
            out = session.run(feeds)
        except InvalidInput as error:
            why = f"not eligible: its inputs differ ({error}){differ_fix(session.inputs)}"
            verdicts[index] = (False, why, None, None)
            continue
        except EdgeInferError as error:
            verdicts[index] = (
                False,
                f"not eligible: it failed on the inputs ({error})",
                None,
                None,
            )
            continue
        if reference_out is None:
            reference_out = out
        measured, top1 = _compare(reference_out, out)
        ok = measured <= settings.max_error and (top1 is None or top1 == 1.0)
        why = "eligible" if ok else (
            f"not eligible: its outputs differ from the reference by {measured:.1e} "
            f"(max_error={settings.max_error:g})"
            + ("" if top1 is None or top1 == 1.0 else f", top-1 agreement {top1:.0%}")
        )  # fmt: skip
        verdicts[index] = (ok, why, measured, top1)
        if ok:
            runners[index] = (session, feeds)
    durations = _time(runners, settings.budget) if runners else {}
    p50 = {index: float(np.percentile(found, 50)) / 1000 for index, found in durations.items()}
    chosen = min(p50, key=p50.__getitem__) if p50 else 0
    trials = []
    for index, (candidate, found, _at) in enumerate(opened):
        ok, why, error_size, top1 = verdicts[index]
        if ok:
            why = "chosen: the fastest eligible" if index == chosen else "eligible, slower"
        trials.append(
            Trial(
                candidate.backend,
                found.session.device,
                str(candidate.file),
                ok,
                p50.get(index),
                len(durations.get(index, ())),
                error_size,
                top1,
                _precision(found.session),
                why,
            )
        )
    return trials, chosen


def _serve(
    loader: Loader,
    steps: Sequence[Candidate | Attempt],
    opened: Sequence[tuple[Candidate, Opened, int]],
    chosen: int,
    attempts: Sequence[Attempt],
    notes: Sequence[str],
    selection: Selection | None,
) -> Model:
    """The model served by ``opened[chosen]``; every other opened candidate is closed and
    stays in the chain, in plan order, to be opened again on need."""
    first, found, _ = opened[chosen]
    for index, (_candidate, other, _at) in enumerate(opened):
        if index != chosen:
            other.session.close()
    rest = [step for step in steps if isinstance(step, Candidate) and step is not first]
    model = loader.model(first, found, rest, attempts, notes)
    model._selection = selection
    return model


def _from_cache(
    loader: Loader,
    steps: Sequence[Candidate | Attempt],
    candidates: Sequence[Candidate],
    settings: SelectSettings,
) -> Model | None:
    entry = read_choice(settings.key)
    if entry is None:
        return None
    chosen = next((c for c in candidates if candidate_id(c) == entry["chosen"]), None)
    if chosen is None:
        return None
    started = time.perf_counter()
    attempts: list[Attempt] = [step for step in steps if isinstance(step, Attempt)]
    found = loader.try_open(chosen, attempts, [])
    if found is None:
        _log.info("the cached choice %s failed to open: measuring again", entry["chosen"])
        return None
    trials = tuple(Trial(**trial) for trial in entry.get("trials", ()))
    selection = Selection(
        entry["chosen"],
        entry.get("reference"),
        trials,
        time.perf_counter() - started,
        cached=True,
        measured_at=entry.get("measured_at"),
        max_error=settings.max_error,
    )
    rest = [c for c in candidates if c is not chosen]
    model = loader.model(chosen, found, rest, attempts)
    model._selection = selection
    return model
