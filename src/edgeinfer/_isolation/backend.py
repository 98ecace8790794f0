"""``load(..., isolate=True)``: run a backend in its own process, so that a crash is an error.

A delegate that segfaults, aborts or hangs (seen with Core ML, TensorRT and the Edge TPU) takes
the whole process with it. ``IsolatedBackend`` opens the backend in a child process started with
multiprocessing's *spawn* context (fork is unsafe once a runtime has started threads) and talks to
it through a pipe; tensors travel through two shared-memory blocks (``_isolate_shm``). The child
dying, or not answering within a call's ``timeout``, becomes a ``DeviceError``; errors the backend
raises come back as the same edgeinfer class, with the child's traceback chained. The child's side
is ``_isolate_child``, the parent's handle on it ``_isolate_proc``; docs/isolation.md gives the
costs.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgeinfer._errors import ConfigurationError, DeviceError, InferenceError
from edgeinfer._isolation.child import main as child_main
from edgeinfer._isolation.process import BackendProcessTraceback, Child, Gone, Late, rebuild
from edgeinfer._isolation.shared_memory import layout, nbytes, read, write
from edgeinfer._kit.contract import Backend, HeldSpecs, OpenOptions, Session
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._types import TensorSpec

__all__ = ["BackendProcessTraceback", "IsolatedBackend", "target_of"]

_CLOSE_WAIT = 5.0  # seconds close() waits for a running call before it stops the process


def target_of(cls: type[Backend]) -> str:
    """``"module:Qualified.Name"`` of a backend class, checked to be importable by that name."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    found: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    if found is not cls:
        raise ConfigurationError(
            f"isolate=True imports the backend class by name in a new process, and {cls.__name__} "
            f"is not reachable as {target} (defined inside a function, or created with type()); "
            "define it at the top level of a module"
        )
    return target


