"""``python -m edgeinfer.bench``: the command end to end on the reference workloads (real
runtimes, short runs), its JSON Schema, CSV, --compare, the parity exit status, and its parts."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import edgeinfer
from edgeinfer import Availability, Backend, DeviceRequest, OpenOptions, TensorSpec
from edgeinfer.bench import (
    EXIT_NOTHING_RAN,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_REGRESSION,
    EXIT_USAGE,
    SCHEMA,
    main,
)
from edgeinfer.bench._compare import compare
from edgeinfer.bench._harness import builtin_loop, pick_harness
from edgeinfer.bench._latency import summarize
from edgeinfer.bench._matrix import build_plan, default_duration
from edgeinfer.bench._parity import compare as parity_compare
from edgeinfer.bench._parity import convert_layout
from edgeinfer.bench._report import CSV_COLUMNS
from edgeinfer.bench._table import DROP_ORDER, fit, format_latency, print_results, table_rows

AVAILABLE = {info.name for info in edgeinfer.backends() if info.available}
needs_ort = pytest.mark.skipif("onnxruntime" not in AVAILABLE, reason="onnxruntime not usable")
# Short runs: correctness of the machinery, not numbers.
FAST = ["--duration", "0.2", "--min-queries", "8", "--warmup", "0.05", "--plain"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the module: each workload variant is built once."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEINFER_CACHE", str(cache))


def bench(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    """Run the command in this process; returns (exit status, JSON document)."""
    target = tmp_path / f"result-{len(list(tmp_path.iterdir()))}.json"
    status = main([*argv, "--json", str(target)])
    return status, json.loads(target.read_text()) if target.exists() else {}


@pytest.fixture(scope="module")
def suite(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default suite (every workload variant on every backend), once, with short runs."""
    folder = tmp_path_factory.mktemp("suite")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEINFER_CACHE", str(cache))
        out = io.StringIO()
        patch.setattr(sys, "stdout", out)
        status = main(
            [*FAST, "--harness", "builtin", "--json", str(folder / "r.json"), "--csv",
             str(folder / "r.csv")]
        )  # fmt: skip
    return {
        "status": status,
        "doc": json.loads((folder / "r.json").read_text()),
        "csv": (folder / "r.csv").read_text(),
        "out": out.getvalue(),
    }


# --- the command end to end --------------------------------------------------------------------
def test_default_suite_runs_every_variant_on_every_backend(suite: dict[str, Any]) -> None:
    assert suite["status"] == EXIT_OK, suite["out"]
    runs = suite["doc"]["runs"]
    from edgeinfer._planning.registry import entry, formats_of
    from edgeinfer.bench._workloads import WORKLOADS, variants

    for name in WORKLOADS:
        for fmt, precision in variants(name):
            # every backend that load(device="auto") would offer: tvm compiles ONNX only when
            # named (--backend tvm), and the bench says so
            readers = {
                i.name
                for i in edgeinfer.backends()
                if i.available and fmt in formats_of(entry(i.name))
            }
            ran = {r["backend"] for r in runs if (r["model"], r["format"], r["precision"]) == (
                name, fmt, precision)}  # fmt: skip
            assert ran == readers, (name, fmt, precision)
    for run in runs:
        assert run["status"] == "ok", run["error"]
        assert run["queries"] >= 8
        assert run["duration_s"] >= 0.2
        assert run["valid"], run["invalid_reasons"]
        latency = run["latency_us"]
        assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"]
        assert latency["p99"] <= latency["p999"] <= latency["max"]
        assert latency["iqr"] >= 0
        assert latency["std"] >= 0
        assert run["load_ms"] > 0
        assert run["first_inference_ms"] > 0
        assert run["headline"] == {"metric": "p90_us", "value": latency["p90"]}
        assert run["peak_rss_bytes"] is None or run["peak_rss_bytes"] > 0
        assert run["system"]["before"] is not None
        assert run["system"]["after"] is not None
        assert run["energy"]["joules_per_inference"] is not None or run["energy"]["reason"]
        assert run["parity"]["status"] in ("reference", "pass"), run["parity"]
    references = [r for r in runs if r["parity"]["status"] == "reference"]
    assert {(r["model"], r["precision"]) for r in references} == {
        (name, "fp32") for name in WORKLOADS
    }


