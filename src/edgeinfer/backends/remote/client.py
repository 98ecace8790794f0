"""The wire: tritonclient's HTTP client, one per calling thread, with bounded retries.

tritonclient's HTTP client runs on gevent and must stay in the thread that made it (a second
thread gets "Cannot switch to a different thread", or hangs), so each thread that calls gets its
own client; each keeps its connection open between calls (HTTP keep-alive). Tensors travel in the
binary tensor data extension by default (raw bytes after the JSON header), or as JSON numbers with
``binary=False``; fp16/bf16 always travel binary (JSON cannot carry them exactly). tritonclient is
imported by ``Connection`` only, which ``RemoteBackend.open`` creates.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from edgeinfer.backend import InferenceError, InvalidInput, TensorSpec
from edgeinfer.backends.remote.config import Settings, Target
from edgeinfer.backends.remote.errors import retryable, translate

__all__ = ["Connection"]

T = TypeVar("T")
_BACKOFF_CAP = 1.0
_ALWAYS_BINARY = ("FP16", "BF16")


class Connection:
    """Requests to one served model: metadata, readiness, inference."""

    def __init__(self, target: Target, settings: Settings) -> None:
        import tritonclient.http as http
        from tritonclient.utils import np_to_triton_dtype, triton_to_np_dtype

        self._http = http
        self._datatype = np_to_triton_dtype
        self.dtype_of: Callable[[str], Any] = triton_to_np_dtype  # protocol datatype -> numpy
        self.target = target
        self.settings = settings
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    # --- clients ----------------------------------------------------------------------------
    def _client(self) -> Any:
        if self._closed:
            raise InferenceError(f"remote: the connection to {self.target.base} is closed")
        client = getattr(self._local, "client", None)
        if client is None:
            settings = self.settings
            client = self._http.InferenceServerClient(
                self.target.server,
                connection_timeout=settings.connect_timeout,
                network_timeout=settings.timeout,
                ssl=self.target.tls,
                ssl_options={"ca_certs": settings.ca_file} if settings.ca_file else None,
            )
            with self._lock:
                self._clients.append(client)
            self._local.client = client
        return client

    def _drop_client(self) -> None:
        """Forget this thread's client after a network error: the next try reconnects."""
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            _close_quietly(client)

    def _call(self, what: str, request: Callable[[Any], T], *, opening: bool = False) -> T:
        """``request(client)`` with up to ``retries`` more tries after a refused or reset
        connection or a 429/502/503/504, pausing ``backoff`` seconds, doubled each time."""
        pause = self.settings.backoff
        for attempt in range(self.settings.retries + 1):
            try:
                return request(self._client())
            except Exception as error:
                if isinstance(error, OSError):
                    self._drop_client()
                if attempt == self.settings.retries or not retryable(error) or self._closed:
                    raise translate(error, what, opening=opening) from error
            time.sleep(pause)
            pause = min(pause * 2, _BACKOFF_CAP)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- requests ---------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        target = self.target
        what = f"remote cannot read the metadata of {target.model!r} at {target.base}"

        def request(client: Any) -> dict[str, Any]:
            found = client.get_model_metadata(
                target.model, target.version, headers=dict(self.settings.headers)
            )
            return dict(found)

        return self._call(what, request, opening=True)

    def ready(self) -> bool:
        target = self.target
        what = f"remote cannot ask whether {target.model!r} is ready at {target.base}"
        return self._call(
            what,
            lambda client: bool(
                client.is_model_ready(
                    target.model, target.version, headers=dict(self.settings.headers)
                )
            ),
            opening=True,
        )

    def infer(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[TensorSpec]
    ) -> dict[str, np.ndarray]:
        target, settings = self.target, self.settings
        size = sum(array.nbytes for array in feeds.values())
        if size > settings.max_request_bytes:
            raise InvalidInput(
                f"the inputs are {size} bytes, over the remote backend's max_request_bytes "
                f"({settings.max_request_bytes}); raise it in options {{'remote': "
                "{'max_request_bytes': ...}} if the server takes requests that large"
            )
        inputs, all_json = [], not settings.binary
        for name, array in feeds.items():
            datatype = self._datatype(array.dtype)
            if datatype is None:
                raise InvalidInput(f"input {name!r}: dtype {array.dtype} has no protocol datatype")
            tensor = self._http.InferInput(name, list(array.shape), datatype)
            binary = settings.binary or datatype in _ALWAYS_BINARY
            all_json = all_json and not binary
            tensor.set_data_from_numpy(np.ascontiguousarray(array), binary_data=binary)
            inputs.append(tensor)
        requested = [
            self._http.InferRequestedOutput(
                spec.name,
                binary_data=settings.binary or self._datatype(spec.dtype) in _ALWAYS_BINARY,
            )
            for spec in outputs
        ]
        headers = dict(settings.headers)
        if all_json:  # a JSON body says so (KServe reads an unlabelled body as binary)
            headers["Content-Type"] = "application/json"
        what = f"remote: {target.model!r} at {target.base} failed"

        def request(client: Any) -> Any:
            return client.infer(
                target.model, inputs, target.version, outputs=requested, headers=headers
            )

        result = self._call(what, request)
        found: dict[str, np.ndarray] = {}
        for spec in outputs:
            array = result.as_numpy(spec.name)
            if array is None:
                raise InferenceError(f"{what}: the answer has no output {spec.name!r}")
            # The caller owns what we return, writable like every backend's outputs.
            found[spec.name] = array if array.flags.writeable else array.copy()
        return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, []
        for client in clients:
            _close_quietly(client)


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):  # a client of a thread that is gone: sockets close
        client.close()
