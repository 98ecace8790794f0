"""``edgeinfer.optimize``: real variants made by onnxruntime's and LiteRT's quantisers, measured by
real runs; the output folder served by ``load()``; the errors; the command line."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ConfigurationError, InvalidInput, ModelIncompatible
from edgeinfer.bench._workloads import ensure, reference_inputs
from edgeinfer.optimize import ImagePreprocessing, OptimizationReport, Verdict
from edgeinfer.optimize._cli import EXIT_FAILED, EXIT_KEPT_ORIGINAL, EXIT_OK, EXIT_USAGE, main
from edgeinfer.optimize._recipes import Source, Target, recipes_for

HAVE = {m: importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime", "PIL")}
pytestmark = pytest.mark.skipif(
    not (HAVE["onnx"] and HAVE["onnxruntime"]),
    reason="optimize's ONNX recipes need onnx and onnxruntime: pip install 'edgeinfer[test]'",
)
FAST = {"measure_seconds": 0.2}  # timing all variants together; seconds per test, not minutes


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def workloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workloads")


@pytest.fixture
def ds_cnn(workloads: Path, tmp_path: Path) -> Path:
    """The DS-CNN reference workload (float ONNX), copied where the test may write beside it."""
    path = tmp_path / "ds_cnn.onnx"
    shutil.copy(ensure("ds_cnn", "onnx", "fp32", cache_dir=workloads), path)
    return path


def ds_cnn_samples(count: int = 24, seed: int = 7, fmt: str = "onnx") -> np.ndarray:
    return np.concatenate(reference_inputs("ds_cnn", fmt, count, seed))


def build_feature_map(path: Path) -> Path:
    """Conv 3x3 (8) -> Relu -> Conv 1x1 (4): "x" [1, 3, 16, 16] -> "y" [1, 4, 16, 16], not a
    classifier: its accuracy drop is 1 - cosine."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w1"], ["h"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Conv", ["r", "w2"], ["y"]),
        ],
        "feature_map",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


def build_mlp(path: Path) -> Path:
    """MatMul 256x256 -> Relu -> MatMul 256x10: "x" [1, 256] -> "y" [1, 10]; MatMul-heavy."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    w1 = numpy_helper.from_array((rng.standard_normal((256, 256)) / 16).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((256, 10)) / 16).astype(np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path))
    return path


def raw_outputs(path: Path, samples: list[np.ndarray]) -> list[np.ndarray]:
    """The model's first output on each sample, run by onnxruntime directly."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [session.run(None, {name: x})[0] for x in samples]


def eligible_fastest(report: OptimizationReport, with_original: bool) -> str:
    """The recipe the report's own figures say should have been chosen."""
    pool = [
        v
        for v in report.variants[1:]
        if v.accuracy is not None
        and v.verdict != Verdict.FAILED
        and v.accuracy.drop <= report.max_accuracy_drop
    ]
    if with_original:
        pool.append(report.original)
    if not pool:
        return "original"
    return min(pool, key=lambda v: v.latency_p50_us or float("inf")).recipe


