"""``load(..., select="fastest")``: measured choice, the accuracy guard, the decision cache."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import edgeinfer
from edgeinfer import Availability, ConfigurationError
from fake_backend import FakeBackend, make_fake, register

pytestmark = pytest.mark.usefixtures("clean_registry")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEINFER_CACHE", str(cache))
    return cache


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    return path


class _Timed(FakeBackend):
    delay: ClassVar[float] = 0.0

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        time.sleep(self.delay)
        return super().run(feeds)


def timed(name: str, delay: float, factor: float = 2.0, version: str = "1") -> type[FakeBackend]:
    base = make_fake(name, factor=factor, available=Availability(True, "here", version=version))
    return type(f"Timed_{name}", (_Timed, base), {"delay": delay})


def test_the_fastest_eligible_candidate_serves_and_the_figures_say_why(model_file: Path) -> None:
    slow, fast, wrong = timed("slow", 0.004), timed("fast", 0.001), timed("wrong", 0.0, 2.5)
    register(slow, fast, wrong)
    model = edgeinfer.load(
        model_file, backend=["slow", "fast", "wrong"], select="fastest", select_budget=0.5
    )
    assert model.backend == "fast"
    selection = model.selection
    assert selection is not None
    assert not selection.cached
    trials = {trial.backend: trial for trial in selection.trials}
    assert trials["slow"].max_error == 0.0  # the reference: the plan's first
    assert not trials["wrong"].eligible  # the fastest of all, but its outputs differ
    assert "differ from the reference by 2.5e-01" in trials["wrong"].reason
    eligible = [t for t in selection.trials if t.eligible]
    assert min(eligible, key=lambda t: t.p50_us or 0).backend == "fast"
    assert all(t.calls >= 5 for t in eligible)
    assert trials["wrong"].calls == 0  # never timed
    text = model.explain()
    assert "chosen: the fastest eligible" in text
    assert "not eligible" in text
    assert any("chosen" in attempt.reason for attempt in model.attempts)
    # the losers were closed and stand by in the chain, to be opened again on need
    assert [c.state for c in model.candidates] == ["serving", "not opened", "not opened"]
    np.testing.assert_array_equal(model.run(np.ones((1, 4), np.float32))["y"], np.full((1, 4), 2))


def test_a_wider_max_error_makes_a_different_candidate_eligible(model_file: Path) -> None:
    register(timed("exact", 0.004), timed("close", 0.0, 2.05))  # 2.5% off
    tight = edgeinfer.load(model_file, backend=["exact", "close"], select="fastest",
                           select_budget=0.2)  # fmt: skip
    assert tight.backend == "exact"
    loose = edgeinfer.load(model_file, backend=["exact", "close"], select="fastest",
                           select_budget=0.2, max_error=0.05)  # fmt: skip
    assert loose.backend == "close"


def test_the_choice_is_cached_and_a_runtime_change_invalidates_it(
    model_file: Path, private_cache: Path
) -> None:
    slow, fast = timed("slow", 0.003), timed("fast", 0.0005)
    register(slow, fast)
    first = edgeinfer.load(model_file, backend=["slow", "fast"], select="fastest",
                           select_budget=0.3)  # fmt: skip
    assert first.backend == "fast"
    assert list((private_cache / "selection").glob("*.json"))
    slow.opened.clear()
    fast.opened.clear()
    started = time.perf_counter()
    again = edgeinfer.load(model_file, backend=["slow", "fast"], select="fastest")
    assert time.perf_counter() - started < 0.25  # no trial
    assert again.backend == "fast"
    assert again.selection is not None
    assert again.selection.cached
    assert slow.opened == []  # only the cached choice was opened
    assert "the cached choice measured at" in again.explain()
    # a new runtime version is another key: measured again
    faster_slow = timed("slow", 0.003, version="2")
    register(faster_slow)
    measured = edgeinfer.load(model_file, backend=["slow", "fast"], select="fastest",
                              select_budget=0.3)  # fmt: skip
    assert measured.selection is not None
    assert not measured.selection.cached
    assert len(faster_slow.opened) == 1
    # refresh=True measures again, whatever the cache says
    fast.opened.clear()
    refreshed = edgeinfer.load(model_file, backend=["slow", "fast"], select="fastest",
                               select_budget=0.3, refresh=True)  # fmt: skip
    assert refreshed.selection is not None
    assert not refreshed.selection.cached


def test_a_model_that_cannot_be_measured_serves_the_first_with_the_reason(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["ids"], ["y"])],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [1, 4])],
    )
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model_proto.ir_version = 8
    path = tmp_path / "ids.onnx"
    onnx.save(model_proto, str(path))
    model = edgeinfer.load(path, backend=["onnxruntime", "openvino"], select="fastest")
    assert model.backend == "onnxruntime"
    assert model.selection is None
    assert any("selection: not measured (input 'ids' is int64" in n for n in model.notes)
    ids = np.arange(4).reshape(1, 4)
    measured = edgeinfer.load(path, backend=["onnxruntime", "openvino"], select="fastest",
                              warmup_inputs=ids, select_budget=0.3)  # fmt: skip
    assert measured.selection is not None
    assert {t.backend for t in measured.selection.trials} == {"onnxruntime", "openvino"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"select": "best"}, "select must be"),
        ({"select": "fastest", "max_error": -1}, "max_error must be a positive"),
        ({"select": "fastest", "select_budget": 0}, "select_budget must be a positive"),
        ({"refresh": True}, "apply to select='fastest' only"),
    ],
)
def test_bad_selection_arguments(model_file: Path, kwargs: dict, match: str) -> None:
    register(make_fake("fake"))
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(model_file, backend="fake", **kwargs)


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("openvino")
def test_on_a_reference_workload_the_choice_has_the_lowest_measured_p50() -> None:
    from edgeinfer.bench._workloads import ensure

    path = ensure("ds_cnn", "onnx", "fp32")
    model = edgeinfer.load(path, device="cpu", select="fastest", select_budget=1.0, threads=1)
    assert model.selection is not None
    eligible = [t for t in model.selection.trials if t.eligible]
    assert len(eligible) >= 2  # onnxruntime and openvino (fp32 on this CPU, or bf16 within 1e-2)
    fastest = min(eligible, key=lambda t: t.p50_us or float("inf"))
    assert model.backend == fastest.backend
