"""Crash isolation (``IsolatedBackend``): real ONNX Runtime models through a child process, and a
backend that really segfaults, aborts, exits and hangs (tests/crashing_backend.py).

Starting a backend process costs 0.2-1 s, so instances are shared through module-scoped
fixtures wherever a test leaves them alive. Tests that open ONNX Runtime carry the
``backend("onnxruntime")`` marker; the crash tests need no runtime and run on bare installs too.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

import crashing_backend
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    DeviceRequest,
    InferenceError,
    InvalidInput,
    ModelError,
    OpenOptions,
)
from edgeinfer._isolation.backend import BackendProcessTraceback, IsolatedBackend, target_of
from edgeinfer._isolation.shared_memory import PREFIX
from edgeinfer.backend import Backend, Session
from edgeinfer.backends.onnxruntime.backend import (
    OnnxRuntimeBackend,  # imports no runtime: fine on bare installs
)

ORT = "edgeinfer.backends.onnxruntime.backend:OnnxRuntimeBackend"
CPU = DeviceRequest("cpu")
OUR_SEGMENTS = f"{PREFIX}{os.getpid():x}_"
RNG = np.random.default_rng(7)


def start(
    path: Path, target: str = ORT, name: str = "onnxruntime", **kwargs: Any
) -> IsolatedBackend:
    extra = kwargs.pop("extra", {})
    options = OpenOptions(threads=1, extra=extra)
    return IsolatedBackend.start(name, target, path, CPU, options, **kwargs)


def crashing(tmp: Path, mode: str, when: str = "run", **kwargs: Any) -> IsolatedBackend:
    path = tmp / "model.onnx"
    path.touch()
    extra = {"mode": mode, "when": when}
    return start(path, crashing_backend.TARGET, "crashing", extra=extra, **kwargs)


def children() -> set[int]:
    """Our live multiprocessing children (module fixtures keep some alive)."""
    return {child.pid for child in multiprocessing.active_children() if child.pid is not None}


def segments() -> set[str]:
    """Our shared-memory segments that exist now (Linux: /dev/shm)."""
    return {name for name in os.listdir("/dev/shm") if name.startswith(OUR_SEGMENTS)}


def assert_gone(backend: IsolatedBackend, names: list[str]) -> None:
    """The backend's process is reaped and its segments are unlinked."""
    pid = backend.pid
    assert pid is not None
    assert not psutil.pid_exists(pid)  # exited and reaped: no zombie
    assert all(child.pid != pid for child in multiprocessing.active_children())
    if sys.platform == "linux":
        assert not set(names) & segments()


def block_names(backend: IsolatedBackend) -> list[str]:
    child = backend._child
    return child.inputs.history + child.outputs.history


@pytest.fixture(scope="module")
def pair_one_op(one_op: Path) -> Iterator[tuple[OnnxRuntimeBackend, IsolatedBackend]]:
    local = OnnxRuntimeBackend.open(one_op, CPU, OpenOptions(threads=1))
    isolated = start(one_op)
    yield local, isolated
    local.close()
    isolated.close()


@pytest.fixture(scope="module")
def pair_dynamic(dynamic_batch: Path) -> Iterator[tuple[OnnxRuntimeBackend, IsolatedBackend]]:
    local = OnnxRuntimeBackend.open(dynamic_batch, CPU, OpenOptions(threads=1))
    isolated = start(dynamic_batch)
    yield local, isolated
    local.close()
    isolated.close()


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedBackend]:
    backend = crashing(tmp_path_factory.mktemp("echo"), "echo")
    yield backend
    backend.close()


# --- outputs identical to in-process ---------------------------------------------------------
@pytest.mark.backend("onnxruntime")
def test_one_op_matches_in_process(pair_one_op: tuple[Any, IsolatedBackend]) -> None:
    local, isolated = pair_one_op
    assert isolated.inputs == local.inputs
    assert isolated.outputs == local.outputs
    assert isolated.device == "cpu"
    assert dict(isolated.dim_names()) == dict(local.dim_names())
    details = isolated.details()
    assert details["runtime"] == local.details()["runtime"]
    assert f"pid {isolated.pid}" in details["isolation"]
    first = RNG.standard_normal((1, 16), dtype=np.float32)
    second = RNG.standard_normal((1, 16), dtype=np.float32)
    got_first = isolated.run({"x": first})
    got_second = isolated.run({"x": second})
    np.testing.assert_array_equal(got_first["y"], local.run({"x": first})["y"])
    np.testing.assert_array_equal(got_second["y"], local.run({"x": second})["y"])
    assert got_first["y"].dtype == np.float32
    # Fresh arrays: the second call did not overwrite what the first one returned.
    np.testing.assert_array_equal(got_first["y"], np.maximum(first, 0))


