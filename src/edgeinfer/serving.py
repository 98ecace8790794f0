"""Serve edgeinfer models over the Open Inference Protocol (KServe v2) with KServe's ModelServer.

``EdgeInferModel`` is a ``kserve.Model`` around an ``edgeinfer.Model``: its metadata are the
model's specs (``-1`` for a dynamic dimension), ``predict`` runs ``Model.run`` (so fallback,
timing and health work as they do locally), and readiness follows ``Model.health()``. Give it to
your own ``kserve.ModelServer``, or call ``serve()`` (``python -m edgeinfer.serve`` does), which
also puts the models' latency, fallback and health figures on the server's ``/metrics``
endpoint (``edgeinfer.metrics``). Needs ``pip install 'edgeinfer[serve]'``.

Errors: an input the model refuses (``edgeinfer.InvalidInput``) is HTTP 400; any other failure
of the model (every candidate failed, the model is closed) is 500; a model whose health has
``failed`` is not ready (503), so a client moves to its next candidate.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer._errors import EdgeInferError
from edgeinfer._errors import InvalidInput as EdgeInvalidInput

if TYPE_CHECKING:
    from edgeinfer._model.health import ModelHealth
    from edgeinfer._model.model import Model
    from edgeinfer._types import TensorSpec


def _import_kserve() -> Any:
    """kserve, imported without letting it read this program's command line (its model_server
    module parses ``sys.argv`` when imported)."""
    argv = sys.argv
    sys.argv = argv[:1]
    try:
        import kserve
    except ImportError as error:
        raise ImportError(
            f"edgeinfer.serving needs KServe ({error}): pip install kserve 'tritonclient[http]' "
            "(what edgeinfer's 'serve' extra installs)"
        ) from error
    finally:
        sys.argv = argv
    return kserve


kserve = _import_kserve()
_KServeModel: Any = kserve.Model
_KServeModelServer: Any = kserve.ModelServer
from kserve.errors import InferenceError as KServeInferenceError  # noqa: E402
from kserve.errors import InvalidInput as KServeInvalidInput  # noqa: E402
from kserve.utils.numpy_codec import from_np_dtype  # noqa: E402

__all__ = ["HEALTH_INTERVAL", "EdgeInferModel", "serve"]

_log = logging.getLogger("edgeinfer")
HEALTH_INTERVAL = 10.0  # seconds between two Model.health() runs behind readiness


def _tensor_metadata(specs: Sequence[TensorSpec]) -> list[dict[str, Any]]:
    """Specs as the protocol's tensor metadata: a dynamic dimension (or rank) is ``-1``."""
    found = []
    for spec in specs:
        shape = [-1] if spec.shape is None else [-1 if d is None else d for d in spec.shape]
        datatype = from_np_dtype(spec.dtype) or "BYTES"
        found.append({"name": spec.name, "datatype": datatype, "shape": shape})
    return found