def test_table_and_notes(suite: dict[str, Any]) -> None:
    out = suite["out"]
    for header in ("model", "variant", "backend", "load", "1st run", "p90*", "p99", "parity"):
        assert header in out
    assert "ref" in out
    assert "mobilenet_v2" in out
    assert "ds_cnn" in out
    assert f"machine {suite['doc']['fingerprint']['id']}" in out


def test_json_matches_its_schema(suite: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(suite["doc"], SCHEMA)
    fingerprint = suite["doc"]["fingerprint"]
    assert fingerprint["cores_logical"]
    assert fingerprint["python"]
    assert fingerprint["os"]
    assert set(fingerprint["runtimes"]) == AVAILABLE


def test_schema_option_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--schema"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["properties"]["schema_version"] == {"const": 1}


def test_csv_has_one_row_per_run(suite: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(suite["csv"])))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(suite["doc"]["runs"])
    first = rows[0]
    assert float(first["latency_p90_us"]) > 0
    assert first["parity_status"] == "reference"


def test_compare_flags_a_regression_beyond_noise(
    suite: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edgeinfer.bench import _compare

    # a busy test machine would make every row "not judged"; this test is about the verdicts
    monkeypatch.setattr(_compare, "busy_load", lambda run, cores: None)
    old = json.loads(json.dumps(suite["doc"]))
    verdicts = {row.verdict for row in compare(old, suite["doc"]).rows}
    assert verdicts <= {"same", "not judged"}  # not judged: 0.2 s of MobileNet has no slices
    ds = next(r for r in old["runs"] if r["id"].startswith("ds_cnn/tflite/fp32/litert"))
    args = ["ds_cnn", "--backend", "litert", "--precision", "fp32", *FAST, "--compare"]
    p90, slices = ds["headline"]["value"], list(ds["variation"]["segment_p90_us"])
    assert len(slices) == 10
    for factor, expected in ((3.0, EXIT_OK), (1 / 3, EXIT_REGRESSION)):
        # the old run 3x slower, then 3x faster: every slice, so the test sees it too
        ds["headline"]["value"] = p90 * factor
        ds["variation"]["segment_p90_us"] = [v * factor for v in slices]
        (tmp_path / "old.json").write_text(json.dumps(old))
        status, _ = bench(tmp_path, *args, str(tmp_path / "old.json"))
        out = capsys.readouterr().out
        assert status == expected, out
        assert ("REGRESSION" in out) is (expected == EXIT_REGRESSION)
        assert f"{len(old['runs']) - 1} run(s) only in" in out


def test_compare_tolerates_noise() -> None:
    def doc(value: float, slices: list[float]) -> dict[str, Any]:
        run = {"model": "m", "format": "onnx", "precision": "fp32", "backend": "b",
               "device": "cpu", "device_requested": "auto", "scenario": "single-stream",
               "status": "ok", "headline": {"metric": "p90_us", "value": value},
               "variation": {"cv": 0.01, "segment_p90_us": slices}}  # fmt: skip
        return {"fingerprint": {}, "settings": {"quick": False}, "runs": [run]}

    steady = [100.0 + k / 10 for k in range(10)]
    shifted = [v * 1.1 for v in steady]
    assert compare(doc(100, steady), doc(104, [v * 1.04 for v in steady])).rows[0].verdict == (
        "same"  # significant, but < 5%
    )
    assert compare(doc(100, steady), doc(110, shifted)).rows[0].verdict == "regression"
    # the same headlines, but slices that overlap: the test does not pass, within noise
    noisy = [80.0, 120.0, 95.0, 105.0, 90.0, 130.0, 100.0, 85.0, 115.0, 110.0]
    assert compare(doc(100, steady), doc(110, noisy)).rows[0].verdict == "same"
    assert compare(doc(100, steady), doc(80, [v * 0.8 for v in steady])).rows[0].verdict == (
        "improvement"
    )


class _Negated(Backend):
    """ONNX Runtime with every output negated: a backend that is fast and wrong (test only)."""

    name: ClassVar[str] = "negated"
    formats: ClassVar[tuple[str, ...]] = ("onnx",)

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, "a test backend")

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> Backend:
        from edgeinfer._planning.registry import backend_class

        return cls(backend_class("onnxruntime").open(path, device, options))

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.inner.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.inner.outputs

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: -value for name, value in self.inner.run(feeds).items()}

    def close(self) -> None:
        self.inner.close()