class IsolatedBackend(HeldSpecs, Session):
    """Another backend, run in a child process: a ``Session``, not a registry ``Backend``.
    Create it with ``IsolatedBackend.start``.

    ``run(feeds, timeout=None)``: ``timeout`` seconds (default: the ``run_timeout`` given to
    ``start``, ``None`` = wait as long as it takes) before the process is stopped. A crash or a
    timeout raises ``DeviceError`` and leaves the instance dead (``alive`` is False): later calls
    raise ``DeviceError`` at once. Thread-safe: calls are serialised.
    """

    bounded_runs: ClassVar[bool] = True

    def __init__(
        self,
        child: Child,
        backend_name: str,
        path: Path,
        opened: tuple[Any, ...],
        run_timeout: float | None,
    ) -> None:
        self._inputs: tuple[TensorSpec, ...] = opened[1]
        self._outputs: tuple[TensorSpec, ...] = opened[2]
        self._device: str = opened[3]
        self._details: dict[str, str] = {
            **opened[4],
            "isolation": f"own process (pid {child.pid}, spawn); tensors in shared memory",
        }
        self._dim_names: dict[str, tuple[str | None, ...]] = opened[5]
        self._metadata: dict[str, str] = opened[6]
        self._child = child
        self._backend_name = backend_name
        self._path = path
        self._run_timeout = run_timeout
        self._out_hint = nbytes(self._outputs)  # first size of the output block
        self._lock = threading.Lock()
        self._dead: str | None = None  # why calls are refused
        self._closing = False
        self._finalizer = weakref.finalize(self, child.stop)

    # --- creating ---------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        backend_name: str,
        target: str,
        path: Path,
        device: DeviceRequest,
        options: OpenOptions,
        *,
        start_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> IsolatedBackend:
        """Start a process that imports ``target`` (``"module:Class"``) and opens ``path``.

        Raises what the backend's ``open`` raised (same class, child traceback chained),
        ``DeviceError`` when the process dies while opening or takes longer than
        ``start_timeout`` seconds, ``ConfigurationError`` when ``options`` cannot be pickled.
        """
        try:
            ForkingPickler.dumps((device, options))
        except Exception as error:
            raise ConfigurationError(
                f"isolate=True sends the options of {backend_name} to its process, and they "
                f"cannot be pickled: {type(error).__name__}: {error}"
            ) from error
        context = multiprocessing.get_context("spawn")
        conn, child_conn = context.Pipe()
        args = (child_conn, backend_name, target, str(path), device, options)
        process = context.Process(
            target=child_main, args=args, name=f"edgeinfer:{backend_name}", daemon=True
        )
        try:
            process.start()
        except Exception as error:
            conn.close()
            raise DeviceError(f"cannot start a process for {backend_name}: {error}") from error
        finally:
            child_conn.close()
        child = Child(process, conn)
        what = f"the {backend_name} backend process (pid {child.pid}) opening {path.name}"
        deadline = None if start_timeout is None else time.monotonic() + start_timeout
        try:
            reply = child.receive(deadline)
        except Gone:
            how = child.status()
            child.stop()
            hint = ""
            if how == "exit code 1":
                hint = (
                    " (its error output is above; a script that calls load(isolate=True) when "
                    "imported must do so under if __name__ == '__main__':)"
                )
            raise DeviceError(f"{what} died with {how}{hint}") from None
        except Late:
            child.kill()
            child.stop()
            raise DeviceError(
                f"{what} did not open it within {start_timeout:g} s; the process was stopped"
            ) from None
        except BaseException:
            child.kill()
            child.stop()
            raise
        if reply[0] != "opened":
            child.stop()
            raise rebuild(reply[1])
        return cls(child, backend_name, path, reply, run_timeout)

    # --- what it is -------------------------------------------------------------------------
    def dim_names(self) -> Mapping[str, tuple[str | None, ...]]:
        return self._dim_names

    def metadata(self) -> Mapping[str, str]:
        return self._metadata

    def details(self) -> Mapping[str, str]:
        return self._details

    @property
    def backend_name(self) -> str:
        """The backend that runs in the child process."""
        return self._backend_name

    @property
    def pid(self) -> int | None:
        """The backend process's id."""
        return self._child.pid

    @property
    def alive(self) -> bool:
        """Whether calls are still accepted (not closed, not crashed, not timed out)."""
        return self._dead is None

    # --- running ----------------------------------------------------------------------------
    def run(
        self, feeds: Mapping[str, np.ndarray], timeout: float | None = None
    ) -> dict[str, np.ndarray]:
        """Run ``feeds`` in the backend process; see the class docstring for ``timeout``."""
        if timeout is None:
            timeout = self._run_timeout
        with self._lock:
            if self._dead is not None:
                raise (InferenceError if self._closing else DeviceError)(self._dead)
            child = self._child
            if not child.outputs.size:
                child.outputs.ensure(self._out_hint)
            entries, needed, shared = layout(feeds)
            write(child.inputs.ensure(needed), entries, feeds)
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                reply = child.call(entries, shared, deadline)
                if reply[0] == "ok":
                    return read(child.outputs.buf, reply[1], copy=True)
            except Gone:
                how = child.status()
                if self._closing:
                    raise self._fail(f"{self._what()} was closed during this call") from None
                raise self._fail(f"{self._what()} died with {how} during this call") from None
            except Late:
                child.kill()
                raise self._fail(
                    f"{self._what()} did not answer within {timeout:g} s; the process was stopped"
                ) from None
            except BaseException:  # interrupted mid-conversation: the pipe is out of step
                child.kill()
                self._fail(f"{self._what()} was stopped: a call was interrupted")
                raise
        raise rebuild(reply[1])

    def run_with_timeout(
        self, feeds: Mapping[str, np.ndarray], timeout: float | None
    ) -> dict[str, np.ndarray]:
        """``run(feeds, timeout=timeout)``."""
        return self.run(feeds, timeout)

    def _what(self) -> str:
        return (
            f"the {self._backend_name} backend process (pid {self._child.pid}) on "
            f"{self._device} running {self._path.name}"
        )

    def _fail(self, reason: str) -> DeviceError:
        """Mark the instance dead, release the process and blocks; the error to raise."""
        self._dead = f"{reason}; this isolated instance is closed"
        self._finalizer()
        return DeviceError(reason)

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the backend in its process, stop the process, unlink the blocks. Idempotent.

        A call still running after a few seconds is stopped with the process.
        """
        self._closing = True
        if not self._lock.acquire(timeout=_CLOSE_WAIT):
            self._child.kill()  # a call hangs: stopping the process makes it return
            self._lock.acquire()
        try:
            if self._dead is None:
                self._dead = f"the isolated {self._backend_name} instance is closed"
            self._finalizer()
        finally:
            self._lock.release()

    def __repr__(self) -> str:
        state = "" if self._dead is None else ", dead"
        return f"<IsolatedBackend {self._backend_name} pid {self._child.pid}{state}>"