# --- the run, its figures and its choice --------------------------------------------------------
def test_int8_figures_come_from_real_runs(ds_cnn: Path, tmp_path: Path) -> None:
    samples = ds_cnn_samples()
    before = sha256(ds_cnn)
    report = edgeinfer.optimize(
        ds_cnn, "int8", calibration=samples, keep_all=True, max_accuracy_drop=1.0, **FAST
    )
    assert sha256(ds_cnn) == before  # the original is only read
    out = Path(report.out or "")
    assert out == ds_cnn.with_name("ds_cnn.optimized")
    assert report.original.size_bytes == ds_cnn.stat().st_size
    assert report.calibration.samples == 24
    assert report.calibration.held_back == 6
    assert report.calibration.calibrated_on == 18
    held = [samples[i : i + 1] for i in report.calibration.held_back_indices]
    reference = raw_outputs(ds_cnn, held)
    made = [v for v in report.variants[1:] if v.verdict != Verdict.FAILED]
    assert {v.recipe for v in made} >= {"onnx-int8-qdq"}
    for variant in made:
        file = out / str(variant.file)
        assert variant.size_bytes == file.stat().st_size
        assert variant.size_ratio == pytest.approx(file.stat().st_size / ds_cnn.stat().st_size)
        assert variant.size_bytes < 0.6 * ds_cnn.stat().st_size  # int8 weights
        assert variant.latency_p50_us is not None
        assert variant.latency_p50_us > 0
        assert variant.calls >= 10
        got = raw_outputs(file, held)  # the same figures from onnxruntime directly
        error = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, got, strict=True))
        accuracy = variant.accuracy
        assert accuracy is not None
        assert accuracy.samples == 6
        assert accuracy.max_abs_error == pytest.approx(error, rel=1e-4, abs=1e-6)
        assert accuracy.max_abs_error > 0  # int8 is not bit-exact
        agree = np.mean([np.argmax(a) == np.argmax(b) for a, b in zip(reference, got, strict=True)])
        assert accuracy.top1 == pytest.approx(agree)
        assert accuracy.metric == "top-1"
        assert accuracy.drop == pytest.approx(1 - agree)
        assert 0.9 < accuracy.cosine <= 1.0
    assert report.chosen == eligible_fastest(report, with_original=False)
    saved = json.loads((out / "report.json").read_text())
    assert saved == json.loads(report.to_json())
    assert saved["schema"] == "edgeinfer.optimize/1"


def test_auto_keeps_the_fastest_within_budget_original_included(ds_cnn: Path) -> None:
    report = edgeinfer.optimize(ds_cnn, "auto", calibration=ds_cnn_samples(), **FAST)
    assert report.precision == "auto"
    assert {v.precision for v in report.variants[1:]} >= {"int8", "fp16"}
    assert report.chosen == eligible_fastest(report, with_original=True)
    chosen = report.chosen_variant
    assert chosen.verdict == Verdict.CHOSEN
    for variant in report.variants:
        if variant is chosen or variant.recipe == "original":
            continue
        assert variant.verdict in (Verdict.WITHIN_BUDGET, Verdict.OVER_BUDGET, Verdict.FAILED)
        if variant.verdict == Verdict.WITHIN_BUDGET:
            assert (variant.latency_p50_us or 0) >= (chosen.latency_p50_us or 0)
    if report.chosen == "original":
        assert "faster than the float original" in report.reason or "budget" in report.reason


