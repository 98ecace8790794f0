"""``python -m edgeinfer.bench``: every argument refused before the first run (exit 64, one
line, no traceback), one exit status per outcome, and each flag that users of benchmark_app,
onnxruntime_perf_test and LiteRT's benchmark_model reach for, on small real models."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeinfer
from edgeinfer.bench import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    main,
)
from edgeinfer.bench._compare import compare, mann_whitney
from edgeinfer.bench._harness import concurrent_loop
from edgeinfer.bench._matrix import build_plan
from edgeinfer.bench._syntax import parse_option, parse_shape
from edgeinfer.bench._table import fit, table_rows

AVAILABLE = {info.name for info in edgeinfer.backends() if info.available}
needs_ort = pytest.mark.skipif("onnxruntime" not in AVAILABLE, reason="onnxruntime not usable")
needs_openvino = pytest.mark.skipif("openvino" not in AVAILABLE, reason="openvino not usable")
SRC = str(Path(edgeinfer.__file__).resolve().parents[1])
SHORT = ["--runs", "20", "--warmup-runs", "1", "--plain", "--harness", "builtin"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path_factory.getbasetemp() / "bench-cli"))


def run(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    """The command in this process; (exit status, the --json document or {})."""
    target = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    status = _main([*argv, "--json", str(target)])
    return status, json.loads(target.read_text()) if target.exists() else {}


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as done:  # argparse's own refusals
        return int(done.code or 0)


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``argv``: it must exit 64 before anything runs, with one line and no traceback."""
    started = time.perf_counter()
    status = _main(list(argv))
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert status == EXIT_USAGE, (out, err)
    assert out == ""  # no table: nothing ran
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert elapsed < 1.0, elapsed
    return lines[0]


# --- failing fast ------------------------------------------------------------------------------
def test_json_into_a_missing_folder_exits_64_in_under_a_second(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "edgeinfer.bench", "--json", "/no/such/dir/x.json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == EXIT_USAGE, done.stderr
    assert elapsed < 1.0, elapsed
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "python -m edgeinfer.bench: --json /no/such/dir/x.json: the folder /no/such/dir does not "
        "exist"
    ]


