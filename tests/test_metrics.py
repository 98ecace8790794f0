"""edgeinfer.metrics: Prometheus text, with and without prometheus-client."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import metrics

pytestmark = pytest.mark.backend("onnxruntime")


@pytest.fixture
def model(one_op: Path) -> edgeinfer.Model:
    loaded = edgeinfer.load(one_op, backend="onnxruntime")
    for _ in range(20):
        loaded.run(np.ones((1, 16), np.float32))
    return loaded


def samples(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            found.setdefault(name, []).append(line)
    return found


def test_plain_text_writer(model: edgeinfer.Model, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "prometheus_client" else real(name, *a),
    )
    text = metrics.render({"relu": model}, health=True)
    found = samples(text)
    assert found["edgeinfer_calls_total"] == [
        'edgeinfer_calls_total{model="relu",backend="onnxruntime",device="cpu"} 19.0'
    ]  # 20 calls, the first (cold) one kept apart
    assert len(found["edgeinfer_latency_microseconds"]) == 5
    assert 'quantile="0.99"' in text
    assert 'edgeinfer_model_health_status{model="relu",status="ok"}' in text or (
        'status="degraded"} 1.0' in text
    )
    assert "edgeinfer_memory_available_bytes" in found
    assert "# TYPE edgeinfer_calls_total counter" in text


def test_text_parses_with_prometheus_client(model: edgeinfer.Model) -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    for text in (metrics.render(model), metrics._text(metrics.collect(model))):
        names = {family.name for family in parser.text_string_to_metric_families(text)}
        assert {
            "edgeinfer_calls",
            "edgeinfer_latency_microseconds",
            "edgeinfer_process_rss_bytes",
        } <= names


def test_unknown_values_are_left_out_not_zero(one_op: Path) -> None:
    fresh = edgeinfer.load(one_op, backend="onnxruntime")
    text = metrics._text(metrics.collect(fresh, system=False))
    assert "edgeinfer_latency_microseconds" not in text  # no calls yet: no quantiles
    assert "edgeinfer_calls_total" in text


def test_fallback_events_are_counted(tmp_path: Path, clean_registry: None) -> None:
    from fake_backend import make_fake

    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    edgeinfer.register_backend(
        "first",
        make_fake("first", fail=lambda n: edgeinfer.DeviceError("gone") if n == 2 else None),
    )
    edgeinfer.register_backend("second", make_fake("second"))
    fallback = edgeinfer.load(path, device="cpu", backend=["first", "second"], warmup=0)
    for _ in range(3):
        fallback.run(np.ones((1, 4), np.float32))
    text = metrics._text(metrics.collect({"m": fallback}, system=False))
    assert 'edgeinfer_fallback_events_total{model="m",kind="fallback"} 1.0' in text


def test_register_with_prometheus_client(model: edgeinfer.Model) -> None:
    client = pytest.importorskip("prometheus_client")
    registry = client.CollectorRegistry()
    metrics.register({"relu": model}, system=False, registry=registry)
    text = client.generate_latest(registry).decode()
    assert 'edgeinfer_calls_total{backend="onnxruntime",device="cpu",model="relu"}' in text


def test_own_writer_spells_special_values_as_the_format_says() -> None:
    family = metrics.Family("edgeinfer_test", "gauge", "help with \\ and\nnewline")
    for label, value in (("up", float("inf")), ("down", float("-inf")), ("nan", float("nan"))):
        family.add({"case": label, "quote": 'a "b"\\c'}, value)
    family.add({"case": "finite", "quote": ""}, 1e-7)
    text = metrics._text([family])
    assert 'case="up",quote="a \\"b\\"\\\\c"} +Inf' in text
    assert "} -Inf" in text
    assert "} NaN" in text
    assert "# HELP edgeinfer_test help with \\\\ and\\nnewline" in text
    parser = pytest.importorskip("prometheus_client.parser")
    (parsed,) = parser.text_string_to_metric_families(text)
    values = {sample.labels["case"]: sample.value for sample in parsed.samples}
    assert values["up"] == float("inf")
    assert values["down"] == float("-inf")
    assert np.isnan(values["nan"])
    assert values["finite"] == 1e-7
    assert parsed.documentation == "help with \\ and\nnewline"
