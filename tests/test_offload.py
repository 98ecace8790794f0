"""The offload policy's machinery, on fake backends (never a runtime): a local candidate that is
slow or under (injected) thermal strain moves its calls to the remote candidate and back, every
switch recorded; a model without a policy does nothing new on a call."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ConfigurationError, DeviceError, OffloadPolicy
from fake_backend import FakeBackend, make_fake, register

pytestmark = pytest.mark.usefixtures("clean_registry")
URL = "http://127.0.0.1:9/v2/models/tiny"
X = np.ones((1, 4), np.float32)


def _chain(model_file: Path, delay: float = 0.0) -> tuple[type[FakeBackend], type[FakeBackend]]:
    def slow(call: int) -> None:
        time.sleep(delay)

    local = make_fake("fake-local", factor=2.0, fail=slow if delay else None)
    remote = make_fake("fake-remote", factor=2.0, formats=("oip",), devices=("remote",))
    register(local, remote)
    return local, remote


def _run_for(model: edgeinfer.Model, seconds: float, until: str | None = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        np.testing.assert_array_equal(model.run(X)["y"], X * 2)
        if until is not None and any(e.kind == until for e in model.history):
            return


def test_without_a_policy_nothing_is_due(model_file: Path) -> None:
    _chain(model_file)
    with edgeinfer.load([model_file, URL]) as model:
        model.run(X)
        assert model._chain.probe_due is None  # Model.run's one test stays false
        assert model.offload_policy is None


def test_a_latency_budget_offloads_and_the_model_returns_when_healthy(model_file: Path) -> None:
    _chain(model_file, delay=0.002)
    policy = OffloadPolicy(
        latency_budget_us=500, thermal=False, check_every=0.05, min_calls=5, hold=0.3
    )
    with edgeinfer.load([model_file, URL], offload=policy) as model:
        assert model.offload_policy is policy
        assert "offload policy: offload to the remote candidate when the local p99" in (
            model.explain()
        )
        _run_for(model, 5.0, until="offloaded")
        assert model.backend == "fake-remote"
        [event] = [e for e in model.history if e.kind == "offloaded"]
        assert (event.from_backend, event.to_backend, event.to_device) == (
            "fake-local",
            "fake-remote",
            "remote",
        )
        assert "over the latency budget of 500 us" in (event.error or "")
        assert "inputs go to the server from now on" in event.describe()
        _run_for(model, 5.0, until="returned")
        assert any(e.kind == "returned" for e in model.history)
        assert model.event_counts["offloaded"] >= 1


def test_thermal_strain_offloads_and_its_end_brings_the_model_back(model_file: Path) -> None:
    _chain(model_file)
    strain: list[str] = []
    policy = OffloadPolicy(thermal=True, check_every=0.05, hold=0.2, strain=lambda: list(strain))
    with edgeinfer.load([model_file, URL], offload=policy) as model:
        _run_for(model, 0.3)
        assert model.backend == "fake-local"
        strain.append("cpu-thermal at 85 C, at or past its trip point")
        _run_for(model, 5.0, until="offloaded")
        assert model.backend == "fake-remote"
        event = next(e for e in model.history if e.kind == "offloaded")
        assert "the system reports cpu-thermal at 85 C" in (event.error or "")
        _run_for(model, 0.5)
        assert model.backend == "fake-remote"  # still hot: it stays offloaded
        strain.clear()
        _run_for(model, 5.0, until="returned")
        assert model.backend == "fake-local"


def test_a_failing_server_while_offloaded_goes_back_at_once_nothing_lost(
    model_file: Path,
) -> None:
    _, remote = _chain(model_file)
    remote.fail = staticmethod(lambda call: DeviceError("server gone") if call > 3 else None)
    policy = OffloadPolicy(thermal=True, check_every=0.05, hold=60, strain=lambda: ["hot"])
    with edgeinfer.load([model_file, URL], offload=policy) as model:
        _run_for(model, 5.0, until="offloaded")
        _run_for(model, 0.5)  # every call answered, whoever served it
        assert model.backend == "fake-local"
        assert any(e.kind == "fallback" and e.from_backend == "fake-remote" for e in model.history)


def test_offload_needs_a_remote_candidate_and_fallback(model_file: Path) -> None:
    _chain(model_file)
    with pytest.raises(ConfigurationError, match="needs a remote candidate"):
        edgeinfer.load(model_file, offload=OffloadPolicy(latency_budget_us=100))
    with pytest.raises(ConfigurationError, match="with fallback enabled"):
        edgeinfer.load([model_file, URL], offload=OffloadPolicy(), fallback=False)


@pytest.mark.parametrize(
    "arguments",
    [
        {"latency_budget_us": 0},
        {"latency_budget_us": None, "thermal": False},
        {"check_every": 0},
        {"min_calls": 500, "window": 100},
    ],
)
def test_policies_that_cannot_work_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        OffloadPolicy(**arguments)  # type: ignore[arg-type]
