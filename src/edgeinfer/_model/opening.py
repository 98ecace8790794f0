"""Opening candidates: one backend session, warmed up, or a failed ``Attempt`` with its reason;
and the ``Model`` built on the candidate that serves. Shared by ``load()``'s two ways of
choosing a candidate: the first of the plan that opens, or the fastest measured
(``_model/select.py``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)
from edgeinfer._kit.contract import OpenOptions, Session
from edgeinfer._model.chain import Chain, FallbackPolicy, Link
from edgeinfer._model.inputs import InputChecker
from edgeinfer._model.model import Model
from edgeinfer._model.offload import Offloader, OffloadPolicy
from edgeinfer._model.placement import at_load
from edgeinfer._model.stats import LatencyRecorder
from edgeinfer._model.warmup import Opened, WarmupInputs, warm_up
from edgeinfer._planning.plan import Candidate
from edgeinfer._planning.registry import backend_class
from edgeinfer._types import Attempt

__all__ = ["ISOLATED_START_TIMEOUT", "Loader"]

_log = logging.getLogger("edgeinfer")
# With isolate=True: how long a backend process may take to open the model, and each warm-up
# call; past it the process is stopped and the candidate has failed (DeviceError).
ISOLATED_START_TIMEOUT = 120.0


def _session(candidate: Candidate, options: OpenOptions, isolate: bool) -> Session:
    cls = backend_class(candidate.backend)
    # A backend gets sources of the formats it reads: a ModelUrl only for a format with URL
    # schemes (the remote backend), a Path for every other.
    source = cast(Path, candidate.file)
    if not isolate:
        return cls.open(source, candidate.device, options)
    from edgeinfer._isolation.backend import (  # lazy: keeps import edgeinfer cheap
        IsolatedBackend,
        target_of,
    )

    return IsolatedBackend.start(
        candidate.backend,
        target_of(cls),
        source,
        candidate.device,
        options,
        start_timeout=ISOLATED_START_TIMEOUT,
    )


def _open(
    candidate: Candidate,
    options: OpenOptions,
    warmup: int,
    warmup_inputs: WarmupInputs | None,
    isolate: bool = False,
) -> Opened:
    session = _session(candidate, options, isolate)
    try:
        given = None
        if warmup_inputs is not None and warmup > 0:
            given = InputChecker(session.inputs, session.dim_names())(warmup_inputs)
        bound = ISOLATED_START_TIMEOUT if session.bounded_runs else None
        return warm_up(session, warmup, given, session.metadata(), bound)
    except BaseException:
        session.close()
        raise


def _build_model(
    first: Candidate,
    opened: Opened,
    rest: Sequence[Candidate],
    attempts: Sequence[Attempt],
    policy: FallbackPolicy | None,
    opener: Any,
    load_started: float,
    offload: OffloadPolicy | None = None,
) -> Model:
    link = Link(first, opened.session)
    link.golden, link.golden_feeds = opened.golden, opened.golden_feeds
    chain = Chain([link, *(Link(candidate) for candidate in rest)], opener, policy)
    recorder = LatencyRecorder()
    if offload is not None and any(k.remote for k in chain.links) and not link.remote:
        chain.attach_offloader(Offloader(offload, recorder))
    recorder.load_ms = (time.perf_counter() - load_started) * 1e3
    recorder.warmup = opened.warmup_us
    notes = [opened.note] if opened.note else []
    return Model(chain, attempts, notes, recorder)


def final_error(attempts: Sequence[Attempt], errors: Sequence[EdgeInferError]) -> EdgeInferError:
    """The error to raise when no candidate opened: the most specific one that is still true."""
    model_errors = [
        e for e in errors if isinstance(e, ModelError) and not isinstance(e, ModelIncompatible)
    ]
    if errors and len(model_errors) == len(errors):
        final: EdgeInferError = model_errors[
            0
        ]  # the file itself is bad, whichever backend reads it
    elif errors and all(isinstance(e, BackendUnavailable) for e in errors):
        final = errors[0]
    elif not errors and any(a.error == "BackendUnavailable" for a in attempts):
        # Nothing was tried because runtimes are missing: say which one to install.
        missing = [a for a in attempts if a.error == "BackendUnavailable"]
        first = next((a for a in missing if a.hint), missing[0])
        final = BackendUnavailable(first.backend, first.reason, first.hint)
    else:
        final = NoBackendAvailable("no backend could open the model:", attempts)
    final.attempts = tuple(attempts)  # type: ignore[attr-defined]
    if errors and final not in errors:
        final.__cause__ = errors[-1]  # keep the native traceback of the last failure
    return final


@dataclass
class Loader:
    """What ``load()`` was asked, and how it opens candidates and builds the ``Model``."""

    threads: int | None
    precision: str | None
    float_io: bool
    warmup: int
    warmup_inputs: WarmupInputs | None
    isolate: bool
    per_backend: Mapping[str, Mapping[str, Any]]
    policy: FallbackPolicy | None
    started: float = field(default_factory=time.perf_counter)
    offload: OffloadPolicy | None = None

    def options_for(self, candidate: Candidate) -> OpenOptions:
        extra = self.per_backend.get(candidate.backend, {})
        return OpenOptions(self.threads, self.precision, self.float_io, extra)

    def open(self, candidate: Candidate) -> Opened:
        """Open and warm up ``candidate``; raises what it raised."""
        return _open(
            candidate,
            self.options_for(candidate),
            self.warmup,
            self.warmup_inputs,
            self.isolate,
        )

    def try_open(
        self, candidate: Candidate, attempts: list[Attempt], errors: list[EdgeInferError]
    ) -> Opened | None:
        """``open``, recording the attempt; ``None`` when it failed (and fallback is on)."""
        started = time.perf_counter()
        try:
            opened = self.open(candidate)
        except (ConfigurationError, InvalidInput, FileNotFoundError):
            raise
        except Exception as error:
            if not isinstance(error, EdgeInferError):  # a backend bug: still a failed candidate
                wrapped = InferenceError(f"{type(error).__name__}: {error}")
                wrapped.__cause__ = error
                error = wrapped
            attempts.append(candidate.failed(error, time.perf_counter() - started))
            errors.append(error)
            _log.info("%s", attempts[-1].describe())
            if self.policy is None:
                error.attempts = tuple(attempts)  # type: ignore[attr-defined]
                raise error
            return None
        seconds = time.perf_counter() - started
        attempts.append(
            candidate.attempt(True, f"opened in {seconds * 1e3:.1f} ms", seconds=seconds)
        )
        return opened

    def opener(
        self, later: Candidate
    ) -> tuple[Session, dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]:
        """Opens a later candidate of the chain when it is first needed."""
        found = self.open(later)
        return found.session, found.golden, found.golden_feeds

    def model(
        self,
        first: Candidate,
        opened: Opened,
        rest: Sequence[Candidate],
        attempts: Sequence[Attempt],
        notes: Sequence[str] = (),
    ) -> Model:
        model = _build_model(first, opened, rest, attempts, self.policy, self.opener,
                             self.started, self.offload)  # fmt: skip
        model._notes.extend(notes)
        found = at_load(first.backend, opened.session, first.file.name)  # accelerators only
        if found is not None:
            model._notes.append(f"placement: {found.summary()}")
        return model

    def first_that_opens(self, steps: Sequence[Candidate | Attempt]) -> Model:
        """The first candidate of the plan that opens serves; the rest stand behind it."""
        attempts: list[Attempt] = []
        errors: list[EdgeInferError] = []
        for position, candidate in enumerate(steps):
            if isinstance(candidate, Attempt):
                attempts.append(candidate)
                _log.info("%s", candidate.describe())
                continue
            opened = self.try_open(candidate, attempts, errors)
            if opened is None:
                continue
            if errors:
                _log.warning(
                    "%s on %s serves %s after %d candidate(s) failed to open; see Model.explain()",
                    candidate.backend,
                    candidate.device.id,
                    candidate.file.name,
                    len(errors),
                )
            rest = [step for step in steps[position + 1 :] if isinstance(step, Candidate)]
            return self.model(candidate, opened, rest, attempts)
        raise final_error(attempts, errors)
