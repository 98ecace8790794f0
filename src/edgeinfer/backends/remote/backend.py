"""The ``remote`` backend: a model served over the Open Inference Protocol (KServe v2), which
Triton, KServe, OpenVINO Model Server, MLServer and ``python -m edgeinfer.serve`` speak.

``edgeinfer.load("https://host/v2/models/NAME")``, or a chain that ends on a server:
``load("model.onnx", backend=["onnxruntime", "remote"], options={"remote": {"url": ...}})``.
Its device is ``remote``: planned only for a URL the caller gave, never added by ``auto`` to a
file's plan. Specs come from the model's metadata; requests go through tritonclient's HTTP client
(binary tensor data extension by default). Options (``load(options={"remote": {...}})``):

- ``timeout`` (s, 10), ``connect_timeout`` (s, 5): per request;
- ``retries`` (2), ``backoff`` (s, 0.05, doubled each try): after a refused or reset connection
  or a 429/502/503/504;
- ``binary`` (True): tensors as raw bytes; False sends JSON numbers;
- ``token`` (else ``EDGEINFER_REMOTE_TOKEN``): ``Authorization: Bearer``; ``headers``: more;
- ``ca_file``: the CA that signed the server's certificate (TLS is always verified);
- ``allow_insecure`` (False): plain ``http://`` to another machine;
- ``max_request_bytes`` (64 MiB): larger inputs are refused before anything is sent.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    BackendUnavailable,
    DeviceError,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelError,
    ModelIncompatible,
    ModelUrl,
    OpenOptions,
    check_options,
    installed_version,
)
from edgeinfer.backends.remote.client import Connection
from edgeinfer.backends.remote.config import OPTION_KEYS, Settings, Target, is_loopback
from edgeinfer.backends.remote.specs import specs

__all__ = ["RemoteBackend"]

_HINT = "pip install 'tritonclient[http]' (what edgeinfer's 'remote' extra installs)"
_log = logging.getLogger("edgeinfer")


@functools.lru_cache(maxsize=1)
def _availability() -> Availability:
    missing = [name for name in ("tritonclient", "geventhttpclient", "rapidjson")
               if importlib.util.find_spec(name) is None]  # fmt: skip
    if missing:
        reason = f"{', '.join(missing)} not installed (tritonclient[http] is the client)"
        return Availability(False, reason, _HINT)
    version = installed_version("tritonclient")
    return Availability(True, f"tritonclient {version} is installed", None, version)


class RemoteBackend(HeldSpecs, Backend):
    """A model on an Open Inference Protocol server, behind the edgeinfer Backend contract."""

    name: ClassVar[str] = "remote"
    formats: ClassVar[tuple[str, ...]] = ("oip",)
    devices: ClassVar[tuple[str, ...]] = ("remote",)
    extra: ClassVar[str | None] = "remote"

    def __init__(self, connection: Connection, url: ModelUrl, metadata: Mapping[str, object]):
        where = f"remote model {url}"
        self._connection: Connection | None = connection
        self._url = url
        self._inputs, self._outputs = specs(metadata, connection.dtype_of, where)
        self._device = "remote"
        self._platform = str(metadata.get("platform") or "")

    @classmethod
    def availability(cls) -> Availability:
        return _availability()

    @classmethod
    def open(
        cls, path: Path | ModelUrl, device: DeviceRequest, options: OpenOptions
    ) -> RemoteBackend:
        if not isinstance(path, ModelUrl):
            raise ModelError(f"the remote backend opens a served model's URL, not a file ({path})")
        if device.kind != "remote":
            raise DeviceError(f"the remote backend runs on the 'remote' device, not {device.id!r}")
        if options.precision not in (None, "fp32"):
            raise ModelIncompatible(
                f"the server decides the precision; cannot ask {options.precision}"
            )
        target = Target.parse(path)
        settings = Settings.from_options(
            check_options(cls.name, options.extra, OPTION_KEYS), target
        )
        try:
            connection = Connection(target, settings)
        except ImportError as error:
            raise BackendUnavailable(
                cls.name, f"import tritonclient.http failed: {error}", _HINT
            ) from error
        try:
            metadata = connection.metadata()
            if not connection.ready():
                raise DeviceError(f"remote model {path} is not ready (the server said so)")
            backend = cls(connection, path, metadata)
        except BaseException:
            connection.close()
            raise
        where = "this machine" if is_loopback(target.host) else f"{target.host} (off this device)"
        _log.info(
            "remote: calls to %s send their inputs to %s at %s", path.name, where, target.base
        )
        return backend

    def details(self) -> Mapping[str, str]:
        target = Target.parse(self._url)
        settings = self._connection.settings if self._connection else None
        found = {
            "server": target.base,
            "model": target.model + (f" version {target.version}" if target.version else ""),
            "protocol": "Open Inference Protocol (KServe v2) over HTTP, tritonclient "
            f"{_availability().version}",
            "tensors": "binary extension" if settings is None or settings.binary else "JSON",
            "transport": "TLS, verified" if target.tls else "plain HTTP",
            "privacy": "inputs stay on this machine (loopback)" if is_loopback(target.host)
            else f"inputs leave this device for {target.host}",
        }  # fmt: skip
        if self._platform:
            found["platform"] = self._platform
        return found

    def metadata(self) -> Mapping[str, str]:
        return {}

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        connection = self._connection
        if connection is None:
            raise InferenceError(f"remote model {self._url} is closed")
        return connection.infer(feeds, self._outputs)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