def test_refusing_bad_arguments_imports_no_numpy() -> None:
    code = (
        "import sys\nfrom edgeinfer.bench import main\n"
        "status = main(['--csv', '/no/such/dir/x.csv'])\n"
        "print(status, 'numpy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["64", "False"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Files that are not what they claim to be."""
    found = {
        "text": tmp_path / "notes.txt",
        "text_onnx": tmp_path / "model.onnx",
        "junk_tflite": tmp_path / "model.tflite",
        "not_json": tmp_path / "old.json",
        "other_json": tmp_path / "other.json",
        "old_schema": tmp_path / "v0.json",
        "bad_npz": tmp_path / "bad.npz",
        "folder": tmp_path / "a-folder",
    }
    found["text"].write_text("hello\n")
    found["text_onnx"].write_text("this is not a protobuf\n")
    found["junk_tflite"].write_bytes(b"\x00\x01\x02\x03JUNKJUNK" * 8)
    found["not_json"].write_text("{not json")
    found["other_json"].write_text('{"hello": 1}')
    found["old_schema"].write_text('{"tool": "edgeinfer.bench", "schema_version": 0}')
    found["bad_npz"].write_bytes(b"PK\x03\x04 not really a zip")
    found["folder"].mkdir()
    return found


REFUSALS = [
    (["--csv", "/no/such/dir/x.csv"], "the folder /no/such/dir does not exist"),
    (["--plot", "/no/such/dir/x.png"], "the folder /no/such/dir does not exist"),
    (["--json", "{folder}"], "is a folder; give a file name"),
    (["--plot", "{tmp}/cdf.svg"], "the plot is a PNG"),
    (["--json", "-", "--csv", "-"], "cannot both write to standard output"),
    (["--json", "{tmp}/same.out", "--csv", "{tmp}/same.out"], "both write"),
    (["--profile-ops", "{text}"], "is a file; give a folder"),
    (["--profile-ops", "/no/such/dir/traces"], "the folder /no/such/dir does not exist"),
    (["--compare", "{tmp}/missing.json"], "no such file"),
    (["--compare", "{not_json}"], "not JSON"),
    (["--compare", "{other_json}"], "not an edgeinfer.bench --json file"),
    (["--compare", "{old_schema}"], "schema_version 0"),
    (["{text}"], "cannot tell the format"),
    (["{text_onnx}"], "is a text file, not an onnx model"),
    (["{junk_tflite}"], "not a TFLite model"),
    (["no_such_workload"], "neither a model file"),
    (["--inputs", "{text}"], "give a .npz"),
    (["--inputs", "{tmp}/missing.npz"], "no such file"),
    (["--inputs", "{bad_npz}"], "not a numpy file"),
    (["--shape", "x:1y3"], "is not NAME:DIMS"),
    (["--shape", "x:0x3"], "every size must be >= 1"),
    (["--shape", "1x3", "--shape", "y:2x2"], "name each input"),
    (["--shape", "x:1x3", "--shape", "x:2x3"], "gives x twice"),
    (["--option", "performance_hint=THROUGHPUT"], "is not BACKEND.KEY=VALUE"),
    (["--option", "nosuch.key=1"], "no backend 'nosuch'"),
    (["--backend", "litert", "--option", "openvino.performance_hint=LATENCY"], "not among"),
    (["--option", "openvino.config=1", "--option", "openvino.config.X=2"], "a value and a key"),
    (["--runs", "10", "--min-queries", "5"], "give one of them"),
    (["--shape", "x:1x8", "--inputs", "{tmp}/q.npz"], "carry their own shapes"),
    (["--runs", "0"], "must be > 0"),
    (["--warmup-runs", "-1"], "must be >= 0"),
    (["--concurrency", "2", "--harness", "loadgen"], "--concurrency needs the built-in loop"),
    (["--max-error", "0.1"], "applies to --select fastest and --save-selection only"),
    (["--float-io"], "applies to --select fastest and --save-selection only"),
    (["--save-selection"], "needs MODEL paths"),
    (["--save-selection", "ds_cnn", "--json", "{tmp}/x.json"], "drop --json"),
    (["--save-selection", "{text_onnx}"], "is a text file, not an onnx model"),
    (["--device", "tpu:x"], "unknown device"),
    (["--backend", "nope"], "nope"),
    (["--precision", "int4"], "is not one of"),
    (["--nonsense"], "unrecognized arguments"),
]


@pytest.mark.parametrize(("argv", "message"), REFUSALS, ids=[" ".join(a) for a, _ in REFUSALS])
def test_refused_before_the_first_run(
    argv: list[str],
    message: str,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = {name: str(path) for name, path in files.items()}
    line = refused(capsys, *(a.format(tmp=tmp_path, **names) for a in argv))
    assert line.startswith("python -m edgeinfer.bench: ")
    assert message in line


def test_an_unwritable_place_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc (read-only even for root)")
    assert "cannot write there" in refused(capsys, "--json", "/proc/x.json")


@needs_ort
def test_model_inputs_are_checked_against_shape_and_inputs(
    dynamic_batch: Path, dynamic_dims: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(dynamic_batch)  # x ["batch", 8]
    assert "has no input 'images'" in refused(capsys, model, "--shape", "images:1x8")
    assert "fixed at 8" in refused(capsys, model, "--shape", "x:2x9")
    assert "declares 2 dimensions" in refused(capsys, model, "--shape", "x:2x8x1")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, y=np.zeros((1, 8), np.float32))
    assert "names y" in refused(capsys, model, "--inputs", str(wrong))
    strings = tmp_path / "strings.npy"
    np.save(strings, np.array(["a", "b"]))
    assert "not numbers" in refused(capsys, model, "--inputs", str(strings))
    assert "has 1 inputs" not in refused(capsys, str(dynamic_dims), "--shape", "q:1x3x8x8")


@needs_ort
def test_an_option_key_the_backend_does_not_know_fails_that_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime", *SHORT]
    status, doc = run(tmp_path, *argv, "--option", "onnxruntime.no_such_key=1")
    assert status == EXIT_FAILED
    (record,) = doc["runs"]
    assert "no_such_key" in record["error"]


def test_device_gpu_list_says_there_is_no_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    if any(d.kind == "gpu" for d in edgeinfer.devices()):
        pytest.skip("this machine has a GPU")
    assert main(["ds_cnn", "--device", "gpu", "--list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("0 run(s):")
    assert "not run: every model: no gpu on this machine (found: cpu" in out


# --- the flags ---------------------------------------------------------------------------------
def test_parse_shape_and_option() -> None:
    assert parse_shape("images:1x3x640x640") == ("images", (1, 3, 640, 640))
    assert parse_shape("x:0:2x3") == ("x:0", (2, 3))  # TF-style names keep their colon
    assert parse_shape("input[1,3,224,224]") == ("input", (1, 3, 224, 224))
    assert parse_shape("1x16") == (None, (1, 16))
    assert parse_option("openvino.performance_hint=THROUGHPUT") == (
        "openvino",
        ("performance_hint",),
        "THROUGHPUT",
    )
    assert parse_option("onnxruntime.session_options.intra_op_num_threads=2") == (
        "onnxruntime",
        ("session_options", "intra_op_num_threads"),
        2,
    )
    assert parse_option('onnxruntime.providers=["CPUExecutionProvider"]')[2] == [
        "CPUExecutionProvider"
    ]
    dotted = parse_option('onnxruntime.session_config={"session.intra_op.allow_spinning": "0"}')
    assert dotted == ("onnxruntime", ("session_config",), {"session.intra_op.allow_spinning": "0"})


@needs_ort
def test_runs_and_warmup_runs_count_exactly(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime", "--plain"]
    status, doc = run(tmp_path, *argv, "--runs", "37", "--warmup-runs", "5")
    assert status == EXIT_OK
    (record,) = doc["runs"]
    assert record["queries"] == 37
    assert record["warmup_queries"] == 5
    assert record["valid"]
    assert record["harness"] == "builtin"  # an exact count is the built-in loop's
    assert "--runs 37" in doc["settings"]["harness_note"]
    # with --duration too, both: at least 37 queries and at least 0.2 s (benchmark_app's rule)
    status, doc = run(tmp_path, *argv, "--runs", "3", "--duration", "0.2", "--warmup-runs", "0")
    (record,) = doc["runs"]
    assert record["queries"] >= 3
    assert record["duration_s"] >= 0.2
    assert record["warmup_queries"] == 0


@needs_ort
def test_dynamic_model_with_shape_runs_concurrency_and_profiles(
    dynamic_dims: Path, tmp_path: Path
) -> None:
    """The issue's own command, as a user types it (a subprocess, not this interpreter)."""
    traces = tmp_path / "traces"
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "edgeinfer.bench", str(dynamic_dims), "--shape", "x:2x3x32x32",
         "--runs", "200", "--concurrency", "4", "--profile-ops", str(traces), "--plain",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["runs"]
    for record in doc["runs"]:
        assert record["status"] == "ok", record["error"]
        assert record["queries"] == 200
        assert record["concurrency"] == 4
        assert record["input_shapes"] == {"x": [2, 3, 32, 32]}
        assert record["throughput"] > 0
        assert record["latency_us"]["p90"] > 0
        assert record["parity"]["status"] in ("reference", "pass")
    ort = next(r for r in doc["runs"] if r["backend"] == "onnxruntime")
    trace = Path(ort["operator_profile"]["path"])
    assert trace.parent == traces
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("ph") == "X" and e.get("dur", -1) >= 0 for e in events)
    assert "4 queries in flight" in done.stdout


def test_a_backend_without_a_profiler_says_so(tmp_path: Path) -> None:
    if "litert" not in AVAILABLE:
        pytest.skip("litert not usable")
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "litert", *SHORT]
    status, doc = run(tmp_path, *argv, "--profile-ops", str(tmp_path / "traces"))
    assert status == EXIT_OK
    profile = doc["runs"][0]["operator_profile"]
    assert profile["path"] is None
    assert "offers no per-operator profile" in profile["reason"]


@needs_ort
def test_inputs_from_npz_and_npy_decide_the_batch(dynamic_batch: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3, 8))  # float64: cast to the model's float32
    np.savez(tmp_path / "q.npz", x=data)
    np.save(tmp_path / "q.npy", data[:2])
    argv = [str(dynamic_batch), "--backend", "onnxruntime", *SHORT]
    status, doc = run(tmp_path, *argv, "--inputs", str(tmp_path / "q.npz"))
    assert status == EXIT_OK
    (record,) = doc["runs"]
    assert record["input_shapes"] == {"x": [3, 8]}
    assert record["batch"] == 3
    assert record["samples"] == 3 * record["queries"]
    assert record["parity"]["inputs"] == 1
    status, doc = run(tmp_path, *argv, "--inputs", str(tmp_path / "q.npy"), "--scenario", "offline")
    (record,) = doc["runs"]
    assert (record["offline_mode"], record["batch"]) == ("batch", 2)  # as given: no re-batching


@needs_ort
def test_shape_sizes_a_dynamic_batch_and_the_table_shows_it(
    dynamic_batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(dynamic_batch), "--backend", "onnxruntime", "--scenario", "offline", *SHORT]
    status, doc = run(tmp_path, *argv, "--shape", "x:4x8")
    assert status == EXIT_OK
    assert doc["runs"][0]["batch"] == 4
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("model"))
    assert "batch" in header.split()


@needs_openvino
def test_option_reaches_the_backend(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "openvino", *SHORT]
    hint = ["--option", "openvino.performance_hint=THROUGHPUT", "--threads", "1"]
    status, doc = run(tmp_path, *argv, *hint)
    assert status == EXIT_OK
    (record,) = doc["runs"]
    assert record["details"]["performance hint"] == "THROUGHPUT"
    assert record["details"]["threads"] == "1"
    assert doc["settings"]["options"] == {"openvino": {"performance_hint": "THROUGHPUT"}}


def test_precision_converts_where_a_backend_can_and_says_where_it_only_filters() -> None:
    plan = build_plan(["ds_cnn"], precisions=["fp16"])
    runs = {(r.backend, r.target.format, r.precision, r.convert) for r in plan.runs}
    if "litert" in AVAILABLE:
        assert ("litert", "tflite", "fp16", None) in runs  # the optimiser's fp16 file
    if "openvino" in AVAILABLE:
        assert ("openvino", "onnx", "fp16", "fp16") in runs  # the fp32 file, converted at load
    if "onnxruntime" in AVAILABLE:
        assert not any(backend == "onnxruntime" for backend, *_ in runs)
        reasons = [s["reason"] for s in plan.skipped if s["model"] == "ds_cnn onnx fp16"]
        assert any("onnxruntime runs a file's own precision" in r for r in reasons)
        assert any("only filters" in r for r in reasons)
    # int8: files only (no backend quantises at load), no conversion anywhere
    assert all(r.convert is None for r in build_plan(["ds_cnn"], precisions=["int8"]).runs)


@needs_openvino
def test_a_converted_run_reports_what_the_backend_did(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "bf16", "--backend", "openvino", *SHORT]
    status, doc = run(tmp_path, *argv)
    (record,) = doc["runs"]
    assert record["converted_by"] == "openvino"
    assert (record["precision"], record["file_precision"]) == ("bf16", "fp32")
    if record["status"] == "ok":  # a CPU with bf16: it says so
        assert status in (EXIT_OK, 2)
        assert "bf16" in (record["runtime_precision"] or "")
    else:  # a CPU without: refused, in the runtime's words, never run silently in fp32
        assert status == EXIT_FAILED
        assert "bf16" in record["error"]


@needs_ort
def test_file_precision_declares_what_the_file_is(dynamic_batch: Path) -> None:
    plan = build_plan([str(dynamic_batch)], ["onnxruntime"], file_precision="fp16")
    assert [r.precision for r in plan.runs] == ["fp16"]


@needs_ort
def test_interrupted_runs_are_reported_and_exit_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.bench import _run

    real = _run.Session.run
    calls = itertools.count()

    def interrupted(self: Any, spec: Any, phase: Any = None) -> Any:
        if next(calls) == 1:
            raise KeyboardInterrupt
        return real(self, spec)

    monkeypatch.setattr(_run.Session, "run", interrupted)
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime,litert", *SHORT]
    status, doc = run(tmp_path, *argv)
    assert status == EXIT_INTERRUPTED
    assert len(doc["runs"]) == 1


# --- concurrency -------------------------------------------------------------------------------
def test_concurrent_loop_runs_exactly_and_overlaps() -> None:
    active, peak = [0], [0]
    lock = threading.Lock()

    def call() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.002)
        with lock:
            active[0] -= 1

    latencies, ends, wall = concurrent_loop([call] * 4, 0.0, 40, float("inf"))
    assert len(latencies) == len(ends) == 40
    assert ends == sorted(ends)
    assert peak[0] > 1  # several in flight at once
    assert wall < 40 * 0.002  # faster than one at a time

    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        concurrent_loop([broken] * 2, 0.0, 10, float("inf"))


