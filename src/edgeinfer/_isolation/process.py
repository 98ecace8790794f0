"""The parent's side of one backend process: its handle, the call conversation, stopping it.

``IsolatedBackend`` (``_isolate``) holds one ``Child``; what ``stop`` releases is everything the
process owns, so the garbage collector can call it without the backend object.
"""

from __future__ import annotations

import contextlib
import math
import select
import signal
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from edgeinfer._errors import BackendUnavailable, InferenceError
from edgeinfer._isolation.child import AGAIN, KINDS, decode, encode
from edgeinfer._isolation.shared_memory import OwnedBlock

__all__ = ["GRACE", "BackendProcessTraceback", "Child", "Gone", "Late", "how", "rebuild"]

GRACE = 5.0  # seconds a closing child gets to close its backend before it is terminated


class BackendProcessTraceback(Exception):
    """The traceback of an error raised in the backend process, chained as ``__cause__``.

    ``native`` is the repr of the native exception the backend chained, when it did.
    """

    def __init__(self, text: str, native: str | None = None) -> None:
        super().__init__(text)
        self.native = native

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


def how(exitcode: int | None) -> str:
    """An exit status in words: ``SIGSEGV``, ``exit code 3``."""
    if exitcode is None:
        return "an unknown status (it would not exit)"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    if exitcode > 255:  # a Windows status such as 0xC0000005 (access violation)
        return f"exit code {exitcode} (0x{exitcode:08X})"
    return f"exit code {exitcode}"


class Gone(Exception):
    """The child closed the pipe: it died."""


class Late(Exception):
    """The child did not answer before the deadline."""


class Child:
    """The backend process, its pipe and its two blocks: what ``close`` and the GC release."""

    __slots__ = (
        "answered",
        "conn",
        "exitcode",
        "inputs",
        "outputs",
        "pid",
        "poller",
        "process",
        "sent",
        "stopped",
    )

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid = process.pid
        self.inputs = OwnedBlock()
        self.outputs = OwnedBlock()
        self.sent: tuple[Any, ...] | None = None  # the last run message, when AGAIN may repeat it
        self.answered: list[Any] = []  # the entries of the last ok, which AGAIN repeats
        self.exitcode: int | None = None
        self.stopped = False
        # A poll object made once: Connection.poll(timeout) builds a selector per call (~15 us).
        self.poller: Any = None
        if hasattr(select, "poll"):
            self.poller = select.poll()
            self.poller.register(conn.fileno(), select.POLLIN)

    def send(self, raw: bytes) -> None:
        try:
            self.conn.send_bytes(raw)
        except OSError as error:  # BrokenPipeError, ConnectionResetError: the child is gone
            raise Gone from error

    def receive(self, deadline: float | None) -> Any:
        try:
            if deadline is not None and not self._wait(max(0.0, deadline - time.monotonic())):
                raise Late
            return decode(self.conn.recv_bytes())
        except (EOFError, OSError) as error:
            raise Gone from error

    def _wait(self, seconds: float) -> bool:
        """Whether the child answered (or closed the pipe) within ``seconds``."""
        if self.poller is None:
            return self.conn.poll(seconds)
        return bool(self.poller.poll(math.ceil(seconds * 1000)))

    def call(self, entries: list[Any], shared: bool, deadline: float | None) -> Any:
        """Send one call (the inputs are in the input block) and return the final reply."""
        message = ("run", self.inputs.name, entries, self.outputs.name, self.outputs.size)
        if shared and message == self.sent:
            self.send(AGAIN)
        else:
            self.send(encode(message))
            self.sent = message if shared else None
        reply = self.receive(deadline)
        if reply is not AGAIN and reply[0] == "need":
            self.outputs.ensure(reply[1])
            self.send(encode(("out", self.outputs.name, self.outputs.size)))
            reply = self.receive(deadline)
        if reply is AGAIN:
            return ("ok", self.answered)
        if reply[0] == "ok":
            self.answered = reply[1]
        return reply

    def status(self) -> str:
        """How the process ended, in words (waits for it to finish dying)."""
        if self.stopped:
            return how(self.exitcode)
        self.process.join(GRACE)
        return how(self.process.exitcode)

    def kill(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.process.kill()

    def stop(self) -> None:
        """Ask the child to close, then terminate or kill it; unlink the blocks. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        process = self.process
        with contextlib.suppress(OSError, ValueError):
            if process.exitcode is None:
                self.conn.send_bytes(encode(("close",)))
        process.join(GRACE)
        if process.exitcode is None:
            process.terminate()
            process.join(1.0)
        if process.exitcode is None:
            process.kill()
            process.join(GRACE)
        self.exitcode = process.exitcode
        self.conn.close()
        self.inputs.release()
        self.outputs.release()
        if self.exitcode is not None:
            process.close()


def rebuild(info: Mapping[str, Any]) -> Exception:
    """The edgeinfer error the backend raised in the child, with its traceback chained."""
    kind = KINDS.get(info["kind"]) if info["kind"] else None
    error: Exception
    if kind is BackendUnavailable:
        error = BackendUnavailable(*info["unavailable"])
    elif kind is not None:
        error = kind(info["message"])
    else:  # a backend bug: a failed candidate, as load() treats it in-process
        error = InferenceError(f"{info['type'].rpartition('.')[2]}: {info['message']}")
    error.__cause__ = BackendProcessTraceback(info["traceback"], info["cause"])
    return error