@pytest.mark.backend("onnxruntime")
def test_multi_io_mixed_dtypes(multi_io: Path) -> None:
    local = OnnxRuntimeBackend.open(multi_io, CPU, OpenOptions(threads=1))
    isolated = start(multi_io)
    try:
        feeds = {
            "image": RNG.standard_normal((1, 3, 4, 4), dtype=np.float32),
            "mask": np.array([[True, False, True, False]]),
            "ids": np.array([[5, 6, 7, 8]], dtype=np.int64),
            "scale": np.array([1.5], dtype=np.float16),
        }
        expected = local.run(feeds)
        got = isolated.run(feeds)
        assert list(got) == list(expected) == ["pooled", "masked_ids", "scaled", "any_set"]
        for name, value in expected.items():
            assert got[name].dtype == value.dtype, name
            np.testing.assert_array_equal(got[name], value)
    finally:
        local.close()
        isolated.close()


@pytest.mark.backend("onnxruntime")
def test_dynamic_batch_grows_shared_memory(pair_dynamic: tuple[Any, IsolatedBackend]) -> None:
    local, isolated = pair_dynamic
    child = isolated._child
    sizes = []
    for batch in (1, 7, 7, 300, 5000, 5000, 2, 20000, 20000, 3):
        x = RNG.standard_normal((batch, 8), dtype=np.float32)
        got = isolated.run({"x": x})["y"]
        np.testing.assert_array_equal(got, local.run({"x": x})["y"])
        assert got.shape == (batch, 4)
        sizes.append((child.inputs.size, child.outputs.size))
    assert sizes[-1][0] >= 20000 * 8 * 4
    assert sizes[-1][1] >= 20000 * 4 * 4
    assert len(child.inputs.history) > 1  # it grew
    assert len(child.outputs.history) > 1
    if sys.platform == "linux":  # replaced blocks are unlinked at once: two live segments
        live = set(block_names(isolated)) & segments()
        assert live == {child.inputs.name, child.outputs.name}


def test_transport_of_awkward_arrays(echo: IsolatedBackend) -> None:
    feeds = {
        "object": np.array(["a", None, 3], dtype=object),
        "unicode": np.array(["edge", "infer"]),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.int32),
        "strided": np.arange(24, dtype=np.int16).reshape(4, 6)[:, ::2],
        "fortran": np.asfortranarray(RNG.standard_normal((3, 5))),
        "big_endian": np.arange(5, dtype=">u4"),
        "complex": np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
        "bool": np.array([[True], [False]]),
        "f16": np.array([0.5, -1.0], dtype=np.float16),
    }
    got = echo.run(feeds)
    assert list(got) == list(feeds)
    for name, value in feeds.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        np.testing.assert_array_equal(got[name], value)
        assert got[name].flags.writeable, name
    again = echo.run(feeds)  # the same layout: the steady-state path
    for name, value in feeds.items():
        np.testing.assert_array_equal(again[name], value)
        assert not np.shares_memory(again[name], got[name]), name


# --- crashes become DeviceError ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "how"),
    [("segfault", "SIGSEGV"), ("abort", "SIGABRT"), ("exit", "exit code 3")],
)
def test_crash_in_run_is_a_device_error(tmp_path: Path, mode: str, how: str) -> None:
    backend = crashing(tmp_path, mode)
    with pytest.raises(DeviceError, match=f"crashing backend process .* died with {how}"):
        backend.run({"x": np.ones((1, 4), np.float32)})
    names = block_names(backend)
    assert not backend.alive
    started = time.perf_counter()
    with pytest.raises(DeviceError, match=f"died with {how}.*this isolated instance is closed"):
        backend.run({"x": np.ones((1, 4), np.float32)})
    assert time.perf_counter() - started < 0.1  # refused at once
    assert_gone(backend, names)
    backend.close()  # still idempotent


def test_hang_in_run_times_out(tmp_path: Path) -> None:
    backend = crashing(tmp_path, "hang")
    started = time.perf_counter()
    with pytest.raises(DeviceError, match=r"did not answer within 1 s; the process was stopped"):
        backend.run({"x": np.ones((1, 4), np.float32)}, timeout=1)
    assert 0.9 < time.perf_counter() - started < 5
    assert not backend.alive
    with pytest.raises(DeviceError, match="did not answer"):
        backend.run_with_timeout({"x": np.ones((1, 4), np.float32)}, 1)
    assert_gone(backend, block_names(backend))