# --- the comparison ----------------------------------------------------------------------------
def test_mann_whitney_matches_the_counted_distribution() -> None:
    """Against every split of the pooled values (the exact null distribution, by brute force)."""
    a, b = [1.1, 2.5, 3.3, 7.0, 0.2], [0.5, 2.0, 4.4, 5.5, 6.0, 8.1]
    pooled = a + b

    def u_of(xs: list[float], ys: list[float]) -> int:
        return sum(x > y for x in xs for y in ys)

    observed = u_of(a, b)
    counts = []
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        xs = [pooled[i] for i in chosen]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        counts.append(u_of(xs, ys))
    low = sum(u <= observed for u in counts) / len(counts)
    high = sum(u >= observed for u in counts) / len(counts)
    assert mann_whitney(a, b) == pytest.approx(min(1.0, 2 * min(low, high)))
    separated = mann_whitney(list(range(10)), list(range(10, 20)))
    assert separated == pytest.approx(2 / math.comb(20, 10))
    assert mann_whitney([1.0, 1.0, 2.0], [1.0, 2.0, 2.0]) > 0.3  # ties: the normal approximation


def _doc(runs: list[tuple[str, float, list[float]]], quick: bool = False) -> dict[str, Any]:
    return {
        "fingerprint": {},
        "settings": {"quick": quick},
        "runs": [
            {"model": name, "format": "onnx", "precision": "fp32", "backend": "b",
             "device": "cpu", "device_requested": "auto", "scenario": "single-stream",
             "status": "ok", "headline": {"metric": "p90_us", "value": value},
             "variation": {"cv": 0.01, "segment_p90_us": slices}}
            for name, value, slices in runs
        ],
    }  # fmt: skip


