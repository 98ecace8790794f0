"""The remote backend against a real server: ``python -m edgeinfer.serve`` (KServe's
ModelServer) on loopback, serving edgeinfer models built here. Skipped where KServe or
tritonclient is missing (``nox -s serve`` installs both)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import DeviceError, InvalidInput, ModelError, TensorSpec
from edgeinfer._planning.formats import ModelUrl
from edgeinfer.testing import BackendContract
from oip_server import (
    HAVE_CLIENT,
    HAVE_KSERVE,
    NO_CLIENT,
    NO_KSERVE,
    Server,
    metadata,
    self_signed,
    serving,
)

pytestmark = [
    pytest.mark.skipif(not HAVE_KSERVE, reason=NO_KSERVE),
    pytest.mark.skipif(not HAVE_CLIENT, reason=NO_CLIENT),
    pytest.mark.backend("remote"),
]


def build_tied(path: Path) -> Path:
    """``y = a + b`` with a and b float32 ["n"]: one size for both, which only the model knows."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])],
        "tied",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n"]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import onnx_models

    folder = tmp_path_factory.mktemp("served")
    found = {
        name: onnx_models.ALL_BUILDERS[name](folder / f"{name}.onnx")
        for name in ("one_op", "multi_io", "dynamic_batch", "mobilenet_v2")
    }
    found["tied"] = build_tied(folder / "tied.onnx")
    return found


