"""Run-time fallback: the chain of candidates behind one ``Model``, and its circuit breakers.

The first candidate that opened serves. When it raises ``DeviceError`` or ``InferenceError`` on
valid input, the same inputs go once to each next candidate in plan order (opened on first need)
until one answers; every switch is logged on the ``edgeinfer`` logger and recorded as a
``FallbackEvent``. A candidate that fails ``threshold`` calls in a row is demoted: calls skip it
for ``cooldown`` seconds, then the next call probes it again and, when it answers, it serves again.
``InvalidInput`` never falls back. A candidate whose inputs differ from the caller's (an int8
model after a float one) is skipped with the reason, unless ``float_io`` makes them agree.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer._errors import DeviceError, EdgeInferError, InferenceError, InvalidInput
from edgeinfer._kit.contract import Backend
from edgeinfer._model.inputs import InputChecker
from edgeinfer._planning.plan import Candidate
from edgeinfer._types import TensorSpec, _ToDict

__all__ = ["Chain", "FallbackEvent", "FallbackPolicy", "Link"]

_log = logging.getLogger("edgeinfer")
RUNTIME_FAILURES = (DeviceError, InferenceError)


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
    ``recovered`` (a demoted candidate served again), ``open-failed`` or ``skipped``."""

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
        return f"{stamp} {self.kind}: {self.from_backend} on {self.from_device}{target}{cause}"


class Link:
    """One candidate of the chain: opened or not yet, and its breaker state."""

    __slots__ = (
        "backend",
        "candidate",
        "check",
        "demoted_until",
        "failures",
        "golden",
        "inputs",
        "outputs",
        "unusable",
    )

    def __init__(self, candidate: Candidate, backend: Backend | None = None) -> None:
        self.candidate = candidate
        self.backend: Backend | None = None
        self.check: InputChecker | None = None
        self.inputs: tuple[TensorSpec, ...] = ()
        self.outputs: tuple[TensorSpec, ...] = ()
        if backend is not None:
            self.attach(backend)
        self.failures = 0
        self.demoted_until = 0.0
        self.unusable: str | None = None  # why it can never serve (failed to open)
        self.golden: dict[str, np.ndarray] | None = None

    def attach(self, backend: Backend) -> None:
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


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Chain:
    """The candidates of one model in plan order, and which one serves now."""

    def __init__(
        self,
        links: Sequence[Link],
        opener: Callable[[Candidate], tuple[Backend, dict[str, np.ndarray] | None]] | None,
        policy: FallbackPolicy | None,
    ) -> None:
        self.links = list(links)
        self.opener = opener
        self.policy = policy  # None: fallback=False
        self.history: list[FallbackEvent] = []
        self.active = self.links[0]
        self.probe_due: float | None = None  # when a demoted, better candidate may be probed
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
        level = logging.INFO if kind in ("recovered", "skipped") else logging.WARNING
        _log.log(level, "%s", event.describe())

    def reselect(self) -> Link:
        """The first usable, not demoted candidate serves; note when a better one may be probed."""
        with self._lock:
            now = time.monotonic()
            for link in self.links:
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
            self.probe_due = min(better) if better else None
            return self.active

    def _open(self, link: Link) -> bool:
        if link.backend is not None:
            return True
        if link.unusable or self.opener is None:
            return False
        try:
            backend, link.golden = self.opener(link.candidate)
            link.attach(backend)
        except EdgeInferError as error:
            link.unusable = _text(error)
            self._event("open-failed", link, None, link.unusable)
            return False
        return True

    # --- the slow path of Model.run ---------------------------------------------------------
    def recover(self, inputs: Any, failed: Link, error: EdgeInferError) -> dict[str, np.ndarray]:
        """``failed`` raised ``error`` on ``inputs``: demote it if due, try the next candidates."""
        if self.policy is None:
            raise error
        with self._lock:
            self._count_failure(failed, error)
            for link in self.links[self.links.index(failed) + 1 :]:
                if link.demoted_until > time.monotonic() or not self._open(link):
                    continue
                assert link.backend is not None
                assert link.check is not None
                try:
                    feeds = link.check(inputs)
                except InvalidInput as mismatch:
                    self._event(
                        "skipped",
                        failed,
                        link,
                        f"its inputs differ ({mismatch}); load with float_io=True to let "
                        "a quantised candidate take float inputs",
                    )
                    continue
                try:
                    result = link.backend.run(feeds)
                except RUNTIME_FAILURES as again:
                    self._count_failure(link, again)
                    continue
                link.failures = 0
                self._event("fallback", failed, link, _text(error))
                self.reselect()
                return result
            raise error

    def _count_failure(self, link: Link, error: BaseException) -> None:
        assert self.policy is not None
        link.failures += 1
        why = f"{link.failures} failures in a row, last {_text(error)}"
        dead = getattr(link.backend, "alive", True) is False  # an isolated process that died
        if dead and link.backend is not None:
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
            if was_demoted:
                self._event("recovered", link, link, None)
                self.reselect()

    def close(self) -> None:
        for link in self.links:
            backend, link.backend = link.backend, None
            if backend is not None:
                backend.close()