def test_quick_runs_are_not_judged() -> None:
    steady = [100.0 + k for k in range(10)]
    old = _doc([("m", 100, steady)], quick=True)
    new = _doc([("m", 200, [v * 2 for v in steady])])
    result = compare(old, new)
    assert result.rows[0].verdict == "not judged"
    assert not result.regressions
    text = "\n".join(result.lines("old.json"))
    assert "--quick runs are too short to compare" in text


def test_a_run_on_a_busy_machine_is_not_judged() -> None:
    steady = [100.0 + k for k in range(10)]
    old, new = _doc([("m", 100, steady)]), _doc([("m", 200, [v * 2 for v in steady])])
    new["fingerprint"] = {"cores_logical": 2}
    new["runs"][0]["system"] = {"before": {"load_average_1m": 9.5}, "after": None}
    row = compare(old, new).rows[0]
    assert row.verdict == "not judged"
    assert "the new run's machine was busy (load 9.5 on 2 cores)" in row.note
    new["runs"][0]["system"]["before"]["load_average_1m"] = 1.0  # the bench alone: judged
    assert compare(old, new).rows[0].verdict == "regression"


def test_noise_from_a_busy_machine_is_within_noise() -> None:
    """Two runs of the same model, back to back on a busy machine: headlines 2x apart, slices
    that overlap. The old rule (5% or 3 x CV) called this a regression."""
    rng = np.random.default_rng(7)
    slices_a = list(100 * np.exp(rng.normal(0, 0.5, 10)))
    slices_b = list(100 * np.exp(rng.normal(0, 0.5, 10)))
    result = compare(_doc([("m", 100, slices_a)]), _doc([("m", 197, slices_b)]))
    assert result.rows[0].verdict == "same"
    assert "within noise" in "\n".join(result.lines("old.json"))


