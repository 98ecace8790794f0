"""A real Open Inference Protocol server for tests: ``python -m edgeinfer.serve`` (KServe's
ModelServer) in a subprocess on loopback, stopped at the end. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import edgeinfer

HAVE_KSERVE = importlib.util.find_spec("kserve") is not None
HAVE_CLIENT = importlib.util.find_spec("tritonclient") is not None
NO_KSERVE = "KServe is not installed: pip install '.[serve]' (nox -s serve runs these)"
NO_CLIENT = "tritonclient is not installed: pip install '.[remote]'"
START_TIMEOUT = 120.0  # importing kserve takes seconds on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str  # http(s)://127.0.0.1:PORT
    log: Path

    def url(self, name: str) -> str:
        return f"{self.base}/v2/models/{name}"

    def get(self, path: str, context: object = None) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10, context=context) as reply:  # type: ignore[arg-type]
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_ready(server: Server, names: Sequence[str], context: object) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"the server exited ({code}):\n{server.output()}")
        with contextlib.suppress(OSError):
            if all(server.get(f"/v2/models/{n}/ready", context)[0] == 200 for n in names):
                return
        time.sleep(0.25)
    raise RuntimeError(f"the server was not ready in {START_TIMEOUT} s:\n{server.output()}")


@contextlib.contextmanager
def serving(
    models: Sequence[Path],
    log_dir: Path,
    *,
    extra: Sequence[str] = (),
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Server]:
    """Serve ``models`` (each under its stem) until the block ends."""
    port = free_port()
    src = str(Path(edgeinfer.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "edgeinfer.serve", *map(str, models), "--port", str(port)]
    command += ["--health-interval", "1", "--threads", "1", *extra]
    context = None
    if tls is not None:
        import ssl

        command += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
        context = ssl.create_default_context(cafile=str(tls[0]))
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    scheme = "https" if tls else "http"
    server = Server(process, f"{scheme}://127.0.0.1:{port}", log)
    try:
        _wait_ready(server, [m.stem for m in models], context)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, made with cryptography."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeinfer test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def metadata(server: Server, name: str) -> dict[str, object]:
    status, body = server.get(f"/v2/models/{name}")
    assert status == 200, body
    found: dict[str, object] = json.loads(body)
    return found