def test_crash_in_open_is_a_device_error(tmp_path: Path) -> None:
    before = children()
    with pytest.raises(DeviceError, match=r"crashing backend process .* opening .* SIGSEGV"):
        crashing(tmp_path, "segfault", when="open")
    assert children() == before


def test_hang_in_open_respects_start_timeout(tmp_path: Path) -> None:
    before, started = children(), time.perf_counter()
    with pytest.raises(DeviceError, match=r"did not open it within 1 s; the process was stopped"):
        crashing(tmp_path, "hang", when="open", start_timeout=1)
    assert time.perf_counter() - started < 6
    assert children() == before


# --- errors the backend raises come back as themselves ----------------------------------------
@pytest.mark.backend("onnxruntime")
def test_broken_model_is_a_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is not a protobuf \xff\xff\xff")
    with pytest.raises(ModelError) as raised:
        start(broken)
    cause = raised.value.__cause__
    assert isinstance(cause, BackendProcessTraceback)
    assert "Traceback" in str(cause)
    assert "ModelError" in str(cause)


def test_errors_in_open_keep_their_class(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="crashing cannot read the model") as raised:
        crashing(tmp_path, "model_error", when="open")
    cause = raised.value.__cause__
    assert isinstance(cause, BackendProcessTraceback)
    assert cause.native is not None
    assert "native read failure" in cause.native
    with pytest.raises(BackendUnavailable, match="cannot import no_such_module:Backend"):
        start(tmp_path / "model.onnx", "no_such_module:Backend", "ghost")


@pytest.mark.backend("onnxruntime")
def test_configuration_errors_in_open_keep_their_class(one_op: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown onnxruntime option"):
        start(one_op, extra={"no_such_option": 1})


@pytest.mark.backend("onnxruntime")
def test_runtime_errors_in_run_keep_their_class(pair_one_op: Any) -> None:
    _, isolated = pair_one_op
    with pytest.raises(InvalidInput):  # onnxruntime's InvalidArgument on a wrong shape
        isolated.run({"x": np.ones((2, 3), np.float32)})
    assert isolated.alive
    assert isolated.run({"x": np.ones((1, 16), np.float32)})["y"].shape == (1, 16)


def test_raised_errors_in_run_keep_their_class_and_the_instance(tmp_path: Path) -> None:
    raising = crashing(tmp_path, "device_error")
    try:
        with pytest.raises(DeviceError, match="fell off the bus"):
            raising.run({"x": np.ones((1, 4), np.float32)})
        assert raising.alive  # a raised error is not a crash
        with pytest.raises(DeviceError, match="fell off the bus"):
            raising.run({"x": np.ones((1, 4), np.float32)})
    finally:
        raising.close()


def test_backend_bug_is_an_inference_error(tmp_path: Path) -> None:
    backend = crashing(tmp_path, "bug")
    try:
        with pytest.raises(InferenceError, match="ZeroDivisionError: division by zero"):
            backend.run({"x": np.ones((1, 4), np.float32)})
    finally:
        backend.close()


def test_options_must_pickle(tmp_path: Path) -> None:
    before = children()
    with pytest.raises(ConfigurationError, match="cannot be pickled"):
        start(tmp_path / "model.onnx", extra={"callback": lambda: None})
    assert children() == before


def test_target_of() -> None:
    assert target_of(OnnxRuntimeBackend) == ORT
    assert target_of(crashing_backend.CrashingBackend) == crashing_backend.TARGET
    from fake_backend import make_fake

    with pytest.raises(ConfigurationError, match="define it at the top level"):
        target_of(make_fake("local_fake"))


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="no posix_fallocate here")
def test_full_shared_memory_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeinfer._isolation.shared_memory as shm

    def full(fd: int, offset: int, size: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shm.os, "posix_fallocate", full)
    before = segments() if sys.platform == "linux" else set()
    with pytest.raises(InferenceError, match="--shm-size"):
        shm.OwnedBlock().ensure(1 << 20)
    if sys.platform == "linux":
        assert segments() == before


def test_an_isolated_backend_is_a_session_not_a_registry_backend() -> None:
    assert issubclass(IsolatedBackend, Session)
    assert not issubclass(IsolatedBackend, Backend)
    assert IsolatedBackend.bounded_runs