class _Missing(_Negated):
    name: ClassVar[str] = "missing"

    @classmethod
    def availability(cls) -> Availability:
        return Availability(False, "its runtime is not installed", "pip install missing-runtime")


@pytest.fixture
def fake_backends(clean_registry: None) -> Iterator[None]:
    edgeinfer.register_backend("negated", _Negated)
    edgeinfer.register_backend("missing", _Missing)
    return


@needs_ort
@pytest.mark.usefixtures("fake_backends")
def test_parity_failure_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime,negated", "--backend",
            "missing"]  # fmt: skip
    status, doc = bench(tmp_path, *argv, *FAST)
    out = capsys.readouterr().out
    assert status == EXIT_PARITY, out
    parity = {r["backend"]: r["parity"] for r in doc["runs"]}
    assert parity["onnxruntime"]["status"] == "reference"
    assert parity["negated"]["status"] == "fail"
    assert parity["negated"]["top1_agreement"] < 0.5
    assert "PARITY FAIL ds_cnn/onnx/fp32/negated" in out
    # The unavailable backend is listed with why and the fix, in the table's notes and the JSON.
    assert "not available: missing: its runtime is not installed; fix: pip install missing" in out
    assert doc["unavailable"] == [
        {"backend": "missing", "reason": "its runtime is not installed",
         "hint": "pip install missing-runtime", "formats": ["onnx"]}
    ]  # fmt: skip
    assert doc["summary"]["parity_failures"] == 1


@needs_ort
def test_fp32_reference_comes_from_onnxruntime_when_only_int8_runs(tmp_path: Path) -> None:
    status, doc = bench(tmp_path, "ds_cnn", "--precision", "int8", "--backend", "litert", *FAST)
    assert status == EXIT_OK
    (run,) = doc["runs"]
    assert run["parity"]["status"] == "pass"
    assert run["parity"]["reference"].startswith("ds_cnn/onnx/fp32/onnxruntime")
    assert run["parity"]["thresholds"]["top1_agreement"] == 0.75


@needs_ort
def test_offline_scenario_on_a_model_path_batches(tmp_path: Path, dynamic_batch: Path) -> None:
    status, doc = bench(tmp_path, str(dynamic_batch), "--scenario", "offline", *FAST)
    assert status == EXIT_OK
    first = doc["runs"][0]
    assert first["backend"] == "onnxruntime"
    assert first["parity"]["status"] == "reference"
    assert first["offline_mode"] == "batch"
    assert first["batch"] == 8
    assert first["samples"] == 8 * first["queries"]
    assert first["headline"] == {"metric": "throughput", "value": first["throughput"]}
    assert all(r["parity"]["status"] in ("reference", "pass") for r in doc["runs"])


@needs_ort
def test_a_folder_of_variants_is_one_parity_group(tmp_path: Path) -> None:
    from edgeinfer.bench._workloads import ensure

    folder = tmp_path / "kws"
    folder.mkdir()
    shutil.copy(ensure("ds_cnn", "onnx", "int8"), folder / "kws_int8.onnx")  # NCHW, int8
    shutil.copy(ensure("ds_cnn", "tflite", "fp32"), folder / "kws.tflite")  # NHWC, fp32
    argv = [str(folder), "--backend", "onnxruntime,litert", *FAST]
    status, doc = bench(tmp_path, *argv)
    assert status == EXIT_OK
    runs = {(r["format"], r["precision"]): r for r in doc["runs"]}
    assert runs["tflite", "fp32"]["parity"]["status"] == "reference"  # fp32 first
    parity = runs["onnx", "int8"]["parity"]
    assert parity["status"] == "pass"
    assert parity["reference"] == "kws/tflite/fp32/litert/cpu"
    assert parity["top1_agreement"] == 1.0


