"""Model URLs in planning, the privacy rules, and the remote backend's client side against real
sockets on loopback (refused, silent, recording): no KServe needed, tritonclient for the last.

A model named by URL runs on the 'remote' device only; device="auto" adds it only for a URL the
caller gave, after the CPU; an explicit local device chain keeps a URL off the plan.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgeinfer
from edgeinfer import ConfigurationError, DeviceError, NoBackendAvailable
from edgeinfer._planning.devices import DeviceRequest, parse_device, parse_device_chain
from edgeinfer._planning.formats import ModelUrl
from edgeinfer._planning.plan import Candidate, expand_devices, plan
from edgeinfer._planning.sources import resolve_model_files, resolve_model_sources
from fake_backend import make_fake, register
from oip_server import HAVE_CLIENT, NO_CLIENT, free_port

URL = "http://127.0.0.1:9/v2/models/tiny"
needs_client = pytest.mark.skipif(not HAVE_CLIENT, reason=NO_CLIENT)


# --- sources -------------------------------------------------------------------------------
def test_a_url_is_a_model_url_of_the_oip_format_with_its_slashes_kept() -> None:
    [(source, fmt)] = resolve_model_sources("https://host.example:8443/a//b/v2/models/m")
    assert isinstance(source, ModelUrl)
    assert fmt == "oip"
    assert str(source) == "https://host.example:8443/a//b/v2/models/m"
    assert source.name == "m"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://host/v2/models/m", "no model format is served from ftp://"),
        ("http:///v2/models/m", "needs a scheme and a host"),
        ("http://user:secret@host/v2/models/m", "must not carry credentials"),
        ("http://host:notaport/v2/models/m", "bad model URL"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(url)


def test_file_only_callers_refuse_a_url() -> None:
    with pytest.raises(ConfigurationError, match="is a URL"):
        resolve_model_files(URL)  # type: ignore[arg-type]


def test_remote_is_a_device_without_index() -> None:
    assert parse_device("remote") == DeviceRequest("remote")
    with pytest.raises(ConfigurationError, match="takes no index"):
        parse_device("remote:0")


# --- plans -------------------------------------------------------------------------------
def test_auto_adds_remote_only_for_a_url_and_after_the_cpu(model_file: Path) -> None:
    auto = parse_device_chain("auto")
    assert [d.kind for d in expand_devices(auto, (), ["onnx"])] == ["cpu"]
    assert [d.kind for d in expand_devices(auto, (), ["onnx", "oip"])] == ["cpu", "remote"]


@pytest.mark.usefixtures("clean_registry")
def test_a_file_never_gets_a_remote_candidate_even_when_remote_is_available(
    one_op: Path,
) -> None:
    remote = make_fake("fake-remote", formats=("oip",), devices=("remote",))
    register(remote)
    files = resolve_model_sources(one_op)
    steps = plan(files, expand_devices(parse_device_chain("auto"), (), ["onnx"]))
    assert not [s for s in steps if isinstance(s, Candidate) and s.backend == "fake-remote"]
    with edgeinfer.load(one_op) as model:
        assert all(state.device != "remote" for state in model.candidates)
        assert "inputs are sent" not in model.explain()


@pytest.mark.usefixtures("clean_registry")
def test_an_explicit_local_chain_keeps_a_url_off_the_plan_and_says_why() -> None:
    register(make_fake("fake-remote", formats=("oip",), devices=("remote",)))
    with pytest.raises(NoBackendAvailable) as caught:
        edgeinfer.load(URL, device=["cpu"])
    [attempt] = caught.value.attempts
    assert "runs on the 'remote' device only" in attempt.reason
    assert "add 'remote' to the device chain" in attempt.reason
    with edgeinfer.load(URL, device=["cpu", "remote"]) as model:
        assert model.backend == "fake-remote"
        assert model.device == "remote"


@pytest.mark.usefixtures("clean_registry")
def test_a_chain_that_ends_on_a_server_through_options(model_file: Path) -> None:
    local = make_fake("fake-local")
    remote = make_fake("fake-remote", formats=("oip",), devices=("remote",))
    register(local, remote)
    with edgeinfer.load(
        model_file,
        backend=["fake-local", "fake-remote"],
        options={"fake-remote": {"url": URL}},
    ) as model:
        states = [(s.backend, s.device, s.file) for s in model.candidates]
        assert states == [("fake-local", "cpu", str(model_file)), ("fake-remote", "remote", URL)]
        assert not [a for a in model.attempts if not a.ok]  # no "does not run" noise
        assert remote.opened == []  # opened only if needed
        text = model.explain()
        assert f"inputs are sent to {URL}" in text
        assert "as a fallback" in text
    assert "url" not in local.opened[0][2].extra


def test_options_url_must_be_a_url(model_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs a scheme and a host"):
        edgeinfer.load(model_file, options={"remote": {"url": "localhost:8080/v2/models/m"}})


# --- the client side against real sockets --------------------------------------------------
@contextlib.contextmanager
def silent_server(record: list[bytes] | None = None) -> Iterator[int]:
    """A loopback socket that accepts connections and never answers (it keeps what it read)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            if record is not None:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    record.append(conn.recv(65536))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@needs_client
@pytest.mark.backend("remote")
def test_a_refused_connection_is_a_device_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v2/models/m"
    with pytest.raises(NoBackendAvailable) as caught:
        edgeinfer.load(url)
    assert isinstance(caught.value.__cause__, DeviceError)
    assert "Connection refused" in str(caught.value)
    with pytest.raises(DeviceError, match="ConnectionRefusedError"):
        edgeinfer.load(url, fallback=False, options={"remote": {"retries": 0}})


@needs_client
@pytest.mark.backend("remote")
def test_a_server_that_never_answers_times_out_as_a_device_error() -> None:
    with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(DeviceError, match="TimeoutError"):
            edgeinfer.load(
                f"http://127.0.0.1:{port}/v2/models/m",
                fallback=False,
                options={"remote": {"timeout": 0.3}},
            )
        assert time.monotonic() - started < 5  # a timeout is not retried


@needs_client
@pytest.mark.backend("remote")
def test_plain_http_to_another_machine_needs_an_opt_in_and_nothing_is_sent() -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed; the refusal comes before any connection.
    with pytest.raises(ConfigurationError, match="allow_insecure"):
        edgeinfer.load("http://192.0.2.1:8080/v2/models/m")


@needs_client
@pytest.mark.backend("remote")
def test_the_token_goes_in_the_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEINFER_REMOTE_TOKEN", "from-env")
    for options, expected in (({}, b"Bearer from-env"), ({"token": "given"}, b"Bearer given")):
        seen: list[bytes] = []
        with silent_server(seen) as port, pytest.raises(DeviceError):
            edgeinfer.load(
                f"http://localhost:{port}/v2/models/m",
                fallback=False,
                options={"remote": {"timeout": 0.3, "headers": {"X-Team": "a"}, **options}},
            )
        request = b"".join(seen)
        assert request.startswith(b"GET /v2/models/m ")
        assert b"authorization: " + expected in request.lower().replace(b"bearer", b"Bearer")
        assert b"x-team: a" in request.lower()


@needs_client
@pytest.mark.backend("remote")
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"timeout": 0}, "'timeout' must be a number"),
        ({"retries": 99}, "'retries' must be an int"),
        ({"frobnicate": 1}, "unknown remote option"),
        ({"headers": {"a": 1}}, "'headers' must be a dict"),
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(f"http://127.0.0.1:{free_port()}/v2/models/m", options={"remote": options})
