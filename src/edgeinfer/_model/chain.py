"""Run-time fallback: the chain of candidates behind one ``Model``, and its circuit breakers.

The first candidate that opened serves. When it raises ``DeviceError`` or ``InferenceError`` on
valid input, the same inputs go once to each next candidate in plan order (opened on first need)
until one answers; every switch is logged on the ``edgeinfer`` logger and recorded as a
``FallbackEvent``. A candidate that fails ``threshold`` calls in a row is demoted: calls skip it
for ``cooldown`` seconds, then the next call probes it again and, when it answers, it serves again.

A failure counts against a candidate only when the fault is its own: a ``DeviceError``, or a
failure on an input that another candidate then ran. When every candidate fails on a call and
none of them with a ``DeviceError``, the input is to blame (a detector's size that its strides
cannot take, an empty audio chunk): the call raises ``InvalidInput`` and nobody is demoted.
``InvalidInput`` never falls back. A candidate whose inputs differ from the caller's (an int8
model after a float one) is skipped with the reason, unless ``float_io`` makes them agree.

A candidate on the ``remote`` device sends the inputs to a server: every event that moves a call
there says so. With an offload policy (``offload.py``) the chain also moves to its remote
candidate while the local side works but is too slow or too hot (``offloaded``), and back
(``returned``); ``due()`` checks it, off the hot path.

History is bounded (the most recent ``HISTORY_LIMIT`` events) and ``counts`` keeps a running
total per kind of event that never resets silently. Once the chain is closed no candidate is
opened again, and a call that raced ``close()`` gets the "model is closed" error.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import DeviceError, EdgeInferError, InferenceError, InvalidInput
from edgeinfer._kit.contract import Session
from edgeinfer._model.inputs import InputChecker, differ_fix
from edgeinfer._planning.plan import REMOTE, Candidate
from edgeinfer._types import TensorSpec, _ToDict

if TYPE_CHECKING:
    from edgeinfer._model.offload import Offloader

__all__ = [
    "HISTORY_LIMIT",
    "RUNTIME_FAILURES",
    "CandidateState",
    "Chain",
    "FallbackEvent",
    "FallbackPolicy",
    "Link",
    "closed_error",
]

_log = logging.getLogger("edgeinfer")
RUNTIME_FAILURES = (DeviceError, InferenceError)
HISTORY_LIMIT = 256
CLOSED = "the model is closed; load it again"


def closed_error() -> InferenceError:
    """The error of a call on a closed model."""
    return InferenceError(CLOSED)


@dataclass(frozen=True, slots=True)
class FallbackPolicy:
    """How a ``Model`` falls back at run time: ``threshold`` failures in a row demote a candidate
    for ``cooldown`` seconds; ``eager`` opens the next candidate at load instead of on need."""

    threshold: int = 3
    cooldown: float = 30.0
    eager: bool = False


@dataclass(frozen=True, slots=True)
class FallbackEvent(_ToDict):
    """One change in who serves: ``kind`` is ``fallback`` (a call moved on), ``demoted``,
    ``recovered`` (a demoted candidate served again), ``open-failed``, ``skipped``,
    ``input-refused`` (every candidate failed on one call's input; nobody was demoted),
    ``offloaded`` (an offload policy moved the calls to the remote candidate) or ``returned``
    (back from it). ``to_device == "remote"``: from then on inputs are sent to a server."""

    time: float
    kind: str
    from_backend: str
    from_device: str
    to_backend: str | None
    to_device: str | None
    error: str | None

    def describe(self) -> str:
        target = f" -> {self.to_backend} on {self.to_device}" if self.to_backend else ""
        cause = f": {self.error}" if self.error else ""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        sent = "; inputs go to the server from now on" if self.to_device == REMOTE else ""
        return (
            f"{stamp} {self.kind}: {self.from_backend} on {self.from_device}{target}{cause}{sent}"
        )


@dataclass(frozen=True, slots=True)
class CandidateState(_ToDict):
    """One candidate of a model's chain, as ``Model.candidates`` shows it.

    ``state``: ``serving``, ``standing by`` (open), ``not opened`` (opened if needed),
    ``demoted`` (skipped for ``demoted_for`` more seconds), ``cannot open`` (``reason`` says
    why) or ``closed``. ``inputs_differ``: its inputs are not the serving candidate's, so it only
    serves when ``float_io`` makes them agree. ``golden``: it holds a golden output.
    """

    backend: str
    device: str
    file: str
    state: str
    reason: str | None
    failures: int
    demoted_for: float | None
    inputs_differ: bool
    golden: bool


class Link:
    """One candidate of the chain: opened or not yet, and its breaker state."""

    __slots__ = (
        "backend",
        "candidate",
        "check",
        "demoted_until",
        "failures",
        "golden",
        "golden_feeds",
        "inputs",
        "outputs",
        "unusable",
    )

    def __init__(self, candidate: Candidate, backend: Session | None = None) -> None:
        self.candidate = candidate
        self.backend: Session | None = None
        self.check: InputChecker | None = None
        self.inputs: tuple[TensorSpec, ...] = ()
        self.outputs: tuple[TensorSpec, ...] = ()
        if backend is not None:
            self.attach(backend)
        self.failures = 0
        self.demoted_until = 0.0
        self.unusable: str | None = None  # why it can never serve (failed to open)
        self.golden: dict[str, np.ndarray] | None = None
        self.golden_feeds: dict[str, np.ndarray] | None = None

    def attach(self, backend: Session) -> None:
        """Serve through ``backend``: keep its specs (they outlive ``close``) and its checker."""
        self.backend = backend
        self.inputs, self.outputs = backend.inputs, backend.outputs
        self.check = InputChecker(backend.inputs, backend.dim_names())

    @property
    def name(self) -> str:
        return self.candidate.backend

    @property
    def device(self) -> str:
        return self.backend.device if self.backend is not None else self.candidate.device.id

    @property
    def remote(self) -> bool:
        """Its calls go to a server (a model named by URL)."""
        return self.candidate.device.kind == REMOTE


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


Opener = Callable[
    [Candidate], tuple[Session, dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]
]


class Chain:
    """The candidates of one model in plan order, and which one serves now."""

    def __init__(
        self, links: Sequence[Link], opener: Opener | None, policy: FallbackPolicy | None
    ) -> None:
        self.links = list(links)
        self.opener = opener
        self.policy = policy  # None: fallback=False
        self.history: collections.deque[FallbackEvent] = collections.deque(maxlen=HISTORY_LIMIT)
        self.counts: collections.Counter[str] = collections.Counter()
        self.active = self.links[0]
        self.probe_due: float | None = None  # when due() must run: a probe, an offload check
        self.closed = False
        self.offloader: Offloader | None = None  # load(offload=...)
        self.offloaded = False
        self._lock = threading.RLock()
        if policy is not None and policy.eager and len(self.links) > 1:
            self._open(self.links[1])

    # --- state ------------------------------------------------------------------------------
    def _event(self, kind: str, source: Link, target: Link | None, error: str | None) -> None:
        event = FallbackEvent(
            time.time(),
            kind,
            source.name,
            source.device,
            None if target is None else target.name,
            None if target is None else target.device,
            error,
        )
        self.history.append(event)
        self.counts[kind] += 1
        # A refused input is the caller's to fix, and the call raised: no warning on top.
        quiet = ("recovered", "skipped", "input-refused", "returned")
        level = logging.INFO if kind in quiet else logging.WARNING
        _log.log(level, "%s", event.describe())

    def states(self) -> tuple[CandidateState, ...]:
        """Every candidate's state, in plan order."""
        now = time.monotonic()
        states = []
        for link in self.links:
            reason: str | None = None
            demoted_for: float | None = None
            if self.closed:
                state = "closed"
            elif link is self.active and link.backend is not None:
                state = "serving"
            elif link.unusable:
                state, reason = "cannot open", link.unusable
            elif link.demoted_until > now:
                state, demoted_for = "demoted", link.demoted_until - now
            elif link.backend is None:
                state = "not opened"
            else:
                state = "standing by"
            differ = link.backend is not None and link.inputs != self.active.inputs
            states.append(
                CandidateState(
                    link.name,
                    link.device,
                    str(link.candidate.file),
                    state,
                    reason,
                    link.failures,
                    demoted_for,
                    differ,
                    link.golden is not None,
                )
            )
        return tuple(states)

    def reselect(self) -> Link:
        """The first usable, not demoted candidate serves (a remote one first while offloaded);
        note when a better one may be probed."""
        with self._lock:
            if self.closed:
                raise closed_error()
            now = time.monotonic()
            order = self.links
            if self.offloaded:
                order = [k for k in self.links if k.remote] + [
                    k for k in self.links if not k.remote
                ]
            for link in order:
                if link.unusable or link.demoted_until > now:
                    continue
                if link.backend is None and not self._open(link):  # e.g. a crashed process
                    continue
                self.active = link
                break
            better = [
                k.demoted_until
                for k in self.links[: self.links.index(self.active)]
                if not k.unusable and k.demoted_until > now
            ]
            if self.offloader is not None:
                better.append(self.offloader.next_check)
            self.probe_due = min(better) if better else None
            return self.active

    # --- offloading (load(offload=...)) ------------------------------------------------------
    def due(self) -> None:
        """A demoted candidate may be probed, or the offload policy checked: Model.run calls
        this when ``probe_due`` has passed."""
        with self._lock:
            if self.offloader is not None and not self.closed:
                self.offloader.check(self)
            self.reselect()

    def attach_offloader(self, offloader: Offloader) -> None:
        with self._lock:
            self.offloader = offloader
            self.reselect()  # sets probe_due to its first check

    def active_is_remote(self) -> bool:
        return self.active.remote

    def start_offload(self, reason: str) -> bool:
        """Serve from the first usable remote candidate; False when none can serve."""
        with self._lock:
            source = self.active
            self.offloaded = True
            target = self.reselect()
            if not target.remote:
                self.offloaded = False
                return False
            self._event("offloaded", source, target, reason)
            return True

    def end_offload(self, reason: str) -> None:
        """Serve from the plan's first usable candidate again."""
        with self._lock:
            source = self.active
            self.offloaded = False
            target = self.reselect()
            if target is not source:
                self._event("returned", source, target, reason)

    def _open(self, link: Link) -> bool:
        if link.backend is not None:
            return True
        if link.unusable or self.opener is None or self.closed:
            return False
        try:
            backend, link.golden, link.golden_feeds = self.opener(link.candidate)
        except EdgeInferError as error:
            link.unusable = _text(error)
            self._event("open-failed", link, None, link.unusable)
            return False
        if self._closed_meanwhile():  # close() ran while it opened: it must not outlive the model
            backend.close()
            return False
        link.attach(backend)
        return True

    # --- the slow path of Model.run ---------------------------------------------------------
    def recover(self, inputs: Any, failed: Link, error: EdgeInferError) -> dict[str, np.ndarray]:
        """``failed`` raised ``error`` on ``inputs``: try the next candidates; demote only the
        candidates whose fault it was; blame the input when every candidate fails."""
        if self.closed:
            raise closed_error() from error
        if self.policy is None:
            raise error
        with self._lock:
            failures: list[tuple[Link, EdgeInferError]] = [(failed, error)]
            rest = self.links[self.links.index(failed) + 1 :]
            if self.offloaded and failed.remote:  # the server failed: back to the local side
                self.offloaded = False
                rest = [link for link in self.links if link is not failed]
            for link in rest:
                if self.closed:
                    raise closed_error() from error
                if link.demoted_until > time.monotonic() or not self._open(link):
                    continue
                result = self._try(link, inputs, failed, failures)
                if result is not None:
                    for loser, why in failures:
                        self._count_failure(loser, why)
                    self._event("fallback", failed, link, _text(error))
                    self.reselect()
                    return result
            return self._all_failed(failures)

    def _try(
        self,
        link: Link,
        inputs: Any,
        failed: Link,
        failures: list[tuple[Link, EdgeInferError]],
    ) -> dict[str, np.ndarray] | None:
        assert link.backend is not None
        assert link.check is not None
        try:
            feeds = link.check(inputs)
        except InvalidInput as mismatch:
            self._event("skipped", failed, link,
                        f"its inputs differ ({mismatch}){differ_fix(link.inputs)}")  # fmt: skip
            return None
        try:
            return link.backend.run(feeds)
        except RUNTIME_FAILURES as again:
            failures.append((link, again))
        except InvalidInput as refused:  # this runtime says the input is wrong
            failures.append((link, refused))
        except Exception as bug:  # a plugin's own exception: its fault
            failures.append((link, _wrapped(bug)))
        return None

    def _all_failed(self, failures: list[tuple[Link, EdgeInferError]]) -> dict[str, np.ndarray]:
        device_faults = [(link, why) for link, why in failures if isinstance(why, DeviceError)]
        for link, why in device_faults:  # the accelerator failed, whatever the input
            self._count_failure(link, why)
        first_link, first = failures[0]
        if device_faults:  # a device failed: not the input's fault, whatever the others said
            raise first
        tried = "; ".join(f"{link.name} on {link.device}: {_text(why)}" for link, why in failures)
        others = f" (and {len(failures) - 1} more candidate(s))" if len(failures) > 1 else ""
        self._event("input-refused", first_link, None, _text(first) + others)
        refused = InvalidInput(
            f"the model cannot run this input on any candidate ({tried}). The input matches the "
            "model's declared specs, but the model cannot take it: check its sizes and values "
            "(e.g. an image size the model's strides divide, a non-empty sequence)"
        )
        raise refused from first

    def _count_failure(self, link: Link, error: BaseException) -> None:
        assert self.policy is not None
        link.failures += 1
        why = f"{link.failures} failures in a row, last {_text(error)}"
        if link.backend is not None and not link.backend.alive:  # its process died
            link.backend.close()
            link.backend = None  # reopened (a new process) when it is probed again
            link.failures = max(link.failures, self.policy.threshold)
            why = f"its backend process died ({_text(error)})"
        if link.failures >= self.policy.threshold and link.demoted_until <= time.monotonic():
            link.demoted_until = time.monotonic() + self.policy.cooldown
            self._event("demoted", link, None, f"{why}; probed again in {self.policy.cooldown:g} s")
            self.reselect()

    def succeeded(self, link: Link) -> None:
        """``link`` answered: reset its breaker, and record a recovery when it was demoted."""
        with self._lock:
            was_demoted = link.demoted_until > 0.0
            link.failures = 0
            link.demoted_until = 0.0
            if was_demoted and not self.closed:
                self._event("recovered", link, link, None)
                self.reselect()

    def _closed_meanwhile(self) -> bool:
        return self.closed

    def close(self) -> None:
        """Close every candidate; from now on nothing opens and every call is refused."""
        with self._lock:
            self.closed = True
            if self.offloader is not None:
                self.offloader.close()
            for link in self.links:
                backend, link.backend = link.backend, None
                if backend is not None:
                    backend.close()


def _wrapped(bug: Exception) -> InferenceError:
    error = InferenceError(f"{type(bug).__name__}: {bug}")
    error.__cause__ = bug
    return error