class EdgeInferModel(_KServeModel):  # type: ignore[misc]
    """An ``edgeinfer.Model`` served by KServe under ``name``.

    ``health_interval``: seconds between two runs of ``Model.health()`` (the golden self-test
    and a system snapshot); readiness reads the last result, so a request never waits for it.
    The ``edgeinfer.Model`` stays the caller's: ``stop()`` does not close it.
    """

    def __init__(self, name: str, model: Model, *, health_interval: float = HEALTH_INTERVAL):
        super().__init__(name)
        self.model = model
        self.health_interval = health_interval
        self.last_health: ModelHealth | None = None
        self._checked = -float("inf")
        self._checking = False
        self.ready = not model.closed

    def load(self) -> bool:
        self.ready = not self.model.closed
        return bool(self.ready)

    # --- metadata ---------------------------------------------------------------------------
    def get_input_types(self) -> list[dict[str, Any]]:
        return _tensor_metadata(self.model.inputs)

    def get_output_types(self) -> list[dict[str, Any]]:
        return _tensor_metadata(self.model.outputs)

    # --- readiness --------------------------------------------------------------------------
    def _check_health(self) -> None:
        try:
            self.last_health = self.model.health()
        except EdgeInferError as error:  # closed meanwhile
            _log.warning("edgeinfer.serving: %s: health check failed: %s", self.name, error)
        finally:
            self._checked = time.monotonic()
            self._checking = False

    async def healthy(self) -> bool:
        """Ready while the model is open and its last health status is not ``failed``. KServe
        asks before every request: the health check itself runs in a worker thread at most
        every ``health_interval`` seconds."""
        if self.model.closed:
            return False
        due = time.monotonic() - self._checked >= self.health_interval
        if due and not self._checking:
            self._checking = True
            if self.last_health is None:  # the first answer waits for a real check
                await asyncio.to_thread(self._check_health)
            else:
                asyncio.get_running_loop().run_in_executor(None, self._check_health)
        health = self.last_health
        return bool(self.ready) and (health is None or health.status != "failed")

    # --- inference --------------------------------------------------------------------------
    async def predict(
        self,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        if isinstance(payload, Mapping):
            raise KServeInvalidInput(
                "edgeinfer models speak the v2 (Open Inference) protocol: POST "
                f"/v2/models/{self.name}/infer"
            )
        try:
            feeds = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        except Exception as error:  # a tensor whose data do not match its shape or datatype
            raise KServeInvalidInput(f"cannot read the request's tensors: {error}") from error
        try:
            results = await asyncio.to_thread(self.model.run, feeds)
        except EdgeInvalidInput as error:
            raise KServeInvalidInput(str(error)) from error
        except EdgeInferError as error:
            raise KServeInferenceError(f"{type(error).__name__}: {error}") from error
        outputs = []
        for name, array in results.items():
            array = np.ascontiguousarray(array)
            datatype = from_np_dtype(array.dtype) or "BYTES"
            outputs.append(kserve.InferOutput(name, list(array.shape), datatype, data=array))
        return kserve.InferResponse(
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            infer_outputs=outputs,
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ModelServer(_KServeModelServer):  # type: ignore[misc]
    """KServe's ModelServer, its REST server bound to ``host`` (KServe binds all interfaces;
    serving to the network is a choice the caller makes with ``host``)."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._edgeinfer_host = host

    def setup_event_loop(self) -> None:  # called by start() once the REST server exists
        rest = getattr(self, "_rest_server", None)
        if rest is None:
            raise RuntimeError("this kserve version builds its REST server differently")
        rest.config.host = self._edgeinfer_host
        super().setup_event_loop()


def serve(
    models: Mapping[str, Model],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    grpc_port: int | None = None,
    health_interval: float = HEALTH_INTERVAL,
    metrics: bool = True,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    """Serve ``{name: model}`` with KServe's ModelServer until the process is stopped (SIGINT,
    SIGTERM). ``host``: the address to listen on (loopback by default; ``"0.0.0.0"`` serves the
    network). ``grpc_port``: also serve gRPC there (KServe binds it on every interface).
    ``metrics``: the models' figures on ``/metrics`` beside KServe's own. ``ssl_certfile`` and
    ``ssl_keyfile``: serve HTTPS."""
    if not models:
        raise ValueError("serve() needs at least one model")
    served = [
        EdgeInferModel(name, m, health_interval=health_interval) for name, m in models.items()
    ]
    for model in served:
        model.load()
    if metrics:
        from edgeinfer.metrics import register

        register(dict(models), health=True)
    if grpc_port is not None and _is_loopback(host):
        _log.warning("KServe's gRPC server listens on every interface (port %d)", grpc_port)
    server = _ModelServer(
        host,
        http_port=port,
        grpc_port=grpc_port or 0,
        enable_grpc=grpc_port is not None,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    _log.info("serving %s on http://%s:%d/v2/models/<name>", ", ".join(models), host, port)
    server.start(served)