def test_many_runs_are_corrected_for_multiple_comparisons() -> None:
    base = [100.0 + k for k in range(10)]
    # slower in 9 slices of 10 (p = 0.0015): alone it passes, among 30 runs (Holm) it does not
    partial = [v * 1.2 for v in base[:9]] + [95.0]
    alone = compare(_doc([("m", 100, base)]), _doc([("m", 120, partial)]))
    assert alone.rows[0].verdict == "regression"
    many_old = _doc([(f"m{k}", 100, base) for k in range(30)])
    many_new = _doc([("m0", 120, partial)] + [(f"m{k}", 100, base) for k in range(1, 30)])
    assert compare(many_old, many_new).rows[0].verdict == "same"


def test_files_without_p90_slices_are_tested_on_their_medians() -> None:
    old = _doc([("m", 100, [])])
    old["runs"][0]["variation"] = {"cv": 0.01, "segment_p50_us": [100.0 + k for k in range(5)]}
    new = _doc([("m", 150, [160.0 + k for k in range(10)])])
    new["runs"][0]["variation"]["segment_p50_us"] = [150.0 + k for k in range(10)]
    row = compare(old, new).rows[0]
    assert row.verdict == "regression"
    assert row.note == "slice medians"  # both files' medians: never a p90 against a median


