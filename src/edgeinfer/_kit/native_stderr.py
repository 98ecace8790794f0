"""Catch what native libraries write straight to file descriptor 2 while a block runs.

Runtimes print banners and failure noise from C++ (LiteRT's "Created TensorFlow Lite XNNPACK
delegate", a failed ``load_delegate``'s messages, coremltools' import warnings). edgeinfer keeps
those lines away from the user's terminal: it captures them, logs them at DEBUG on the
``edgeinfer`` logger, and puts them into the error message when the block fails. Nothing touches
the disk: the descriptor is pointed at a pipe that a thread drains.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["NativeOutput", "captured_native_stderr", "captured_native_stdout"]

_lock = threading.RLock()  # descriptor 2 is process-wide: one capture at a time (nests)


class NativeOutput:
    """The text captured by ``captured_native_stderr``, filled in when the block ends."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


def _drain(read_fd: int, chunks: list[bytes]) -> None:
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            return
        chunks.append(chunk)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers: ``printf`` to a pipe sits there until exit otherwise, and would
    reach the restored descriptor after the capture ends."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def captured_native_stderr(fd: int = 2) -> Iterator[NativeOutput]:
    """Redirect descriptor 2 (or ``fd``) into memory for the block; yields the (later filled)
    output."""
    output = NativeOutput()
    stream = sys.stdout if fd == 1 else sys.stderr
    with _lock:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
        try:
            saved = os.dup(fd)
        except OSError:  # no descriptor 2 (some embedded or service setups): nothing to catch
            yield output
            return
        read_fd, write_fd = os.pipe()
        chunks: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
        reader.start()
        os.dup2(write_fd, fd)
        os.close(write_fd)
        try:
            yield output
        finally:
            if fd == 1:
                _flush_c_stdio()
            os.dup2(saved, fd)  # closes the pipe's last writer: the reader sees end of file
            os.close(saved)
            reader.join(timeout=5)
            os.close(read_fd)
            output.text = b"".join(chunks).decode("utf-8", "replace")


def captured_native_stdout() -> contextlib.AbstractContextManager[NativeOutput]:
    """Like ``captured_native_stderr``, for what a runtime ``printf``s to descriptor 1 (MNN
    prints its CPU features at import); C's stdio buffer is flushed before the descriptor is
    given back."""
    return captured_native_stderr(1)