@pytest.fixture(scope="module")
def server(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(list(models.values()), tmp_path_factory.mktemp("logs")) as running:
        yield running


def _inputs(specs: tuple[TensorSpec, ...], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        shape = tuple(2 if d is None else d for d in spec.shape or ())
        if spec.dtype == np.bool_:
            feeds[spec.name] = rng.random(shape) > 0.5
        elif spec.dtype.kind in "iu":
            feeds[spec.name] = rng.integers(0, 4, shape).astype(spec.dtype)
        else:
            feeds[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
    return feeds


# --- the shipped contract suite ----------------------------------------------------------
class TestRemoteContract(BackendContract):
    """The remote backend passes edgeinfer's contract suite: its "model file" is a model URL."""

    backend = "remote"
    device = "remote"

    @pytest.fixture
    def model_path(self, server: Server) -> Path:
        return ModelUrl(server.url("multi_io"))  # type: ignore[return-value]

    def test_a_corrupt_file_is_a_model_error(  # type: ignore[override]
        self, backend_class: type[edgeinfer.Backend], server: Server
    ) -> None:
        """A URL has no bytes to corrupt: the same promise for a model the server lacks."""
        with pytest.raises(ModelError, match="HTTP 404"):
            self._open(backend_class, ModelUrl(server.url("no_such_model")))  # type: ignore[arg-type]


class TestRemoteContractJson(TestRemoteContract):
    options = {"binary": False}  # noqa: RUF012 - the suite's class attribute


# --- results -------------------------------------------------------------------------------
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("name", ["one_op", "multi_io", "dynamic_batch", "mobilenet_v2"])
def test_remote_outputs_equal_the_local_run(
    server: Server, models: dict[str, Path], name: str, binary: bool
) -> None:
    with (
        edgeinfer.load(server.url(name), options={"remote": {"binary": binary}}) as remote,
        edgeinfer.load(models[name], backend="onnxruntime", threads=1) as local,
    ):
        assert remote.backend == "remote"
        assert remote.device == "remote"
        assert [(s.name, s.dtype) for s in remote.inputs] == [
            (s.name, s.dtype) for s in local.inputs
        ]
        feeds = _inputs(local.inputs)
        got, want = remote.run(feeds), local.run(feeds)
        assert list(got) == list(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
            assert got[key].flags.writeable


def test_metadata_gives_dynamic_dimensions_as_none(server: Server) -> None:
    assert metadata(server, "dynamic_batch")["inputs"] == [
        {"name": "x", "datatype": "FP32", "shape": [-1, 8]}
    ]
    with edgeinfer.load(server.url("dynamic_batch")) as model:
        assert model.inputs == (TensorSpec("x", (None, 8), np.dtype(np.float32)),)
        assert model.run(np.ones((5, 8), np.float32))["y"].shape == (5, 4)
        text = model.explain()
        assert "privacy: every call now: inputs are sent to" in text
        assert "inputs stay on this machine (loopback)" in text


# --- typed errors ----------------------------------------------------------------------------
def test_wrong_shapes_are_invalid_input_locally_and_from_the_server(server: Server) -> None:
    with edgeinfer.load(server.url("dynamic_batch")) as model, pytest.raises(InvalidInput):
        model.run(np.ones((2, 9), np.float32))  # checked against the metadata's specs
    with edgeinfer.load(server.url("tied")) as model:
        a, b = np.ones(2, np.float32), np.ones(3, np.float32)
        with pytest.raises(InvalidInput, match="HTTP 400"):
            model.run({"a": a, "b": b})  # only the server's model ties the two sizes
        assert not model.history  # refused input: nothing fell back


def test_an_oversized_payload_is_refused_before_it_is_sent(server: Server) -> None:
    options = {"remote": {"max_request_bytes": 1024}}
    with edgeinfer.load(server.url("dynamic_batch"), options=options) as model:
        model.run(np.ones((4, 8), np.float32))
        with pytest.raises(InvalidInput, match="over the remote backend's max_request_bytes"):
            model.run(np.ones((64, 8), np.float32))


def test_an_unknown_model_is_a_model_error(server: Server) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        edgeinfer.load(server.url("nope"), fallback=False)


# --- serving -----------------------------------------------------------------------------
def test_readiness_and_metrics_of_the_served_models(server: Server) -> None:
    with edgeinfer.load(server.url("one_op")) as model:
        model.run(np.ones((1, 16), np.float32))
    assert server.get("/v2/models/one_op/ready")[0] == 200
    status, body = server.get("/metrics")
    assert status == 200
    text = body.decode()
    assert 'edgeinfer_calls_total{backend="onnxruntime",device="cpu",model="one_op"}' in text
    assert 'edgeinfer_model_health_status{model="one_op",status="ok"} 1.0' in text


@pytest.mark.usefixtures("clean_registry")
def test_readiness_follows_model_health(model_file: Path) -> None:
    """The adapter's readiness is Model.health(): a golden output that changed is not ready."""
    from edgeinfer.serving import EdgeInferModel
    from fake_backend import make_fake, register

    fake = make_fake("fake-drift", fail=None)
    register(fake)
    model = edgeinfer.load(model_file, backend="fake-drift")
    adapter = EdgeInferModel("drift", model, health_interval=0.0)
    assert adapter.load()
    assert asyncio.run(adapter.healthy())
    fake.factor = 3.0  # the same input now gives another output: the golden test fails
    asyncio.run(adapter.healthy())  # answers at once from the last check, starts the next
    assert not asyncio.run(adapter.healthy())
    assert adapter.last_health is not None
    assert adapter.last_health.status == "failed"
    model.close()
    assert not asyncio.run(adapter.healthy())


# --- the server dies mid-run -------------------------------------------------------------
def test_a_server_killed_mid_run_falls_back_to_the_local_model_nothing_lost(
    models: dict[str, Path], tmp_path: Path
) -> None:
    path = models["dynamic_batch"]
    calls = [np.full((3, 8), k, np.float32) for k in range(40)]
    with edgeinfer.load(path, backend="onnxruntime") as reference:
        expected = [reference.run(x)["y"] for x in calls]
    with serving([path], tmp_path) as doomed:
        url = doomed.url("dynamic_batch")
        with (
            edgeinfer.load([url, path], device=["remote", "cpu"]) as model,
            edgeinfer.load(url, fallback=False) as alone,
        ):
            assert model.backend == "remote"
            for k, x in enumerate(calls):
                if k == 10:
                    doomed.process.send_signal(signal.SIGKILL)
                    doomed.process.wait(30)
                np.testing.assert_allclose(model.run(x)["y"], expected[k], rtol=1e-6)
            assert model.backend == "onnxruntime"
            fallback = next(e for e in model.history if e.kind == "fallback")
            assert (fallback.from_backend, fallback.to_backend) == ("remote", "onnxruntime")
            assert "DeviceError" in (fallback.error or "")
            with pytest.raises(DeviceError, match="Connection"):
                alone.run(calls[0])


# --- TLS ---------------------------------------------------------------------------------
def test_tls_is_verified_against_the_given_ca(models: dict[str, Path], tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with serving([models["one_op"]], tmp_path, tls=(cert, key)) as secure:
        url = secure.url("one_op")
        assert url.startswith("https://127.0.0.1:")
        with pytest.raises(DeviceError, match="certificate"):
            edgeinfer.load(url, fallback=False, options={"remote": {"retries": 0}})
        with edgeinfer.load(url, options={"remote": {"ca_file": str(cert)}}) as model:
            assert model.details["transport"] == "TLS, verified"
            x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
            np.testing.assert_array_equal(model.run(x)["y"], np.maximum(x, 0))


# --- offloading --------------------------------------------------------------------------
def test_a_latency_budget_offloads_to_the_real_server(
    server: Server, models: dict[str, Path]
) -> None:
    policy = edgeinfer.OffloadPolicy(
        latency_budget_us=0.001, thermal=False, check_every=0.05, min_calls=5, hold=3600
    )
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    with edgeinfer.load(
        models["one_op"], options={"remote": {"url": server.url("one_op")}}, offload=policy
    ) as model:
        assert model.backend == "onnxruntime"
        deadline = time.monotonic() + 10
        while model.backend != "remote" and time.monotonic() < deadline:
            np.testing.assert_array_equal(model.run(x)["y"], np.maximum(x, 0))
        np.testing.assert_array_equal(model.run(x)["y"], np.maximum(x, 0))
        assert model.backend == "remote"
        event = next(e for e in model.history if e.kind == "offloaded")
        assert "over the latency budget" in (event.error or "")
        assert "inputs are sent to" in model.explain()
