"""Dynamic offloading: a model's remote candidate serves while its local side is too slow or too
hot, and the local side serves again once it is healthy. ``load(..., offload=OffloadPolicy(...))``.

A local failure already moves a call to the next candidate (run-time fallback, ``chain.py``);
this adds two reasons to move while the local side still works:

- ``latency_budget_us``: the p99 of the last ``window`` local calls (at least ``min_calls`` of
  them) is over the budget the caller set;
- ``thermal``: the system reports strain (``edgeinfer.health()``: throttling, a sensor at its trip
  point), read by a background thread every ``check_every`` seconds, never on a call.

The model goes back to its local side after ``hold`` seconds offloaded when the system reports no
strain (a latency offload is then measured again), and at once when the remote side fails. Each
switch is a ``FallbackEvent`` (``offloaded``, ``returned``) in ``Model.history`` and the log.
Rules are checked every ``check_every`` seconds from ``Model.run``'s existing "something is due"
test: a model without a policy pays nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgeinfer._errors import ConfigurationError

if TYPE_CHECKING:
    from edgeinfer._model.chain import Chain
    from edgeinfer._model.stats import LatencyRecorder

__all__ = ["OffloadPolicy", "Offloader", "system_strain_now"]

Strain = Callable[[], Sequence[str]]


def system_strain_now() -> list[str]:
    """What in ``edgeinfer.health()`` can slow a model down right now (throttling, heat)."""
    from edgeinfer._model.health import system_strain
    from edgeinfer._system.snapshot import health

    return system_strain(health())


@dataclass(frozen=True, slots=True)
class OffloadPolicy:
    """When the remote candidate serves although the local one works (see the module doc).

    ``latency_budget_us``: offload when the local p99 is over it (``None``: latency never
    offloads). ``thermal``: offload while the system reports strain. ``check_every``: seconds
    between checks. ``window`` / ``min_calls``: the local calls whose p99 is judged. ``hold``:
    seconds offloaded before the local side is tried again. ``strain``: what counts as strain,
    a function returning reasons (default: ``edgeinfer.health()``'s throttling and heat).
    """

    latency_budget_us: float | None = None
    thermal: bool = True
    check_every: float = 5.0
    window: int = 200
    min_calls: int = 20
    hold: float = 30.0
    strain: Strain | None = None

    def __post_init__(self) -> None:
        budget = self.latency_budget_us
        if budget is not None and (isinstance(budget, bool) or not budget > 0):
            raise ConfigurationError(f"latency_budget_us must be > 0 or None, got {budget!r}")
        if not self.check_every > 0 or self.hold < 0:
            raise ConfigurationError("check_every must be > 0 and hold >= 0 (seconds)")
        if not 1 <= self.min_calls <= self.window:
            raise ConfigurationError("offload needs 1 <= min_calls <= window")
        if budget is None and not self.thermal:
            raise ConfigurationError("this OffloadPolicy never offloads: set a budget or thermal")

    def describe(self) -> str:
        reasons = []
        if self.latency_budget_us is not None:
            reasons.append(f"the local p99 is over {self.latency_budget_us:g} us")
        if self.thermal:
            reasons.append("the system reports throttling or heat")
        return (
            f"offload to the remote candidate when {' or '.join(reasons)} (checked every "
            f"{self.check_every:g} s); back after {self.hold:g} s once the local side is healthy"
        )


class Offloader:
    """The policy at work on one model's chain: its state, and the thread that reads strain."""

    def __init__(self, policy: OffloadPolicy, recorder: LatencyRecorder) -> None:
        self.policy = policy
        self.recorder = recorder
        self.next_check = time.monotonic() + policy.check_every
        self.since = 0.0  # when the current offload began
        self.local_from = recorder.count  # calls before this one were not all local
        self._strain: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if policy.thermal:
            self._thread = threading.Thread(
                target=self._watch, name="edgeinfer-offload-strain", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        read = self.policy.strain or system_strain_now
        while True:
            try:
                self._strain = tuple(read())
            except Exception as error:  # a reader that fails says nothing about heat
                self._strain = ()
                del error
            if self._stop.wait(self.policy.check_every):
                return

    def _local_p99(self) -> float | None:
        if self.recorder.count < self.local_from:  # reset_stats() ran
            self.local_from = 0
        count = min(self.recorder.count - self.local_from, self.policy.window, self.recorder.window)
        if count < self.policy.min_calls:
            return None
        return float(np.percentile(np.asarray(self.recorder.recent(count)) / 1000.0, 99))

    def check(self, chain: Chain) -> None:
        """Called when due, under the chain's lock: offload, return, or nothing."""
        now = time.monotonic()
        self.next_check = now + self.policy.check_every
        strain = self._strain if self.policy.thermal else ()
        if chain.offloaded:
            if now - self.since >= self.policy.hold and not strain:
                chain.end_offload("the local side is healthy again")
                self.local_from = self.recorder.count
            return
        if chain.active_is_remote():
            self.local_from = self.recorder.count  # a fallback serves: local is not measured
            return
        budget = self.policy.latency_budget_us
        p99 = self._local_p99() if budget is not None else None
        if budget is not None and p99 is not None and p99 > budget:
            reason = f"local p99 {p99:.0f} us is over the latency budget of {budget:g} us"
        elif strain:
            reason = f"the system reports {'; '.join(strain)}"
        else:
            return
        if chain.start_offload(reason):
            self.since = now

    def close(self) -> None:
        self._stop.set()