# --- lifetime: nothing left behind -------------------------------------------------------------
def test_close_leaves_nothing_behind(tmp_path: Path) -> None:
    backend = crashing(tmp_path, "ok")
    assert backend.run({"x": np.ones((1, 4), np.float32)})["y"][0, 0] == 2
    names = block_names(backend)
    if sys.platform == "linux":
        assert set(names) <= segments()
    backend.close()
    backend.close()
    assert_gone(backend, names)
    with pytest.raises(InferenceError, match="is closed"):
        backend.run({"x": np.ones((1, 4), np.float32)})


def test_garbage_collection_stops_the_process(tmp_path: Path) -> None:
    backend = crashing(tmp_path, "ok")
    backend.run({"x": np.ones((1, 4), np.float32)})
    pid, names = backend.pid, block_names(backend)
    del backend
    gc.collect()
    assert pid is not None
    assert not psutil.pid_exists(pid)
    if sys.platform == "linux":
        assert not set(names) & segments()


def test_close_stops_a_hanging_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeinfer._isolation.backend as isolate

    monkeypatch.setattr(isolate, "_CLOSE_WAIT", 0.5)
    backend = crashing(tmp_path, "hang")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            backend.run({"x": np.ones((1, 4), np.float32)})
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.2)
    backend.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], DeviceError)
    assert "closed during this call" in str(errors[0])
    assert_gone(backend, block_names(backend))


def test_interrupted_call_stops_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer._isolation.process import Child

    backend = crashing(tmp_path, "ok")

    def interrupted(self: Any, deadline: float | None) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Child, "receive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.run({"x": np.ones((1, 4), np.float32)})
    monkeypatch.undo()
    with pytest.raises(DeviceError, match="a call was interrupted"):
        backend.run({"x": np.ones((1, 4), np.float32)})
    assert_gone(backend, block_names(backend))


PARENT = """
import sys
sys.path[:0] = {path!r}
from pathlib import Path
import numpy as np
from edgeinfer import DeviceRequest, OpenOptions
from edgeinfer._isolation.backend import IsolatedBackend
backend = IsolatedBackend.start(
    "crashing", "crashing_backend:CrashingBackend", Path({model!r}), DeviceRequest("cpu"),
    OpenOptions(extra={{"mode": "hang"}}),
)
print(backend.pid, flush=True)
backend.run({{"x": np.ones((1, 4), np.float32)}})
"""


def _exited(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL and /dev/shm: Linux")
def test_backend_process_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.touch()
    code = PARENT.format(path=sys.path, model=str(model))
    # Output to files, not pipes: a backend process that outlived its parent would hold a pipe
    # open and a read on it would never end.
    with (tmp_path / "out.txt").open("w+") as out, (tmp_path / "err.txt").open("w+") as err:
        parent = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err)
        pid = None
        try:
            deadline = time.monotonic() + 30
            while pid is None and time.monotonic() < deadline and parent.poll() is None:
                time.sleep(0.05)
                out.seek(0)
                line = out.readline()
                pid = int(line) if line.endswith("\n") else None
            assert pid is not None, (tmp_path / "err.txt").read_text()
            time.sleep(0.3)  # the call is under way: the backend process sleeps in run()
            assert not _exited(pid)
            prefix = f"{PREFIX}{parent.pid:x}_"
            assert [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]
            parent.send_signal(signal.SIGKILL)
            parent.wait(5)
            deadline = time.monotonic() + 5
            while not _exited(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _exited(pid), (tmp_path / "err.txt").read_text()
            # multiprocessing's resource tracker unlinks what the killed parent left behind.
            while time.monotonic() < deadline and any(
                name.startswith(prefix) for name in os.listdir("/dev/shm")
            ):
                time.sleep(0.05)
            assert not [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]
        finally:
            parent.kill()
            parent.wait()
            if pid is not None and not _exited(pid):
                os.kill(pid, signal.SIGKILL)  # the backend process this test started


# --- threads -----------------------------------------------------------------------------------
@pytest.mark.backend("onnxruntime")
def test_threads_share_one_instance(pair_dynamic: tuple[Any, IsolatedBackend]) -> None:
    local, isolated = pair_dynamic
    inputs = [RNG.standard_normal((batch, 8), dtype=np.float32) for batch in range(1, 41)]
    expected = [local.run({"x": x})["y"] for x in inputs]
    failures: list[str] = []

    def worker(offset: int) -> None:
        for i in range(offset, offset + 4 * len(inputs), 4):
            index = i % len(inputs)
            got = isolated.run({"x": inputs[index]})["y"]
            if not np.array_equal(got, expected[index]):
                failures.append(f"call {i}: wrong result for batch {index + 1}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    assert isolated.alive
