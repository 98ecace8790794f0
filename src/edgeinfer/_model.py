"""``Model``: one opened backend plus everything edgeinfer adds on top of it, written once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from ._backend import Backend
from ._errors import InferenceError
from ._inputs import InputChecker
from ._plan import Candidate
from ._types import Attempt, TensorSpec

__all__ = ["Model"]

InputsLike = Mapping[str, Any] | Sequence[Any] | np.ndarray


class Model:
    """A model opened on one backend and device. Create it with ``edgeinfer.load()``.

    ``run(inputs)`` (or calling the model) takes a dict by input name, a sequence in input order,
    or one array for a one-input model, checks it against ``inputs``, and returns a dict of output
    name -> array in the model's output order. Arrays returned are the caller's to keep.
    """

    def __init__(
        self,
        backend: Backend,
        candidate: Candidate,
        attempts: Sequence[Attempt],
        remaining: Sequence[Candidate],
        notes: Sequence[str] = (),
    ) -> None:
        self._backend: Backend | None = backend
        self._candidate = candidate
        self._attempts = tuple(attempts)
        self._remaining = tuple(remaining)
        self._notes = tuple(notes)
        self._inputs = backend.inputs
        self._outputs = backend.outputs
        self._check = InputChecker(self._inputs, backend.dim_names())
        self._close_lock = threading.Lock()

    # --- what runs, where -------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Name of the backend that runs the model (``"onnxruntime"``, ``"litert"``, ...)."""
        return self._candidate.backend

    @property
    def device(self) -> str:
        """Device string it runs on (``"cpu"``, ``"gpu:0"``, ``"edgetpu:usb:0"``)."""
        return self._backend.device if self._backend is not None else self._candidate.device.id

    @property
    def path(self) -> str:
        """The model file that was opened (one of several when a folder or list was given)."""
        return str(self._candidate.file)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every candidate ``load()`` considered, in order, the one that opened last."""
        return self._attempts

    # --- running ----------------------------------------------------------------------------
    def run(self, inputs: InputsLike) -> dict[str, np.ndarray]:
        """Run the model. Raises ``InvalidInput`` for inputs that do not match ``inputs``."""
        feeds = self._check(inputs)
        backend = self._backend
        if backend is None:
            raise InferenceError(f"model {self._candidate.file.name} is closed; load it again")
        return backend.run(feeds)

    __call__ = run

    # --- explaining -------------------------------------------------------------------------
    def explain(self) -> str:
        """The plan in words: what runs, why, and why each other candidate did not."""
        lines = [f"Model {self._candidate.file.name}"]
        state = "" if self._backend is not None else " (closed)"
        lines.append(f"  runs on: {self.backend} on {self.device}, file {self.path}{state}")
        if self._backend is not None:
            lines.extend(f"    {key}: {value}" for key, value in self._backend.details().items())
        lines.append("  inputs:  " + ", ".join(str(spec) for spec in self._inputs))
        lines.append("  outputs: " + ", ".join(str(spec) for spec in self._outputs))
        lines.extend(f"  note: {note}" for note in self._notes)
        failed = [attempt for attempt in self._attempts if not attempt.ok]
        if failed:
            lines.append("  not chosen, in plan order:")
            lines.extend(f"    - {attempt.describe()}" for attempt in failed)
        else:
            lines.append("  it was the first candidate of the plan.")
        if self._remaining:
            lines.append("  later in the chain (not needed, not opened):")
            lines.extend(
                f"    - {c.backend} on {c.device.id} ({c.file.name})" for c in self._remaining
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "" if self._backend is not None else ", closed"
        return (
            f"<edgeinfer.Model {self._candidate.file.name!r} on {self.backend}/{self.device}"
            f"{state}>"
        )

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the runtime. Idempotent; ``run`` afterwards raises ``InferenceError``."""
        with self._close_lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

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
        backend = getattr(self, "_backend", None)
        if backend is not None:
            with contextlib.suppress(Exception):  # never raise from a finaliser
                backend.close()