def test_offline_back_to_back_for_a_fixed_batch(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", "--scenario", "offline"]
    status, doc = bench(tmp_path, *argv, *FAST)
    assert status == EXIT_OK
    assert doc["runs"][0]["offline_mode"] == "back-to-back"
    assert doc["runs"][0]["batch"] == 1


def test_loadgen_harness(tmp_path: Path) -> None:
    from edgeinfer.bench._loadgen import loadgen_available

    ok, reason = loadgen_available()
    if not ok:
        pytest.skip(reason)
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", "--harness", "loadgen"]
    status, doc = bench(tmp_path, *argv, *FAST)
    assert status == EXIT_OK
    run = doc["runs"][0]
    assert run["harness"] == "loadgen"
    assert run["queries"] >= 8
    assert run["valid"]


def test_plot_or_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cdf.png"
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", *FAST, "--plot", str(target)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert main(argv) == EXIT_OK
        assert "--plot skipped" in capsys.readouterr().err
        return
    assert main(argv) == EXIT_OK
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m.startswith("matplotlib")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", *FAST]
    # refused before anything runs: the plot asked for cannot be drawn
    assert main([*argv, "--plot", str(tmp_path / "x.png")]) == EXIT_USAGE
    assert "--plot needs matplotlib: pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_list_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--device", "cpu", "ds_cnn", "--list", "--backend", "litert,onnxruntime"]) == 0
    listed = capsys.readouterr().out
    assert "ds_cnn onnx fp32" in listed
    assert "on litert/cpu" in listed
    assert main(["no_such_workload"]) == EXIT_USAGE
    assert "neither a model file" in capsys.readouterr().err
    assert main(["ds_cnn", "--backend", "nope"]) == EXIT_USAGE
    assert main(["ds_cnn", "--device", "tpu:x"]) == EXIT_USAGE
    for bad in (["--duration", "-1"], ["--precision", "int4"]):
        with pytest.raises(SystemExit) as exit_info:
            main(bad)
        assert exit_info.value.code == EXIT_USAGE


def test_nothing_to_run_exits_4(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", "--device", "gpu", *FAST]
    status, doc = bench(tmp_path, *argv)
    assert doc["runs"] == []
    reasons = [s["reason"] for s in doc["skipped"]]
    assert any("does not run on gpu" in r or "no gpu on this machine" in r for r in reasons)
    assert status == EXIT_NOTHING_RAN


class _Unopenable(_Negated):
    """Available, but its runtime refuses to open (the fix is part of the error's text)."""

    name: ClassVar[str] = "unopenable"

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> Backend:
        raise edgeinfer.BackendUnavailable("unopenable", "its driver is too old", "update it")


@needs_ort
def test_a_failed_run_is_reported_once_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_registry: None
) -> None:
    edgeinfer.register_backend("unopenable", _Unopenable)
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime,unopenable"]
    status, doc = bench(tmp_path, *argv, *FAST)
    assert status == 1
    failed = [r for r in doc["runs"] if r["status"] == "failed"]
    assert [r["backend"] for r in failed] == ["unopenable"]
    out = capsys.readouterr().out
    assert f"FAILED {failed[0]['id']}" in out
    assert out.count("update it") == 1  # the fix once, not once more in "(fix: ...)"


def test_import_edgeinfer_does_not_import_bench() -> None:
    code = "import edgeinfer, sys; print([m for m in sys.modules if m.startswith('edgeinfer.b')])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['edgeinfer.backends']"


# --- the parts ---------------------------------------------------------------------------------
def test_parity_thresholds_and_layouts() -> None:
    rng = np.random.default_rng(0)
    ref = [[rng.standard_normal((1, 10)).astype(np.float32)] for _ in range(8)]
    near = [[a + np.float32(1e-6)] for (a,) in ref]
    assert parity_compare(ref, near, "fp32", "r").status == "pass"
    noisy = [[a + np.float32(0.05) * rng.standard_normal(a.shape)] for (a,) in ref]
    assert parity_compare(ref, noisy, "fp32", "r").status == "fail"
    assert parity_compare(ref, noisy, "int8", "r").status == "pass"
    flipped = parity_compare(ref, [[-a] for (a,) in ref], "int8", "r")
    assert flipped.status == "fail"
    assert "top-1" in (flipped.reason or "")
    nchw = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    nhwc = convert_layout(nchw, (1, 4, 5, 3))
    assert nhwc is not None
    assert np.array_equal(nhwc, nchw.transpose(0, 2, 3, 1))
    assert convert_layout(nchw, (1, 9, 9, 9)) is None
    assert parity_compare(ref, [[a.reshape(10, 1)] for (a,) in ref], "fp32", "r").status == (
        "skipped"
    )


def test_builtin_loop_rules() -> None:
    calls = []
    latencies, wall = builtin_loop(lambda: calls.append(1), "single-stream", 0.01, 50, 5.0)
    assert len(latencies) >= 50
    assert wall >= 0.01
    assert len(calls) == len(latencies)
    # The cap ends a run short of its minimum query count.
    import time

    latencies, wall = builtin_loop(lambda: time.sleep(0.01), "single-stream", 0.01, 10**6, 0.05)
    assert len(latencies) < 10
    assert 0.05 <= wall < 1.0