def test_the_folder_serves_the_optimised_variant_first(ds_cnn: Path, tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    report = edgeinfer.optimize(
        ds_cnn, "int8", calibration=ds_cnn_samples(), out=out, max_accuracy_drop=1.0, **FAST
    )
    assert report.optimized
    chosen = report.chosen_variant
    order = json.loads((out / "variants.json").read_text())["order"]
    assert order == [chosen.file, ds_cnn.name]
    assert sorted(p.name for p in out.iterdir()) == sorted([*order, "report.json", "variants.json"])
    assert sha256(out / ds_cnn.name) == sha256(ds_cnn)
    with edgeinfer.load(out) as model:
        assert Path(model.path).name == chosen.file
        files = [Path(c.file).name for c in model.candidates]
        assert files[0] == chosen.file
        assert ds_cnn.name in files
        x = ds_cnn_samples(1, seed=99)
        assert model.run(x)["logits"].shape == (1, 12)
    assert not list(tmp_path.glob(".deploy.*"))  # no staging folder left behind


def test_the_original_keeps_its_external_data(tmp_path: Path) -> None:
    from onnx_models import build_external_data

    model = build_external_data(tmp_path / "ext.onnx", location="ext.weights")
    data = np.arange(24, dtype=np.float32).reshape(6, 1, 4)
    report = edgeinfer.optimize(model, "fp16", calibration=data, max_accuracy_drop=1.0, **FAST)
    out = Path(report.out or "")
    assert (out / "ext.weights").read_bytes() == (tmp_path / "ext.weights").read_bytes()
    assert report.original.size_bytes == model.stat().st_size + 16
    with edgeinfer.load(out / "ext.onnx", fallback=False) as original:
        assert np.allclose(original.run(data[0])["y"], data[0] + [1, 2, 3, 4])


def test_precision_is_kept_even_when_slower_and_said_so(ds_cnn: Path) -> None:
    report = edgeinfer.optimize(
        ds_cnn, "fp16", calibration=ds_cnn_samples(), max_accuracy_drop=1.0, **FAST
    )
    assert report.chosen == "onnx-fp16"
    fp16 = report.chosen_variant
    assert fp16.accuracy is not None
    assert fp16.accuracy.cosine > 0.999
    if (fp16.latency_p50_us or 0) > (report.original.latency_p50_us or 0):
        assert "precision='fp16' was asked" in report.reason


def test_a_drop_over_budget_keeps_the_original(tmp_path: Path) -> None:
    model = build_feature_map(tmp_path / "features.onnx")
    data = np.random.default_rng(0).standard_normal((12, 1, 3, 16, 16)).astype(np.float32)
    report = edgeinfer.optimize(model, "int8", calibration=data, max_accuracy_drop=0.0, **FAST)
    assert report.chosen == "original"
    assert not report.optimized
    assert "no variant met the accuracy budget" in report.reason
    for variant in report.variants[1:]:
        assert variant.verdict == Verdict.OVER_BUDGET
        assert variant.accuracy is not None
        assert variant.accuracy.metric == "cosine"
        assert variant.accuracy.top1 is None
        assert variant.accuracy.drop == pytest.approx(1 - variant.accuracy.cosine)
        assert "> budget 0" in variant.reason
        assert variant.file is None  # not kept
    assert json.loads((tmp_path / "features.optimized" / "variants.json").read_text()) == {
        "order": ["features.onnx"]
    }


def test_dynamic_int8_runs_on_a_matmul_network_only(ds_cnn: Path, tmp_path: Path) -> None:
    mlp = build_mlp(tmp_path / "mlp.onnx")
    data = np.random.default_rng(1).standard_normal((16, 1, 256)).astype(np.float32)
    report = edgeinfer.optimize(mlp, "int8", calibration=data, max_accuracy_drop=1.0, **FAST)
    dynamic = next(v for v in report.variants if v.recipe == "onnx-int8-dynamic")
    assert dynamic.verdict != Verdict.FAILED
    assert dynamic.accuracy is not None
    assert (dynamic.size_ratio or 1) < 0.5
    conv = recipes_for(
        Source(ds_cnn, "onnx", ["input"], False), Target("onnxruntime", "cpu"), "int8", True
    )
    skipped = {s.recipe: s for s in conv[1]}
    assert "convolutional network" in skipped["onnx-int8-dynamic"].reason


def test_recipes_say_why_they_do_not_apply(ds_cnn: Path) -> None:
    source = Source(ds_cnn, "onnx", ["input"], False)
    run, skipped = recipes_for(source, Target("onnxruntime", "cpu", "aarch64"), "auto", True)
    why = {s.recipe: s for s in skipped}
    assert "x86" in why["onnx-int8-qdq-u8"].reason
    assert why["onnx-int8-qdq-u8"].kind == "target"
    assert why["openvino-nncf-int8"].kind == "target"
    assert [r.name for r in run] == ["onnx-int8-qdq", "onnx-fp16"]
    on_openvino = recipes_for(source, Target("openvino", "cpu"), "int8", True)
    nncf = {s.recipe: s for s in on_openvino[1]}.get("openvino-nncf-int8")
    if importlib.util.find_spec("nncf") is None:
        assert nncf is not None
        assert nncf.kind == "package"
        assert nncf.hint == "pip install nncf"
    _, no_data = recipes_for(source, Target("onnxruntime", "cpu"), "int8", False)
    assert {s.kind for s in no_data if s.recipe == "onnx-int8-qdq"} == {"data"}


def test_without_calibration_fp16_runs_on_generated_inputs(ds_cnn: Path) -> None:
    report = edgeinfer.optimize(ds_cnn, "fp16", max_accuracy_drop=1.0, **FAST)
    assert report.calibration.generated
    assert report.calibration.calibrated_on == 0
    assert any("random inputs" in note for note in report.notes)
    with pytest.raises(ConfigurationError, match="calibration"):
        edgeinfer.optimize(ds_cnn, "int8", out=ds_cnn.with_name("int8-out"), **FAST)


# --- TFLite -----------------------------------------------------------------------------------
@pytest.mark.backend("litert")
def test_tflite_full_int8_keeps_float_io(workloads: Path, tmp_path: Path) -> None:
    model = tmp_path / "ds_cnn.tflite"
    shutil.copy(ensure("ds_cnn", "tflite", "fp32", cache_dir=workloads), model)
    samples = ds_cnn_samples(fmt="tflite")
    report = edgeinfer.optimize(
        model, "auto", calibration=samples, max_accuracy_drop=1.0, keep_all=True, **FAST
    )
    assert report.backend == "litert"
    int8 = next(v for v in report.variants if v.recipe == "tflite-int8")
    assert int8.verdict != Verdict.FAILED
    assert (int8.size_ratio or 1) < 0.6
    assert int8.accuracy is not None
    assert int8.accuracy.top1 is not None
    fp16 = next(s for s in report.skipped if s.recipe == "tflite-fp16")
    assert "TensorFlow" in fp16.reason
    with edgeinfer.load(tmp_path / "ds_cnn.optimized" / "ds_cnn.int8.tflite") as variant:
        assert variant.inputs[0].dtype == np.float32  # the same arrays as the original
        assert variant.inputs[0].quantization is None


# --- calibration data -------------------------------------------------------------------------
def test_calibration_forms_agree(ds_cnn: Path) -> None:
    from edgeinfer.optimize._calibration import read_calibration

    with edgeinfer.load(ds_cnn) as model:
        specs = model.inputs
    batch = ds_cnn_samples(8)
    forms: list[Any] = [
        batch,
        {"input": batch},
        list(batch[:, None]),  # a list of [1, 1, 49, 10] samples
        [{"input": x[None]} for x in batch],
        iter(list(batch[:, None])),
        batch[:, None],  # a stack of samples: one more dimension
    ]
    for form in forms:
        found = read_calibration(form, specs)
        assert found.summary.samples == 8
        assert found.summary.held_back == 2
        assert np.array_equal(
            found.held_back[0]["input"], batch[found.summary.held_back_indices[0]][None]
        )


def test_calibration_of_the_wrong_shape_or_dtype_names_the_input(ds_cnn: Path) -> None:
    with pytest.raises(InvalidInput, match=r"'input'.*\[1, 1, 49, 10\].*\[1, 1, 49, 11\]"):
        edgeinfer.optimize(ds_cnn, calibration=np.zeros((8, 1, 49, 11), np.float32), **FAST)
    with pytest.raises(InvalidInput, match=r"'input'.*float32.*float64"):
        edgeinfer.optimize(ds_cnn, calibration=np.zeros((8, 1, 1, 49, 10)), **FAST)
    with pytest.raises(InvalidInput, match="sample 2"):
        edgeinfer.optimize(ds_cnn, calibration=[np.zeros((1, 1, 49, 10), np.float32)] * 2
                           + [np.zeros((1, 49, 10), np.float32)], **FAST)  # fmt: skip
    with pytest.raises(ConfigurationError, match="at least 2 samples"):
        edgeinfer.optimize(ds_cnn, calibration=np.zeros((1, 1, 49, 10), np.float32), **FAST)
    assert not ds_cnn.with_name("ds_cnn.optimized").exists()


@pytest.mark.skipif(not HAVE["PIL"], reason="Pillow decodes calibration images")
def test_a_folder_of_images_is_preprocessed_as_the_model_expects(
    ds_cnn: Path, tmp_path: Path
) -> None:
    from PIL import Image

    from edgeinfer.optimize._images import image_samples

    folder = tmp_path / "images"
    (folder / "b").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(12):
        pixels = rng.integers(0, 256, (60, 20), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / ("b" if i % 2 else "") / f"{i:02d}.png")
    Image.fromarray(np.full((98, 40, 3), 200, np.uint8)).save(folder / "flat.jpg")
    (folder / "notes.txt").write_text("not an image")
    with edgeinfer.load(ds_cnn) as model:
        specs = model.inputs  # [1, 1, 49, 10]: one gray channel, NCHW
    arrays, described = image_samples(
        folder, specs, ImagePreprocessing(mean=(0.5,), std=(0.25,)), 99
    )
    assert len(arrays) == 13
    assert "13 from" in described
    assert "NCHW 49x10" in described
    assert all(a.shape == (1, 1, 49, 10) and a.dtype == np.float32 for a in arrays)
    flat = arrays[-1]  # flat.jpg sorts after the numbered files
    assert np.allclose(flat, (200 / 255 - 0.5) / 0.25, atol=0.02)
    nhwc = specs[0].__class__("x", (1, 32, 32, 3), np.dtype(np.float32))
    rgb, _ = image_samples(folder, [nhwc], ImagePreprocessing(fit="stretch"), 3)
    assert len(rgb) == 3
    assert rgb[0].shape == (1, 32, 32, 3)
    report = edgeinfer.optimize(ds_cnn, calibration=folder, max_accuracy_drop=1.0, **FAST)
    assert report.calibration.samples == 13
    assert report.calibration.source.startswith("images")


def test_without_pillow_images_say_how_to_get_it(
    ds_cnn: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.optimize import _images

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        _images.importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else real(name)
    )
    with pytest.raises(edgeinfer.BackendUnavailable, match="Pillow") as caught:
        edgeinfer.optimize(ds_cnn, calibration=tmp_path / "images", **FAST)
    assert caught.value.hint == "pip install pillow"


# --- bad input --------------------------------------------------------------------------------
def test_a_model_that_cannot_be_quantised(workloads: Path, one_op: Path, tmp_path: Path) -> None:
    quantised = ensure("ds_cnn", "onnx", "int8", cache_dir=workloads)
    with pytest.raises(ModelIncompatible, match="already quantised"):
        edgeinfer.optimize(quantised, calibration=ds_cnn_samples(), out=tmp_path / "a", **FAST)
    relu = np.zeros((4, 1, 16), np.float32)
    with pytest.raises(ModelIncompatible, match="nothing to quantise"):
        edgeinfer.optimize(one_op, calibration=relu, out=tmp_path / "b", **FAST)
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


def test_every_recipe_failing_is_model_incompatible_and_leaves_nothing(
    ds_cnn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.optimize._recipes import onnx as onnx_recipes

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("Quantization not supported for op: Conv")

    monkeypatch.setattr(onnx_recipes, "onnx_int8", broken)
    with pytest.raises(ModelIncompatible, match="not supported for op"):
        edgeinfer.optimize(ds_cnn, "int8", calibration=ds_cnn_samples(), **FAST)
    assert sorted(p.name for p in ds_cnn.parent.iterdir()) == ["ds_cnn.onnx"]


def test_arguments_and_output_paths(ds_cnn: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="precision"):
        edgeinfer.optimize(ds_cnn, "int4")
    with pytest.raises(ConfigurationError, match="max_accuracy_drop"):
        edgeinfer.optimize(ds_cnn, max_accuracy_drop=2)
    with pytest.raises(ConfigurationError, match="holds the model"):
        edgeinfer.optimize(ds_cnn, out=ds_cnn.parent)
    with pytest.raises(FileNotFoundError):
        edgeinfer.optimize(tmp_path / "missing.onnx")
    with pytest.raises(ConfigurationError, match=r"does not read onnx models.*onnxruntime"):
        edgeinfer.optimize(ds_cnn, backend="litert")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("someone's file")
    with pytest.raises(ConfigurationError, match="overwrite=True"):
        edgeinfer.optimize(ds_cnn, out=taken)
    with pytest.raises(ConfigurationError, match=r"not a folder that edgeinfer\.optimize wrote"):
        edgeinfer.optimize(ds_cnn, out=taken, overwrite=True)
    assert (taken / "mine.txt").read_text() == "someone's file"
    out = tmp_path / "ours"
    first = edgeinfer.optimize(ds_cnn, "fp16", calibration=ds_cnn_samples(8), out=out, **FAST)
    with pytest.raises(ConfigurationError, match="exists"):
        edgeinfer.optimize(ds_cnn, "fp16", calibration=ds_cnn_samples(8), out=out, **FAST)
    again = edgeinfer.optimize(
        ds_cnn, "fp16", calibration=ds_cnn_samples(8), out=out, overwrite=True, **FAST
    )
    assert again.out == first.out
    assert (out / "report.json").is_file()


def test_the_bench_workloads_quantise_through_the_same_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edgeinfer.bench._workloads import builders
    from edgeinfer.optimize._recipes import onnx as onnx_recipes

    calls: list[int] = []
    real = onnx_recipes.onnx_int8

    def spy(model: Any, samples: Any, **kwargs: Any) -> bytes:
        calls.append(len(samples))
        return real(model, samples, **kwargs)

    monkeypatch.setattr(onnx_recipes, "onnx_int8", spy)
    assert builders.build("ds_cnn", "onnx", "int8")[:1] == b"\x08"
    assert calls == [builders.CALIBRATION_COUNT]
    assert importlib.util.find_spec("edgeinfer.bench._workloads.quantize") is None


# --- the name: edgeinfer.optimize is the function and the package -----------------------------
@pytest.mark.parametrize(
    "first",
    ["import edgeinfer.optimize", "import edgeinfer", "from edgeinfer.optimize import optimize"],
)
def test_edgeinfer_optimize_is_callable_whatever_was_imported_first(first: str) -> None:
    code = (
        f"{first}\nimport edgeinfer\n"
        "try:\n"
        "    edgeinfer.optimize('model.onnx', 'int4')\n"
        "except edgeinfer.ConfigurationError as error:\n"
        "    print('reached:', error)\n"
        "import sys\n"
        "print(callable(sys.modules['edgeinfer.optimize']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "reached: precision must be one of int8, fp16, auto" in done.stdout
    assert done.stdout.strip().endswith("True")


def test_public_names() -> None:
    assert "optimize" in edgeinfer.__all__
    assert "OptimizationReport" in edgeinfer.__all__
    assert edgeinfer.OptimizationReport.__module__ == "edgeinfer"


# --- the command line -------------------------------------------------------------------------
@pytest.fixture
def npy(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "calibration.npy"
    np.save(path, ds_cnn_samples(16))
    return path


def test_cli_writes_the_folder_and_the_json(
    ds_cnn: Path, npy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(ds_cnn), "--precision", "int8", "--calibration", str(npy), "--seconds", "0.2"]
    code = main([*args, "--json", str(tmp_path / "r.json"), "--max-accuracy-drop", "1"])
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert "onnx-int8-qdq" in printed
    assert "serving:" in printed
    assert "p50" in printed
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["chosen"] != "original"
    assert saved["variants"][0]["recipe"] == "original"
    assert main(args) == EXIT_USAGE  # the folder exists now
    assert "overwrite" in capsys.readouterr().err


def test_cli_exit_codes(
    ds_cnn: Path, npy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = build_feature_map(tmp_path / "features.onnx")
    data = tmp_path / "features.npy"
    np.save(data, np.random.default_rng(0).standard_normal((8, 1, 3, 16, 16)).astype(np.float32))
    kept = main([str(features), "--calibration", str(data), "--max-accuracy-drop", "0",
                 "--seconds", "0.2", "--plain"])  # fmt: skip
    assert kept == EXIT_KEPT_ORIGINAL
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((8, 1, 49, 11), np.float32))
    assert main([str(ds_cnn), "--calibration", str(wrong)]) == EXIT_FAILED
    assert "InvalidInput" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main([str(ds_cnn), "--precision", "int4"])
    assert usage.value.code == EXIT_USAGE
    assert main([str(tmp_path / "missing.onnx"), "--calibration", str(npy)]) == EXIT_FAILED


def test_python_dash_m(ds_cnn: Path, npy: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edgeinfer.optimize", str(ds_cnn), "--calibration", str(npy),
         "--precision", "fp16", "--seconds", "0.2", "--max-accuracy-drop", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.stderr
    assert "onnx-fp16" in done.stdout
    assert "variant" in done.stdout


# --- OpenVINO's own tooling (only where nncf is installed) -------------------------------------
@pytest.mark.backend("openvino")
@pytest.mark.skipif(importlib.util.find_spec("nncf") is None, reason="pip install nncf")
def test_nncf_makes_an_openvino_ir(ds_cnn: Path) -> None:
    report = edgeinfer.optimize(
        ds_cnn, "int8", calibration=ds_cnn_samples(), backend="openvino", keep_all=True,
        max_accuracy_drop=1.0, **FAST,
    )  # fmt: skip
    nncf = next(v for v in report.variants if v.recipe == "openvino-nncf-int8")
    assert nncf.verdict != Verdict.FAILED
    assert str(nncf.file).endswith(".xml")
    assert (Path(report.out or "") / str(nncf.file)).with_suffix(".bin").is_file()
    assert nncf.accuracy is not None
    assert nncf.accuracy.cosine > 0.99


# --- the rules of the choice, on figures given -------------------------------------------------
def _result(recipe: str, p50: float, drop: float | None, verdict: str = "") -> Any:
    from edgeinfer.optimize._accuracy import Accuracy
    from edgeinfer.optimize._report import VariantResult

    accuracy = (
        None if drop is None else Accuracy(8, 0.1, 0.01, 1 - drop, None, None, drop, "cosine")
    )
    return VariantResult(recipe, "int8", "", f"{recipe}.onnx", 10, 0.3, p50, p50, 20, 100 / p50,
                         accuracy, verdict or Verdict.WITHIN_BUDGET, "")  # fmt: skip


def test_choice_rules() -> None:
    from edgeinfer.optimize._api import _close_call
    from edgeinfer.optimize._choose import choose

    original = _result("original", 100.0, 0.0, Verdict.REFERENCE)
    slow, fast, wrong = (
        _result("slow", 120.0, 0.001),
        _result("fast", 90.0, 0.002),
        _result("wrong", 50.0, 0.2),
    )
    broken = _result("broken", float("nan"), None, Verdict.FAILED)
    chosen, _, results = choose(original, [slow, fast, wrong, broken], "auto", 0.01)
    assert chosen == "fast"  # "wrong" is faster but over budget
    verdicts = {r.recipe: r.verdict for r in results}
    assert verdicts == {"original": "reference", "slow": "within budget", "fast": "chosen",
                        "wrong": "over budget", "broken": "failed"}  # fmt: skip
    chosen, reason, _ = choose(original, [slow, wrong], "auto", 0.01)
    assert chosen == "original"
    assert "faster than the float original" in reason
    chosen, reason, _ = choose(original, [slow, wrong], "int8", 0.01)
    assert chosen == "slow"
    assert "precision='int8' was asked" in reason
    chosen, reason, _ = choose(original, [wrong], "int8", 0.01)
    assert chosen == "original"
    assert "no variant met the accuracy budget" in reason
    close = _close_call([original, _result("near", 98.0, 0.0, Verdict.CHOSEN)], "near")
    assert close is not None
    assert "less than 5%" in close
    assert _close_call([original, _result("far", 80.0, 0.0, Verdict.CHOSEN)], "far") is None