# --- table and plot ----------------------------------------------------------------------------
def _record(model: str, **over: Any) -> dict[str, Any]:
    record = {
        "model": model, "format": "onnx", "precision": "fp32", "backend": "onnxruntime",
        "device": "cpu", "device_requested": "auto", "status": "ok", "batch": 8,
        "load_ms": 12.0, "first_inference_ms": 3.0, "throughput": 1234.0, "warnings": [],
        "latency_us": {"p50": 800.0, "p90": 900.0, "p99": 1500.0},
        "variation": {"cv": 0.02}, "peak_rss_bytes": 200 * 2**20,
        "parity": {"status": "reference", "max_rel_error": None},
    }  # fmt: skip
    record.update(over)
    return record


@pytest.mark.parametrize("scenario", ["single-stream", "offline"])
@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_the_table_fits_and_keeps_the_headline(scenario: str, width: int) -> None:
    records = [_record("a_rather_long_model_name_v2"), _record("ds_cnn", backend="openvino")]
    full, rows = table_rows(records, scenario)
    assert ("batch" in full) is (scenario == "offline")
    headers, fitted = fit(full, rows, width, 2)
    headline = "p90*" if scenario == "single-stream" else "thr*"
    assert {"model", "variant", "backend", headline, "parity"} <= set(headers)
    if width >= 80:
        assert all(len("  ".join(row)) <= width for row in fitted)