def test_summary_spread_and_variation() -> None:
    steady = summarize([1000] * 100, 0.1, 1)
    assert steady["variation"]["cv"] == 0
    assert steady["latency_us"]["iqr"] == 0
    assert steady["throughput"] == pytest.approx(1000)
    drifting = summarize([1000] * 50 + [3000] * 50, 0.2, 1)
    assert drifting["variation"]["cv"] > 0.1
    assert summarize([1000] * 5, 0.1, 1)["variation"]["cv"] is None


def test_defaults_fit_the_budget() -> None:
    assert default_duration(14, quick=False) == pytest.approx(36 / 14, abs=0.01)
    assert default_duration(1, quick=False) == 10.0
    assert default_duration(100, quick=False) == 1.0
    assert default_duration(14, quick=True) == 0.5
    assert format_latency(57.34) == "57.3 us"
    assert format_latency(12_400) == "12.4 ms"


def test_plan_devices_and_backends() -> None:
    plan = build_plan(["ds_cnn"], ["litert"], ["cpu", "gpu"], ["fp32"])
    assert [(r.backend, r.device) for r in plan.runs] == [("litert", "cpu")]
    reasons = [s["reason"] for s in plan.skipped]
    assert any("does not run on gpu" in r or "no gpu on this machine" in r for r in reasons)
    with pytest.raises(edgeinfer.UnknownBackend):
        build_plan(["ds_cnn"], ["nope"])


def test_tvm_compiles_onnx_only_when_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tvm reads ONNX but compiles it only when named: the default plan says so; --backend tvm
    runs it and prints the compile (and tune) time under the table."""
    if not any(i.name == "tvm" and i.available for i in edgeinfer.backends()):
        pytest.skip("tvm is not available here")
    plan = build_plan(["ds_cnn"], None, ["cpu"], ["fp32"])
    assert "tvm" not in {r.backend for r in plan.runs}
    reasons = [s["reason"] for s in plan.skipped]
    assert "tvm reads onnx only when named: --backend tvm" in reasons
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    status = main(["ds_cnn", "--backend", "tvm", "--precision", "fp32",
                   *FAST, "--json", str(tmp_path / "r.json")])  # fmt: skip
    assert status == EXIT_OK, out.getvalue()
    (run,) = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert run["backend"] == "tvm"
    assert run["details"]["compile"].startswith("compiled on this load in")
    assert run["details"]["tune"].startswith("untuned")
    assert "compile ds_cnn/onnx/fp32/tvm/cpu: compiled on this load in" in out.getvalue()


def test_loadgen_asked_for_but_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeinfer.bench import _loadgen

    monkeypatch.setattr(_loadgen, "loadgen_available", lambda: (False, "not installed: pip x"))
    with pytest.raises(edgeinfer.ConfigurationError, match="not installed"):
        pick_harness("loadgen")
    assert pick_harness("auto").name == "builtin"


def test_rich_table(suite: dict[str, Any]) -> None:
    pytest.importorskip("rich")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    print_results(suite["doc"], stream=out)
    text = out.getvalue()
    assert "p90*" in text
    assert "ref" in text
    assert "\x1b[" in text
    full, rows = table_rows(suite["doc"]["runs"], "single-stream")
    headers, rows = fit(full, rows, 80, 2)
    assert {"model", "variant", "backend", "p90*", "parity"} <= set(headers)
    left_out = [name for name in full if name not in headers]
    assert set(left_out) == set(DROP_ORDER[: len(left_out)])  # in the stated order
    assert all(len("  ".join(row)) <= 80 for row in rows)


@needs_ort
def test_measure_is_the_runs_loop() -> None:
    from edgeinfer.bench._run import Settings, measure
    from edgeinfer.bench._workloads import ensure, reference_inputs

    settings = Settings(duration=0.05, min_queries=5, max_duration=1.0)
    with edgeinfer.load(ensure("ds_cnn", "onnx"), backend="onnxruntime") as model:
        queries = [{model.inputs[0].name: x} for x in reference_inputs("ds_cnn", "onnx", 2)]
        latencies, wall = measure(model, queries, settings)
    assert len(latencies) >= 5
    assert wall >= 0.05
    assert all(isinstance(x, int) and x > 0 for x in latencies)
