"""The remote backend's options, its model URL, and the privacy rules checked before any byte is
sent: plain ``http://`` only to this machine unless ``allow_insecure``, credentials never in the
URL (the planner refuses those), a bearer token from the options or ``EDGEINFER_REMOTE_TOKEN``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from edgeinfer.backend import ConfigurationError, ModelUrl

__all__ = ["OPTION_KEYS", "TOKEN_ENV", "Settings", "Target", "is_loopback"]

TOKEN_ENV = "EDGEINFER_REMOTE_TOKEN"
OPTION_KEYS = (
    "timeout",
    "connect_timeout",
    "retries",
    "backoff",
    "binary",
    "token",
    "headers",
    "ca_file",
    "allow_insecure",
    "max_request_bytes",
)
DEFAULT_MAX_REQUEST = 64 << 20  # bytes of tensor data in one request
_URL_FORM = "http(s)://HOST[:PORT][/PREFIX]/v2/models/NAME[/versions/VERSION]"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): the request stays on this machine.
    A name is not resolved: only these spellings count."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Target:
    """A served model: ``server`` (``host:port/prefix``, as tritonclient takes it), ``model``,
    ``version`` (``""`` for the server's choice), ``tls``, and ``host``."""

    server: str
    model: str
    version: str
    tls: bool
    host: str

    @classmethod
    def parse(cls, url: ModelUrl) -> Target:
        parts = urlsplit(str(url))
        segments = [unquote(part) for part in parts.path.split("/")]
        try:
            at = max(
                i for i, s in enumerate(segments[:-2]) if s == "v2" and segments[i + 1] == "models"
            )
        except ValueError:
            at = -1
        rest = segments[at + 2 :] if at >= 0 else []
        version = ""
        if len(rest) == 3 and rest[1] == "versions" and rest[2]:
            version = rest[2]
        elif len(rest) != 1:
            rest = []
        if not rest or not rest[0]:
            raise ConfigurationError(
                f"{url} is not the URL of a model served over the Open Inference Protocol; "
                f"expected {_URL_FORM}"
            )
        prefix = "/".join(segments[1:at]) if at > 1 else ""
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        server = f"{netloc}/{prefix}" if prefix else netloc
        return cls(server, rest[0], version, url.scheme == "https", host)

    @property
    def base(self) -> str:
        """``scheme://host:port/prefix``: where requests go (no model, no credentials)."""
        return f"{'https' if self.tls else 'http'}://{self.server}"


def _number(options: Mapping[str, Any], key: str, default: float, low: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise ConfigurationError(f"remote option {key!r} must be a number >= {low}, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """The remote backend's options, checked (see docs/remote-and-serving.md)."""

    timeout: float = 10.0
    connect_timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.05
    binary: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    allow_insecure: bool = False
    max_request_bytes: int = DEFAULT_MAX_REQUEST

    @classmethod
    def from_options(cls, options: Mapping[str, Any], target: Target) -> Settings:
        timeout = _number(options, "timeout", 10.0, 0.001)
        connect = _number(options, "connect_timeout", min(timeout, 5.0), 0.001)
        retries = options.get("retries", 2)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ConfigurationError(
                f"remote option 'retries' must be an int 0-10, got {retries!r}"
            )
        limit = options.get("max_request_bytes", DEFAULT_MAX_REQUEST)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError("remote option 'max_request_bytes' must be an int >= 1")
        headers = options.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ConfigurationError("remote option 'headers' must be a dict of str -> str")
        headers = dict(headers)
        token = options.get("token", os.environ.get(TOKEN_ENV) or None)
        if token is not None:
            if not isinstance(token, str) or not token:
                raise ConfigurationError("remote option 'token' must be a non-empty string")
            headers["Authorization"] = f"Bearer {token}"
        ca_file = options.get("ca_file")
        if ca_file is not None and not (isinstance(ca_file, (str, os.PathLike))):
            raise ConfigurationError(f"remote option 'ca_file' must be a path, got {ca_file!r}")
        allow = options.get("allow_insecure", False)
        if not isinstance(allow, bool):
            raise ConfigurationError("remote option 'allow_insecure' must be a bool")
        binary = options.get("binary", True)
        if not isinstance(binary, bool):
            raise ConfigurationError("remote option 'binary' must be a bool")
        if not target.tls and not allow and not is_loopback(target.host):
            raise ConfigurationError(
                f"{target.base} is plain http:// to another machine: inputs"
                f"{' and the token' if token else ''} would cross the network unencrypted. Use "
                "https://, or opt in with options={'remote': {'allow_insecure': True}}"
            )
        return cls(
            timeout,
            connect,
            retries,
            _number(options, "backoff", 0.05, 0.0),
            binary,
            headers,
            None if ca_file is None else os.fspath(ca_file),
            allow,
            limit,
        )