def test_rich_table_fits_its_console() -> None:
    pytest.importorskip("rich")
    import io

    from edgeinfer.bench._table import print_results

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    doc = {
        "runs": [_record("mobilenet_v2"), _record("ds_cnn")],
        "settings": {"scenario": "single-stream"},
        "elapsed_s": 1.0,
    }
    out = Terminal()
    os.environ["COLUMNS"] = "90"
    try:
        from edgeinfer.bench import _table

        original = _table.notes
        _table.notes = lambda doc: []  # type: ignore[assignment]
        try:
            print_results(doc, stream=out)
        finally:
            _table.notes = original  # type: ignore[assignment]
    finally:
        del os.environ["COLUMNS"]
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert max(len(line) for line in plain.splitlines()) <= 90
    assert "left out to fit 90 columns" in plain


def test_plot_labels_do_not_overlap() -> None:
    pytest.importorskip("matplotlib")
    from edgeinfer.bench._plot import draw_cdf

    rng = np.random.default_rng(0)
    runs = [
        {"label": f"mobilenet_v2/onnx/fp32/backend{k}/cpu",
         "latencies_us": list(3000 + rng.gamma(2, 100 + 10 * k, 300))}
        for k in range(14)
    ]  # fmt: skip
    figure = draw_cdf(runs)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    texts = [t for t in figure.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]
    found = {tuple(t.get_window_extent(renderer).bounds): t for t in texts if t.get_visible()}
    inside = figure.bbox

    def drawn(box: Any) -> bool:  # tick labels beyond the view limits exist but are not drawn
        return bool(inside.contains(*box.p0) and inside.contains(*box.p1))

    boxes = [box for t in found.values() if drawn(box := t.get_window_extent(renderer))]
    assert len(boxes) > 14 + 3  # the legend's entries, ticks, axis labels, title
    for first, second in itertools.combinations(boxes, 2):
        assert not first.overlaps(second)
    legend = figure.legends[0].get_window_extent(renderer)
    assert drawn(legend)
    assert not legend.overlaps(axes.get_window_extent(renderer))  # below the axes, not on them


# --- measured selection ------------------------------------------------------------------------
def test_selection_flags_become_load_arguments() -> None:
    from edgeinfer.bench._args import parser
    from edgeinfer.bench._select import load_settings

    args = parser().parse_args(
        ["m.onnx", "--save-selection", "--device", "gpu,cpu", "--backend", "onnxruntime",
         "--threads", "2", "--precision", "fp32", "--float-io", "--max-error", "0.05",
         "--select-budget", "0.5"]
    )  # fmt: skip
    assert load_settings(args, {"onnxruntime": {"providers": ["X"]}}) == {
        "device": ["gpu", "cpu"],
        "backend": ["onnxruntime"],
        "threads": 2,
        "precision": "fp32",
        "float_io": True,
        "options": {"onnxruntime": {"providers": ["X"]}},
        "max_error": 0.05,
        "select_budget": 0.5,
    }
    plain = load_settings(parser().parse_args(["m.onnx", "--save-selection"]), {})
    assert plain == {"device": "auto", "backend": None, "threads": None, "precision": None,
                     "float_io": False, "options": None, "max_error": None,
                     "select_budget": None}  # fmt: skip


