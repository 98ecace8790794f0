"""``Model``: the chain of candidates behind one model, and everything edgeinfer adds on top of a
backend, written once: input checks, always-on timing, run-time fallback, health, profiles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from time import monotonic, perf_counter_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import DeviceError, EdgeInferError, InferenceError
from edgeinfer._model.chain import (
    RUNTIME_FAILURES,
    CandidateState,
    Chain,
    FallbackEvent,
    closed_error,
)
from edgeinfer._model.stats import LatencyRecorder, LatencyStats
from edgeinfer._types import Attempt, TensorSpec

if TYPE_CHECKING:
    from edgeinfer._kit.contract import Session
    from edgeinfer._kit.placement import Placement
    from edgeinfer._model.health import ModelHealth
    from edgeinfer._model.offload import OffloadPolicy
    from edgeinfer._model.profile import OperatorProfile
    from edgeinfer._model.select import Selection

__all__ = ["Model"]

InputsLike = Mapping[str, Any] | Sequence[Any] | np.ndarray


class Model:
    """A model opened on the best candidate of its plan. Create it with ``edgeinfer.load()``.

    ``run(inputs)`` (or calling the model) takes a dict by input name, a sequence in input order,
    or one array for a one-input model, checks it against ``inputs``, and returns a dict of output
    name -> array in the model's output order. Arrays returned are the caller's to keep. When the
    serving backend fails on valid input, the next candidate serves (see ``history``).
    """

    def __init__(
        self,
        chain: Chain,
        attempts: Sequence[Attempt],
        notes: Sequence[str] = (),
        recorder: LatencyRecorder | None = None,
    ) -> None:
        self._chain = chain
        self._attempts = tuple(attempts)
        self._notes = list(notes)
        self._recorder = recorder or LatencyRecorder()
        # The first (cold) call pays one-time costs: it is kept apart, then calls go straight
        # to the recorder.
        self._record: Callable[[int, int], None] = self._record_first
        self._closed = False
        self._close_lock = threading.Lock()
        self._selection: Selection | None = None

    # --- what runs, where -------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Name of the backend that serves now (``"onnxruntime"``, ``"litert"``, ...)."""
        return self._chain.active.name

    @property
    def device(self) -> str:
        """Device string it runs on now (``"cpu"``, ``"gpu:0"``, ``"edgetpu:usb:0"``)."""
        return self._chain.active.device

    @property
    def path(self) -> str:
        """The model file that serves now (one of several when a folder or list was given)."""
        return str(self._chain.active.candidate.file)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """Input specs of the candidate that serves now."""
        return self._chain.active.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """Output specs of the candidate that serves now."""
        return self._chain.active.outputs

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every candidate ``load()`` considered, in plan order, the one that opened last."""
        return self._attempts

    @property
    def history(self) -> tuple[FallbackEvent, ...]:
        """The most recent run-time events (fallbacks, demotions, recoveries, candidates that
        failed to open, inputs every candidate refused), oldest first; bounded to the last
        ``HISTORY_LIMIT`` (256). ``event_counts`` has the totals since load."""
        return tuple(self._chain.history)

    @property
    def event_counts(self) -> dict[str, int]:
        """How many events of each kind happened since load (never trimmed, never reset)."""
        return dict(self._chain.counts)

    @property
    def candidates(self) -> tuple[CandidateState, ...]:
        """Every candidate of the run-time chain in plan order, and its state now."""
        return self._chain.states()

    @property
    def selection(self) -> Selection | None:
        """How ``load(..., select="fastest")`` chose (every candidate's figures), else None."""
        return self._selection

    @property
    def notes(self) -> tuple[str, ...]:
        """What ``load()`` noted about the candidate that opened (its warm-up, precision...)."""
        return tuple(self._notes)

    @property
    def details(self) -> dict[str, str]:
        """What really runs now, as the backend reports it: runtime version, providers,
        precision, threads..."""
        backend = self._chain.active.backend
        return dict(backend.details()) if backend is not None else {}

    @property
    def offload_policy(self) -> OffloadPolicy | None:
        """The offload policy given to ``load(offload=...)``, if any."""
        offloader = self._chain.offloader
        return offloader.policy if offloader is not None else None

    @property
    def fallback_enabled(self) -> bool:
        """Whether a failed call moves to the next candidate (``load(fallback=False)``: no)."""
        return self._chain.policy is not None

    @property
    def _backend(self) -> Session | None:
        """The serving session (for tests and debugging; not an API)."""
        return self._chain.active.backend

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    # --- running ----------------------------------------------------------------------------
    def run(self, inputs: InputsLike, *, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Run the model. ``InvalidInput`` for inputs that do not match ``inputs`` (never a
        fallback); ``timeout`` (seconds) needs ``load(..., isolate=True)``."""
        chain = self._chain
        if chain.probe_due is not None and monotonic() >= chain.probe_due:
            chain.due()
        link = chain.active
        check, backend = link.check, link.backend
        if backend is None or check is None:
            if self._closed:
                raise closed_error()
            link = chain.reselect()  # its backend died and was dropped: reopen or move on
            check, backend = link.check, link.backend
            if backend is None or check is None:
                raise DeviceError(f"no candidate can serve: {link.unusable or 'none opened'}")
        feeds = check(inputs)
        start = perf_counter_ns()
        try:
            if timeout is None:
                result = backend.run(feeds)
            else:
                result = backend.run_with_timeout(feeds, timeout)
        except RUNTIME_FAILURES as error:
            result = chain.recover(inputs, link, error)
        except EdgeInferError:
            raise  # InvalidInput, ConfigurationError: the caller's to fix, never a fallback
        except Exception as bug:  # a plugin's own exception type: a failure like any other
            wrapped = InferenceError(f"{link.name} raised {type(bug).__name__}: {bug}")
            wrapped.__cause__ = bug
            result = chain.recover(inputs, link, wrapped)
        else:
            if link.failures:  # it answered: close its breaker (a demoted one has failures too)
                chain.succeeded(link)
        self._record(start, perf_counter_ns())  # the first (cold) call is kept apart there
        return result

    __call__ = run

    def _record_first(self, start: int, end: int) -> None:
        self._recorder.first_call = (end - start) / 1000.0
        self._record = self._recorder.record

    # --- measuring --------------------------------------------------------------------------
    def stats(self) -> LatencyStats:
        """Latency of the calls since load (or the last ``reset_stats``), in microseconds."""
        return self._recorder.stats()

    def reset_stats(self) -> None:
        """Forget the recorded calls (load time, warm-up and first call stay)."""
        self._recorder.reset()

    def profile(
        self,
        n: int | None = None,
        *,
        duration: float | None = None,
        warmup: int = 3,
        inputs: InputsLike | None = None,
        operators: bool = False,
    ) -> LatencyStats | OperatorProfile:
        """A measured loop of ``n`` calls (or ``duration`` seconds; default 100 calls) on
        ``inputs`` (default: the warm-up's inputs, else generated float inputs where that is
        safe). With ``operators=True``, per-operator times where the runtime offers them, as an
        ``OperatorProfile`` (``to_chrome_trace(path)``)."""
        from edgeinfer._model.profile import default_inputs, measure, operator_profile

        link = self._chain.active
        chosen = default_inputs(link) if inputs is None else inputs
        if operators:
            return operator_profile(link, n or 10, chosen)
        return measure(self, n, duration, warmup, chosen)

    def health(self) -> ModelHealth:
        """The golden self-test rerun, latency drift, the serving candidate and the system."""
        from edgeinfer._model.health import model_health

        chain = self._chain  # its first link is the candidate that opened at load
        return model_health(chain.active, chain.links[0], self._recorder)

    def placement(self, inputs: InputsLike | None = None) -> Placement:
        """Where the serving candidate runs the model's operations: how many on the accelerator,
        on the CPU or elsewhere, by operator type and precision, and the share of measured time
        where the runtime can time them (it then runs ``inputs``, by default the warm-up's or
        generated ones). Unknown figures are ``None`` with the reason. See docs/placement.md."""
        from edgeinfer._model.placement import placement

        return placement(self._chain.active, inputs)

    # --- explaining -------------------------------------------------------------------------
    def explain(self) -> str:
        """The plan in words: what runs, why, why not the others, and every switch since."""
        from edgeinfer._model.explain import explain

        return explain(self)

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return (
            f"<edgeinfer.Model {self._chain.active.candidate.file.name!r} on "
            f"{self.backend}/{self.device}{state}>"
        )

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release every runtime. Idempotent; ``run`` afterwards raises ``InferenceError``."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._chain.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        chain = getattr(self, "_chain", None)
        if chain is not None and not getattr(self, "_closed", True):
            try:
                chain.close()
            except EdgeInferError:  # never raise from a finaliser
                pass
            except Exception:
                pass
