"""The backend process of ``isolate=True``: open one backend, then serve calls until told to stop.

Started by ``IsolatedBackend.start`` with multiprocessing's spawn context; ``main`` is its target.
Messages are pickled tuples, except two one-byte messages for the steady state. Parent -> child:

- ``("run", in_block, entries, out_block, out_size)``: inputs laid out as in ``_isolate_shm``;
- ``AGAIN``: run again with the same blocks and the same layout as the last ``run`` message;
- ``("out", out_block, out_size)``: after a ``need`` reply, the bigger output block to write to;
- ``("close",)``: close the backend and exit (so does end of file on the pipe).

Child -> parent: ``("opened", inputs, outputs, device, details, dim_names, metadata)`` once, then
per call
``("ok", entries)`` (``AGAIN`` when the outputs have the layout and block of the last ``ok``),
``("need", nbytes)`` when the outputs do not fit the output block, or ``("error", info)`` with
what ``describe`` says of the exception the backend raised.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
)
from edgeinfer._isolation.shared_memory import Attachment, layout, read, write
from edgeinfer._kit.contract import Backend, OpenOptions
from edgeinfer._planning.devices import DeviceRequest
from edgeinfer._planning.sources import source_from_text

__all__ = ["AGAIN", "KINDS", "decode", "describe", "encode", "main"]

AGAIN = b"A"  # never the first byte of a pickle (protocol >= 2 starts with 0x80)

# The errors that cross the process boundary as themselves; any other becomes InferenceError.
KINDS: dict[str, type[Exception]] = {
    kind.__name__: kind
    for kind in (
        BackendUnavailable,
        ModelIncompatible,
        ModelError,
        ConfigurationError,
        InvalidInput,
        DeviceError,
        InferenceError,
    )
}
_PARENT_GONE = 70  # exit status when the parent vanished while the backend was busy


def encode(message: tuple[Any, ...]) -> bytes:
    return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)


def decode(raw: bytes) -> Any:
    return AGAIN if raw == AGAIN else pickle.loads(raw)


def describe(error: BaseException) -> dict[str, Any]:
    """What the parent needs to raise ``error`` again: kind, message, native cause, traceback."""
    kind = next((k.__name__ for k in type(error).__mro__ if KINDS.get(k.__name__) is k), None)
    cause = error.__cause__ or error.__context__
    info: dict[str, Any] = {
        "kind": kind,
        "type": f"{type(error).__module__}.{type(error).__qualname__}",
        "message": str(error),
        "cause": None if cause is None else f"{type(cause).__module__}.{cause!r}",
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }
    if isinstance(error, BackendUnavailable):
        info["unavailable"] = (error.backend, error.reason, error.hint)
    return info


def _import(backend_name: str, target: str) -> type[Backend]:
    module_name, _, qualname = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as error:
        raise BackendUnavailable(
            backend_name,
            f"cannot import {target} in the backend process: {type(error).__name__}: {error}",
        ) from error
    if not (isinstance(found, type) and issubclass(found, Backend)):
        raise BackendUnavailable(backend_name, f"{target} is not an edgeinfer.Backend subclass")
    return found


def _follow_parent() -> None:
    """Exit as soon as the parent process is gone, even while the backend hangs in native code."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(_PARENT_GONE)

    threading.Thread(target=watch, name="edgeinfer-parent-watch", daemon=True).start()


def main(
    conn: Connection,
    backend_name: str,
    target: str,
    path: str,
    device: DeviceRequest,
    options: OpenOptions,
) -> None:
    """Open ``target`` on ``path`` and serve calls on ``conn`` until ``close`` or end of file."""
    # Ctrl-C goes to the whole process group: the parent decides, the backend process ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a native crash prints the Python stack to stderr, then kills
    _follow_parent()
    try:
        source = cast(Path, source_from_text(path))  # a ModelUrl for the remote backend
        backend = _import(backend_name, target).open(source, device, options)
    except BaseException as error:
        conn.send_bytes(encode(("error", describe(error))))
        conn.close()
        return
    try:
        try:
            dim_names = {name: tuple(dims) for name, dims in backend.dim_names().items()}
            opened = (
                "opened",
                tuple(backend.inputs),
                tuple(backend.outputs),
                backend.device,
                dict(backend.details()),
                dim_names,
                dict(backend.metadata()),
            )
            conn.send_bytes(encode(opened))
        except Exception as error:
            conn.send_bytes(encode(("error", describe(error))))
            return
        _Server(conn, backend).serve()
    finally:
        with contextlib.suppress(Exception):
            backend.close()
        conn.close()


class _Server:
    """The call loop, with what the ``AGAIN`` messages refer to."""

    def __init__(self, conn: Connection, backend: Backend) -> None:
        self.conn = conn
        self.backend = backend
        self.inputs = Attachment()
        self.outputs = Attachment()
        self.feeds: dict[str, Any] | None = None  # the views of the last run message
        self.out_block: str | None = None
        self.out_size = 0
        self.answered: tuple[str | None, list[Any]] | None = None  # block and entries of last ok

    def serve(self) -> None:
        try:
            while self.step():
                pass
        finally:
            self.feeds = None  # views of the blocks must go before the blocks are unmapped
            self.inputs.close()
            self.outputs.close()

    def receive(self) -> Any:
        try:
            return decode(self.conn.recv_bytes())
        except EOFError:
            return ("close",)

    def step(self) -> bool:
        """Serve one call; ``False`` when it is time to stop."""
        message = self.receive()
        if message is AGAIN:
            assert self.feeds is not None, "AGAIN before a run message"
            feeds = self.feeds
        elif message[0] == "run":
            _, in_block, entries, self.out_block, self.out_size = message
            self.feeds = None
            feeds = read(self.inputs.buffer(in_block), entries, copy=False)
            shared = all(len(entry) == 4 for entry in entries)
            self.feeds = feeds if shared else None
        else:
            return False
        try:
            result = self.backend.run(dict(feeds))
            entries, needed, shared = layout(result)
        except Exception as error:
            self.conn.send_bytes(encode(("error", describe(error))))
            return True
        del feeds
        if needed > self.out_size:
            self.conn.send_bytes(encode(("need", needed)))
            message = self.receive()
            if message[0] != "out":
                return False
            _, self.out_block, self.out_size = message
        try:
            write(self.outputs.buffer(self.out_block), entries, result)
            if shared and self.answered == (self.out_block, entries):
                self.conn.send_bytes(AGAIN)
            else:
                self.conn.send_bytes(encode(("ok", entries)))
                self.answered = (self.out_block, entries) if shared else None
        except Exception as error:  # e.g. an object output that cannot be pickled
            self.conn.send_bytes(encode(("error", describe(error))))
        return True