@needs_ort
def test_select_fastest_reports_the_choice_beside_the_rows(tmp_path: Path) -> None:
    argv = ["ds_cnn", "--precision", "fp32", "--backend", "onnxruntime,openvino", *SHORT]
    status, doc = run(tmp_path, *argv, "--select", "fastest", "--select-budget", "0.3")
    assert status == EXIT_OK
    (entry,) = doc["selections"]
    assert entry["model"] == "ds_cnn"
    assert entry["error"] is None
    assert entry["cached"] is False
    assert entry["chosen"]["backend"] in {"onnxruntime", "openvino"}
    trials = entry["trials"]
    assert {t["backend"] for t in trials} == {r["backend"] for r in doc["runs"]}
    eligible = [t for t in trials if t["eligible"]]
    fastest = min(eligible, key=lambda t: t["p50_us"])
    assert entry["chosen"]["backend"] == fastest["backend"]  # the lowest p50 of its trials
    assert entry["run_id"].startswith(f"ds_cnn/onnx/fp32/{entry['chosen']['backend']}/")
    assert entry["ratio"] >= 1.0
    jsonschema = pytest.importorskip("jsonschema")
    from edgeinfer.bench import SCHEMA

    jsonschema.validate(doc, SCHEMA)


@needs_ort
def test_save_selection_fills_the_cache_for_a_folder_of_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgeinfer.bench._workloads import ensure

    models = tmp_path / "models"
    kws = models / "kws"
    kws.mkdir(parents=True)
    (kws / "kws.onnx").write_bytes(Path(ensure("ds_cnn", "onnx", "fp32")).read_bytes())
    (kws / "kws_int8.onnx").write_bytes(Path(ensure("ds_cnn", "onnx", "int8")).read_bytes())
    argv = ["--save-selection", str(models), "--backend", "onnxruntime", "--select-budget", "0.3"]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert "select='fastest' kws: chose onnxruntime on cpu (kws.onnx)" in out
    assert "not eligible: its outputs differ" in out  # the int8 file, by its error
    assert f"cached: load({str(kws)!r}, select='fastest') now takes this choice" in out
    with edgeinfer.load(
        kws, backend="onnxruntime", select="fastest", select_budget=0.3
    ) as model:  # the app's own call: the cache answers
        assert model.selection is not None
        assert model.selection.cached


def test_a_busy_machine_is_one_note_not_one_per_run() -> None:
    from edgeinfer.bench._report import notes

    def ok_run(k: int, load: float) -> dict[str, Any]:
        state = {"temperature_c": None, "unknown": {}, "load_average_1m": load}
        return {
            "id": f"m/onnx/fp32/b{k}/cpu", "status": "ok", "invalid_reasons": [],
            "parity": {"status": "reference"}, "rss_method": "vmhwm",
            "energy": {"joules_per_inference": None, "reason": "no meter"},
            "system": {"before": state, "after": state},
            "warnings": [f"busy machine: 1-minute load {load} on 2 logical cores (...)"],
        }  # fmt: skip

    doc = {
        "runs": [ok_run(1, 5.0), ok_run(2, 9.5)],
        "unavailable": [],
        "skipped": [],
        "settings": {"scenario": "single-stream", "harness_note": "built-in", "duration_s": 1,
                     "min_queries": 8, "warmup_s": 0.1},
        "fingerprint": {"id": "x", "cpu": "c", "cores_logical": 2, "os": "o", "python": "p",
                        "runtimes": {}},
    }  # fmt: skip
    busy = [line for line in notes(doc) if "busy machine" in line]
    assert busy == [
        "warning: busy machine during 2 of 2 run(s) (1-minute load up to 9.5 on 2 logical "
        "cores): other processes competed for the CPU, so these figures are not the models' alone"
    ]


def test_placement_prints_where_each_model_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from edgeinfer.bench._workloads import ensure

    onnx_file, tflite_file = ensure("ds_cnn", "onnx", "fp32"), ensure("ds_cnn", "tflite", "int8")
    argv = ["--placement", str(onnx_file), str(tflite_file), "--device", "cpu"]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert f"{onnx_file}: onnxruntime on cpu" in out
    assert "CPUExecutionProvider" in out
    assert f"{tflite_file}: litert on cpu" in out
    assert "XNNPACK" in out  # LiteRT's default delegate took the int8 graph
    assert main(["--placement", "/no/such/model.onnx"]) == EXIT_USAGE
