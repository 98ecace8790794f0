"""``Model``: the chain of candidates behind one model, and everything edgeinfer adds on top of a
backend, written once: input checks, always-on timing, run-time fallback, health, profiles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from time import monotonic, perf_counter_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import ConfigurationError, DeviceError, EdgeInferError, InferenceError
from edgeinfer._model.chain import RUNTIME_FAILURES, Chain, FallbackEvent
from edgeinfer._model.stats import LatencyRecorder, LatencyStats
from edgeinfer._types import Attempt, TensorSpec

if TYPE_CHECKING:
    from edgeinfer._kit.contract import Backend
    from edgeinfer._model.health import ModelHealth
    from edgeinfer._model.profile import OperatorProfile

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
        """Every run-time switch: fallbacks, demotions, recoveries, candidates that failed."""
        return tuple(self._chain.history)

    @property
    def _backend(self) -> Backend | None:
        return self._chain.active.backend

    # --- running ----------------------------------------------------------------------------
    def run(self, inputs: InputsLike, *, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Run the model. ``InvalidInput`` for inputs that do not match ``inputs`` (never a
        fallback); ``timeout`` (seconds) needs ``load(..., isolate=True)``."""
        chain = self._chain
        if chain.probe_due is not None and monotonic() >= chain.probe_due:
            chain.reselect()
        link = chain.active
        check, backend = link.check, link.backend
        if backend is None or check is None:
            if self._closed:
                raise InferenceError("the model is closed; load it again")
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
                result = self._run_with_timeout(backend, feeds, timeout)
        except RUNTIME_FAILURES as error:
            result = chain.recover(inputs, link, error)
        else:
            if link.failures:  # it answered: close its breaker (a demoted one has failures too)
                chain.succeeded(link)
        self._record(start, perf_counter_ns())  # the first (cold) call is kept apart there
        return result

    __call__ = run

    def _record_first(self, start: int, end: int) -> None:
        self._recorder.first_call = (end - start) / 1000.0
        self._record = self._recorder.record

    @staticmethod
    def _run_with_timeout(backend: Backend, feeds: Any, timeout: float) -> dict[str, np.ndarray]:
        run = getattr(backend, "run_with_timeout", None)
        if run is None:
            raise ConfigurationError(
                "timeout= needs a backend in its own process: load(..., isolate=True); a call "
                "that hangs inside this process cannot be stopped"
            )
        result: dict[str, np.ndarray] = run(feeds, timeout)
        return result

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
        ``inputs`` (default: generated ones). With ``operators=True``, per-operator times where
        the runtime offers them, as an ``OperatorProfile`` (``to_chrome_trace(path)``)."""
        from edgeinfer._model.profile import measure, operator_profile

        if operators:
            return operator_profile(self, n or 10, inputs)
        return measure(self, n, duration, warmup, inputs)

    def health(self) -> ModelHealth:
        """The golden self-test rerun, latency drift, the serving candidate and the system."""
        from edgeinfer._model.health import model_health

        return model_health(self)

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
