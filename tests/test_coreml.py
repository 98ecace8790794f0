"""Core ML backend. Off macOS: format detection, spec reading, availability, every reachable error,
quiet imports and fallback to an ONNX variant, on real models built by tests/coreml_models.py.
On a Mac (``hardware``): prediction with each compute unit against a numpy reference.

The ``run`` glue (feature conversion, flexible-shape checks, error mapping, the lock) is also
tested here with a stand-in for ``MLModel.predict``; that never claims Core ML itself works.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    DeviceRequest,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    OutOfMemory,
)
from edgeinfer._kit.contract import OpenOptions
from edgeinfer._planning.devices import parse_device
from edgeinfer._planning.formats import detect_format
from edgeinfer._planning.plan import Candidate, plan
from edgeinfer._planning.registry import unregister_backend
from edgeinfer._planning.sources import resolve_model_files
from edgeinfer._types import Attempt, TensorSpec

ct = pytest.importorskip(
    "coremltools",
    reason="coremltools builds and reads the Core ML test models: pip install 'edgeinfer[coreml]'",
)
import coreml_models as cm  # noqa: E402
from edgeinfer.backends.coreml import runtime, specs  # noqa: E402
from edgeinfer.backends.coreml.backend import (  # noqa: E402
    COMPUTE_UNITS,
    CoreMlBackend,
    compute_units_for,
    read_specs,
)

HERE = CoreMlBackend.availability()
ON_MAC = HERE.available
off_mac = pytest.mark.skipif(ON_MAC, reason="checks behaviour off macOS; this machine runs Core ML")
needs_core_ml = pytest.mark.skipif(not ON_MAC, reason=f"coreml: {HERE.reason}")


@pytest.fixture(autouse=True)
def coreml_registered() -> Iterator[None]:
    """Register the backend for each test (a no-op change once it is a built-in)."""
    edgeinfer.register_backend(
        "coreml", "edgeinfer.backends.coreml.backend:CoreMlBackend", extra="coreml"
    )
    yield
    unregister_backend("coreml")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("coreml")
    built = {
        name: builder(folder / f"{name}{suffix}")
        for name, (suffix, builder) in cm.ALL_BUILDERS.items()
    }
    for precision in ("fp16", "mixed"):
        path = folder / f"two_in_two_out_{precision}.mlpackage"
        built[f"two_in_two_out_{precision}"] = cm.build_two_in_two_out(path, precision)
    return built


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one model twice: model.mlpackage and model.onnx."""
    pytest.importorskip("onnx", reason="the ONNX variant is built with onnx")
    import onnx_models

    folder = tmp_path_factory.mktemp("variants")
    cm.build_one_op(folder / "model.mlpackage")
    onnx_models.build_one_op(folder / "model.onnx")
    return folder


def open_direct(path: Path, device: str = "cpu", **options: Any) -> CoreMlBackend:
    kind = DeviceRequest("auto") if device == "auto" else parse_device(device)
    assert kind is not None
    return CoreMlBackend.open(path, kind, OpenOptions(**options))


def spec(name: str, shape: tuple[int | None, ...] | None, dtype: Any) -> TensorSpec:
    return TensorSpec(name, shape, np.dtype(dtype))


# --- formats and specs --------------------------------------------------------------------------
def test_format_detection_picks_coreml(models: dict[str, Path], tmp_path: Path) -> None:
    assert detect_format(models["one_op"]) == "coreml"
    assert detect_format(models["neuralnetwork"]) == "coreml"  # protobuf bytes, .mlmodel name
    assert resolve_model_files(models["one_op"]) == [(models["one_op"], "coreml")]
    renamed = tmp_path / "renamed_package"
    renamed.mkdir()
    (renamed / "Manifest.json").write_text("{}")
    assert detect_format(renamed) == "coreml"


def test_folder_of_variants_offers_coreml_before_onnx(variants: Path) -> None:
    found = resolve_model_files(variants)
    assert [fmt for _, fmt in found] == ["coreml", "onnx"]
    assert found[0][0].name == "model.mlpackage"


@pytest.mark.parametrize(
    ("name", "inputs", "outputs"),
    [
        ("one_op", [spec("x", (1, 16), np.float32)], [spec("y", (1, 16), np.float32)]),
        (
            "two_in_two_out",
            [spec("a", (1, 4), np.float32), spec("b", (1, 4), np.float32)],
            [spec("sum_relu", (1, 4), np.float32), spec("prod", (1, 4), np.float32)],
        ),
        ("enumerated", [spec("x", (None, 4), np.float32)], [spec("y", None, np.float32)]),
        ("range", [spec("x", (None, 4), np.float32)], [spec("y", None, np.float32)]),
        # neuralnetwork outputs carry no shape in the file: rank unknown
        ("neuralnetwork", [spec("x", (1, 16), np.float32)], [spec("y", None, np.float32)]),
        ("int32", [spec("x", (2, 3), np.int32)], [spec("y", (2, 3), np.int32)]),
        ("fp16_io", [spec("x", (2, 3), np.float16)], [spec("y", (2, 3), np.float16)]),
        ("image", [spec("x", (8, 8, 3), np.uint8)], [spec("mean", (1, 3), np.float32)]),
        ("stateful", [spec("x", (1, 4), np.float32)], [spec("y", (1, 4), np.float32)]),
    ],
)
def test_read_specs(
    models: dict[str, Path], name: str, inputs: list[TensorSpec], outputs: list[TensorSpec]
) -> None:
    assert read_specs(models[name]) == (tuple(inputs), tuple(outputs))


def test_fp16_compute_keeps_fp32_io(models: dict[str, Path]) -> None:
    assert read_specs(models["two_in_two_out_fp16"]) == read_specs(models["two_in_two_out"])


def test_flexible_inputs_keep_what_core_ml_accepts(models: dict[str, Path]) -> None:
    (enumerated,), _ = specs.read_features(ct.utils.load_spec(str(models["enumerated"])))
    assert enumerated.shapes == ((1, 4), (2, 4), (8, 4))
    (ranged,), _ = specs.read_features(ct.utils.load_spec(str(models["range"])))
    assert ranged.ranges == ((1, 16), (4, 4))


def test_classifier_dictionary_output_is_incompatible(models: dict[str, Path]) -> None:
    with pytest.raises(ModelIncompatible, match="'classLabel_probs' is a dictionary"):
        read_specs(models["classifier"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("two_in_two_out", "fp32"),
        ("two_in_two_out_fp16", "fp16"),
        ("two_in_two_out_mixed", "mixed fp16/fp32"),
        ("neuralnetwork", "set by the compute unit"),
        ("int32", "unknown (no floating-point operations)"),
    ],
)
def test_model_precision(models: dict[str, Path], name: str, expected: str) -> None:
    found = specs.model_precision(ct.utils.load_spec(str(models[name])))
    assert found.startswith(expected)


# --- hand-written specifications: the feature kinds the builders do not produce ---------------
def _one_input() -> tuple[Any, Any]:
    model = ct.proto.Model_pb2.Model()
    model.specificationVersion = 4
    return model, model.description.input.add()


def _image_spec(colour: str) -> tuple[Any, Any]:
    model, feature = _one_input()
    feature.name = "picture"
    image = feature.type.imageType
    image.width, image.height = 32, 24
    image.colorSpace = ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Value(colour)
    return model, image


@pytest.mark.parametrize(
    ("colour", "shape", "dtype"),
    [
        ("RGB", (24, 32, 3), np.uint8),
        ("BGR", (24, 32, 3), np.uint8),
        ("GRAYSCALE", (24, 32), np.uint8),
        ("GRAYSCALE_FLOAT16", (24, 32), np.float32),  # passed as a PIL mode "F" picture
    ],
)
def test_image_specs(colour: str, shape: tuple[int, ...], dtype: Any) -> None:
    model, _ = _image_spec(colour)
    (feature,), _ = specs.read_features(model)
    assert (feature.kind, feature.spec) == ("image", spec("picture", shape, dtype))


def test_image_with_enumerated_sizes() -> None:
    model, image = _image_spec("RGB")
    for height, width in ((24, 32), (48, 32)):
        size = image.enumeratedSizes.sizes.add()
        size.height, size.width = height, width
    (feature,), _ = specs.read_features(model)
    assert feature.spec.shape == (None, 32, 3)
    assert feature.shapes == ((24, 32, 3), (48, 32, 3))


def test_image_with_size_range_unbounded_above() -> None:
    model, image = _image_spec("GRAYSCALE")
    image.imageSizeRange.heightRange.lowerBound = 16
    image.imageSizeRange.heightRange.upperBound = -1
    image.imageSizeRange.widthRange.lowerBound = 32
    image.imageSizeRange.widthRange.upperBound = 32
    (feature,), _ = specs.read_features(model)
    assert feature.spec.shape == (None, 32)
    assert feature.ranges == ((16, None), (32, 32))
    feature.check_shape((4000, 32))
    with pytest.raises(InvalidInput, match="dimension 0 is 8; the model accepts 16 or more"):
        feature.check_shape((8, 32))


def test_scalar_features_are_0d() -> None:
    model, feature = _one_input()
    feature.name = "count"
    feature.type.int64Type.SetInParent()
    for name, kind in (("ratio", "doubleType"), ("word", "stringType")):
        extra = model.description.input.add()
        extra.name = name
        getattr(extra.type, kind).SetInParent()
    found, _ = specs.read_features(model)
    assert [(f.kind, f.spec) for f in found] == [
        ("int64", spec("count", (), np.int64)),
        ("double", spec("ratio", (), np.float64)),
        ("string", spec("word", (), np.object_)),
    ]


def test_old_style_shape_ranges_keep_only_the_rank() -> None:
    model, feature = _one_input()
    feature.name = "x"
    array = feature.type.multiArrayType
    array.dataType = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    array.shape.extend([3, 224, 224])
    array.shapeRange.sizeRanges.add(lowerBound=1, upperBound=3)  # one range for a rank-3 shape
    (found,), _ = specs.read_features(model)
    assert found.spec.shape == (None, None, None)
    assert not found.flexible


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda f: f.type.multiArrayType.SetInParent(), "multi-array of INVALID_ARRAY_DATA_TYPE"),
        (lambda f: f.type.sequenceType.int64Type.SetInParent(), "is a sequence feature"),
        (lambda f: f.type.imageType.SetInParent(), "colour space INVALID_COLOR_SPACE"),
        (lambda f: None, "is a None feature"),
    ],
)
def test_unsupported_features(setup: Any, match: str) -> None:
    model, feature = _one_input()
    feature.name = "odd"
    setup(feature)
    with pytest.raises(ModelIncompatible, match=match):
        specs.read_features(model)


def test_multifunction_description_uses_the_default_function() -> None:
    model = ct.proto.Model_pb2.Model()
    for name, width in (("small", 4), ("large", 8)):
        function = model.description.functions.add()
        function.name = name
        for role in (function.input, function.output):
            feature = role.add()
            feature.name = "x" if role is function.input else "y"
            feature.type.multiArrayType.dataType = (
                ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
            )
            feature.type.multiArrayType.shape.extend([1, width])
    model.description.defaultFunctionName = "large"
    inputs, _ = specs.read_features(model)
    assert inputs[0].spec.shape == (1, 8)
    model.description.defaultFunctionName = "missing"
    with pytest.raises(ModelIncompatible, match="default function 'missing'"):
        specs.read_features(model)


def test_enumerated_shape_check() -> None:
    feature = specs.Feature(spec("x", (None, 4), np.float32), "array", ((1, 4), (8, 4)))
    feature.check_shape((8, 4))
    with pytest.raises(InvalidInput, match=r"shape \[3, 4\] is not one of .*\[1, 4\], \[8, 4\]"):
        feature.check_shape((3, 4))


def test_range_check() -> None:
    feature = specs.Feature(spec("x", (None, 4), np.float32), "array", (), ((1, 16), (4, 4)))
    feature.check_shape((16, 4))
    with pytest.raises(InvalidInput, match=r"dimension 0 is 17; the model accepts 1\.\.16"):
        feature.check_shape((17, 4))


def test_conversions_to_and_from_core_ml() -> None:
    array = specs.Feature(spec("x", (2, 3), np.float32), "array")
    strided = np.arange(12, dtype=np.float32).reshape(2, 6)[:, ::2]
    fed = specs.to_core_ml(array, strided)
    assert fed.flags.c_contiguous
    np.testing.assert_array_equal(fed, strided)
    for kind, dtype, value, expected in (
        ("int64", np.int64, np.array(7), 7),
        ("double", np.float64, np.array(0.5), 0.5),
        ("string", np.object_, np.array("cat", dtype=object), "cat"),
    ):
        feature = specs.Feature(spec("s", (), dtype), kind)
        converted = specs.to_core_ml(feature, value)
        assert (type(converted), converted) == (type(expected), expected)
        back = specs.from_core_ml(feature, converted)
        assert (back.shape, back.dtype, back.item()) == ((), np.dtype(dtype), expected)
    returned = np.ones((2, 3), np.float64)
    out = specs.from_core_ml(array, returned)
    assert out.dtype == np.float32
    out_same = specs.from_core_ml(array, fed)
    assert not np.shares_memory(out_same, fed)  # a copy, never Core ML's buffer


def test_image_conversion_through_pil() -> None:
    image_module = pytest.importorskip("PIL.Image", reason="images go to Core ML as PIL images")
    rgb = specs.Feature(spec("x", (2, 2, 3), np.uint8), "image")
    pixels = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    picture = specs.to_core_ml(rgb, pixels, image_module)
    assert picture.mode == "RGB"
    np.testing.assert_array_equal(specs.from_core_ml(rgb, picture.convert("RGBA")), pixels)


# --- availability -------------------------------------------------------------------------------
@off_mac
def test_availability_here_says_why_and_what_still_works() -> None:
    found = CoreMlBackend.availability()
    assert not found.available
    assert "runs only on macOS" in found.reason
    assert platform.system() in found.reason
    assert f"coremltools {ct.__version__} is installed" in found.reason
    assert "read_specs()" in found.reason
    assert found.version == ct.__version__
    assert found.hint is not None
    assert "Mac" in found.hint
    assert CoreMlBackend.availability() is found  # cached


@pytest.mark.parametrize(
    ("facts", "available", "reason", "hint"),
    [
        (("Linux", "aarch64", "", None, False), False, "this is Linux aarch64 (and", "a Mac"),
        (("Windows", "AMD64", "", "8.3", False), False, "only on macOS; this is Windows", "Mac"),
        (("Darwin", "arm64", "14.5", None, False), False, "not installed", "coremltools ("),
        (("Darwin", "x86_64", "10.12.6", "7.2", True), False, "10.13 or later", "upgrade"),
        (("Darwin", "arm64", "14.5", "8.3", False), False, "without libcoremlpython", "wheel"),
        (("Darwin", "arm64", "15.1", "9.0", True), True, "coremltools 9.0 on macOS 15.1", None),
    ],
)
def test_availability_decisions(
    facts: tuple[Any, ...], available: bool, reason: str, hint: str | None
) -> None:
    found = runtime.decide_availability(*facts)
    assert found.available is available
    assert reason in found.reason
    if hint is None:
        assert found.hint is None
    else:
        assert found.hint is not None
        assert hint in found.hint


def test_availability_imports_nothing() -> None:
    code = (
        "import sys, edgeinfer\n"
        "edgeinfer.register_backend('coreml', 'edgeinfer.backends.coreml.backend:CoreMlBackend')\n"
        "row = [b for b in edgeinfer.backends() if b.name == 'coreml'][0]\n"
        "print(row.available, row.formats, row.devices)\n"
        "assert 'coremltools' not in sys.modules, 'coremltools was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{ON_MAC} ('coreml',) ('cpu', 'gpu', 'npu')" in done.stdout
    assert done.stderr == ""


# --- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "units"),
    [
        (DeviceRequest("npu"), "CPU_AND_NE"),
        (DeviceRequest("gpu"), "CPU_AND_GPU"),
        (DeviceRequest("cpu"), "CPU_ONLY"),
        (DeviceRequest("auto", choices=("gpu", "npu", "cpu")), "ALL"),
        (DeviceRequest("gpu", 0), "CPU_AND_GPU"),
    ],
)
def test_device_to_compute_units(device: DeviceRequest, units: str) -> None:
    assert compute_units_for(device) == units
    assert getattr(ct.ComputeUnit, units).name == units  # a real coremltools member


@pytest.mark.parametrize(
    ("device", "match"),
    [
        (DeviceRequest("gpu", 1), "uses the Mac's own gpu"),
        (DeviceRequest("edgetpu"), "does not run on edgetpu"),
        (DeviceRequest("edgetpu", 0, "usb"), "does not run on edgetpu:usb:0"),
    ],
)
def test_devices_core_ml_cannot_be_pointed_at(device: DeviceRequest, match: str) -> None:
    with pytest.raises(DeviceError, match=match):
        compute_units_for(device)


def test_every_device_kind_has_compute_units() -> None:
    assert set(COMPUTE_UNITS) == {*CoreMlBackend.devices, "auto"}
    assert CoreMlBackend.chooses_device


def test_auto_gives_coreml_one_auto_candidate(models: dict[str, Path]) -> None:
    devices = [DeviceRequest(k, auto=True) for k in ("gpu", "npu", "cpu")]
    ours = [s for s in plan([(models["one_op"], "coreml")], devices) if s.backend == "coreml"]
    assert len(ours) == 1  # not one per kind: Core ML chooses among them itself
    (step,) = ours
    if isinstance(step, Candidate):  # on a Mac
        assert step.device == DeviceRequest("auto", choices=("gpu", "npu", "cpu"))
    else:  # elsewhere: the attempt that says why not
        assert isinstance(step, Attempt)
        assert (step.device, step.error) == ("auto", "BackendUnavailable")


# --- loading off macOS --------------------------------------------------------------------------
@off_mac
def test_load_says_core_ml_needs_macos(models: dict[str, Path]) -> None:
    for backend in (None, "coreml"):
        with pytest.raises(BackendUnavailable, match="runs only on macOS") as caught:
            edgeinfer.load(models["one_op"], backend=backend)
        assert caught.value.backend == "coreml"


@off_mac
@pytest.mark.parametrize("device", [["npu", "cpu"], "auto"])
def test_falls_back_to_the_onnx_variant(variants: Path, device: Any) -> None:
    pytest.importorskip("onnxruntime")
    with edgeinfer.load(variants, device=device) as model:
        assert (model.backend, model.device, Path(model.path).name) == (
            "onnxruntime",
            "cpu",
            "model.onnx",
        )
        x = np.linspace(-1, 1, 16, dtype=np.float32)[None]
        np.testing.assert_array_equal(model.run(x)["y"], np.maximum(x, 0))
        ours = [a for a in model.attempts if a.backend == "coreml"]
    expected = ["npu", "cpu"] if isinstance(device, list) else ["auto"]
    assert [a.device for a in ours] == expected
    for attempt in ours:
        assert not attempt.ok
        assert attempt.error == "BackendUnavailable"
        assert "runs only on macOS" in attempt.reason
        assert attempt.file.endswith("model.mlpackage")


@off_mac
def test_open_reads_specs_then_refuses_off_macos(models: dict[str, Path]) -> None:
    with pytest.raises(BackendUnavailable, match="runs only on macOS") as caught:
        open_direct(models["one_op"], "auto")
    assert caught.value.backend == "coreml"
    assert caught.value.hint is not None


@off_mac
@pytest.mark.parametrize(
    ("name", "precision"),
    [("two_in_two_out", "fp32"), ("two_in_two_out", None), ("two_in_two_out_fp16", "fp16")],
)
def test_precisions_accepted(models: dict[str, Path], name: str, precision: str | None) -> None:
    with pytest.raises(BackendUnavailable):  # accepted: it gets as far as the platform
        open_direct(models[name], precision=precision)


@pytest.mark.parametrize(
    ("name", "precision", "match"),
    [
        ("two_in_two_out", "fp16", r"fixed when the model was converted \(mlProgram: fp32\)"),
        ("two_in_two_out_mixed", "fp16", "mixed fp16/fp32"),
        ("neuralnetwork", "fp16", "neuralNetwork: set by the compute unit"),
        ("two_in_two_out_fp16", "int8", "cannot run it in int8"),
        ("two_in_two_out_fp16", "bf16", "cannot run it in bf16"),
    ],
)
def test_precisions_refused(models: dict[str, Path], name: str, precision: str, match: str) -> None:
    with pytest.raises(ModelIncompatible, match=match):
        open_direct(models[name], precision=precision)


def test_open_error_paths(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown coreml option\(s\) \['nope'\]"):
        open_direct(models["one_op"], extra={"nope": 1})
    with pytest.raises(DeviceError, match="uses the Mac's own gpu"):
        open_direct(models["one_op"], "gpu:1")
    compiled = tmp_path / "model.mlmodelc"
    compiled.mkdir()
    with pytest.raises(ModelIncompatible, match="compiled Core ML model"):
        open_direct(compiled)
    with pytest.raises(FileNotFoundError):
        open_direct(tmp_path / "missing.mlpackage")
    with pytest.raises(ModelIncompatible, match="stateful"):
        open_direct(models["stateful"])
    with pytest.raises(ModelIncompatible, match="dictionary"):
        open_direct(models["classifier"])


@pytest.mark.parametrize("damage", ["empty_manifest", "bad_manifest", "truncated", "garbage"])
def test_broken_models_are_model_errors(
    models: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    package = tmp_path / "broken.mlpackage"
    shutil.copytree(models["one_op"], package)
    inner = package / "Data" / "com.apple.CoreML" / "model.mlmodel"
    if damage == "empty_manifest":
        (package / "Manifest.json").unlink()
        target = package
    elif damage == "bad_manifest":
        (package / "Manifest.json").write_text('{"x":')
        target = package
    elif damage == "truncated":
        inner.write_bytes(inner.read_bytes()[:30])
        target = package
    else:
        target = tmp_path / "garbage.mlmodel"
        target.write_bytes(b"\x08\x04 not a protobuf at all \xff\xff")
    with pytest.raises(ModelError, match="coremltools cannot read") as caught:
        open_direct(target)
    assert not isinstance(caught.value, ModelIncompatible)
    assert caught.value.__cause__ is not None
    with pytest.raises(ModelError):
        read_specs(target)


def test_empty_specification_is_a_model_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mlmodel"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="holds no Core ML model"):
        open_direct(empty)


# --- coremltools' own errors, translated --------------------------------------------------------
@off_mac
def test_coremltools_bare_exception_off_macos_is_translated(models: dict[str, Path]) -> None:
    with runtime.quietly("test"):
        native = ct.models.MLModel(str(models["one_op"]))
    with pytest.raises(Exception) as caught:  # noqa: PT011 - coremltools raises a bare Exception
        native.predict({"x": np.zeros((1, 16), np.float32)})
    assert type(caught.value) is Exception
    translated = runtime.run_error(caught.value, models["one_op"], "ALL")
    assert isinstance(translated, InferenceError)
    assert "cannot make predictions in this process" in str(translated)
    assert getattr(native, "__proxy__", "missing") is None  # what open() checks
    unloaded = runtime.unloaded_error(native, None, models["one_op"], "ALL", ["said"])
    assert isinstance(unloaded, BackendUnavailable)
    assert "could not load its Core ML binding [coremltools said: said]" in unloaded.reason


@pytest.mark.parametrize(
    ("message", "units", "kind"),
    [
        ("Error computing NN outputs", "CPU_ONLY", InferenceError),
        ("Error computing NN outputs on GPU", "CPU_ONLY", InferenceError),
        ("MPSGraph failed: Metal device lost", "CPU_AND_GPU", DeviceError),
        ("ANE program failed", "CPU_AND_NE", DeviceError),
        ("Unable to load CoreML.framework. Cannot make predictions.", "ALL", InferenceError),
        ("Failed to allocate 1073741824 bytes on the GPU", "CPU_AND_GPU", OutOfMemory),
    ],
)
def test_run_errors(message: str, units: str, kind: type[Exception]) -> None:
    native = RuntimeError(message)
    found = runtime.run_error(native, Path("m.mlpackage"), units)
    assert type(found) is kind
    assert message in str(found)
    assert found.__cause__ is native


def test_the_backend_imports_only_the_public_kit() -> None:
    import ast

    package = Path(runtime.__file__).parent
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in (n for n in names if n.split(".")[0] == "edgeinfer"):
                allowed = name == "edgeinfer.backend" or name.startswith(
                    "edgeinfer.backends.coreml"
                )
                assert allowed, f"{source.name} imports {name}"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            ValueError("coremltools.ComputeUnit.CPU_AND_NE is only available on macOS >= 13.0"),
            DeviceError,
        ),
        (
            Exception("Model prediction is only supported on macOS version 10.13 or later."),
            BackendUnavailable,
        ),
        (RuntimeError("something else"), ModelError),
    ],
)
def test_load_errors(error: Exception, kind: type[Exception]) -> None:
    found = runtime.load_error(error, Path("m.mlpackage"), "CPU_AND_NE")
    assert type(found) is kind
    assert found.__cause__ is error


class _Unloaded:
    def __init__(self, error: Exception | None) -> None:
        self.__proxy__ = None
        self._framework_error = error


@pytest.mark.parametrize(
    ("error", "units", "kind"),
    [
        (RuntimeError('Error compiling model: "bad op".'), "CPU_AND_GPU", ModelIncompatible),
        (RuntimeError("cannot create the GPU context"), "CPU_AND_GPU", DeviceError),
        (RuntimeError("cannot load"), "CPU_ONLY", ModelIncompatible),
    ],
)
def test_unloaded_with_a_framework_error(
    error: Exception, units: str, kind: type[Exception]
) -> None:
    found = runtime.unloaded_error(_Unloaded(error), None, Path("m.mlpackage"), units, [])
    assert type(found) is kind
    assert found.__cause__ is error


def test_unloaded_because_the_spec_is_too_new(monkeypatch: pytest.MonkeyPatch) -> None:
    class Binding:
        @staticmethod
        def maximum_supported_specification_version() -> int:
            return 7

    monkeypatch.setattr(sys.modules["coremltools.models.model"], "_MLModelProxy", Binding)
    model_spec = ct.proto.Model_pb2.Model(specificationVersion=9)
    found = runtime.unloaded_error(_Unloaded(None), model_spec, Path("m.mlpackage"), "ALL", [])
    assert isinstance(found, ModelIncompatible)
    assert "specification version 9; this macOS reads up to 7" in str(found)


# --- keeping coremltools quiet ------------------------------------------------------------------
def test_quietly_catches_every_kind_of_noise(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import os

    logger = logging.getLogger("coremltools")
    before = (logger.handlers[:], logger.propagate)
    with caplog.at_level(logging.DEBUG, logger="edgeinfer"), runtime.quietly("test") as said:
        os.write(2, b"native line\n")
        print("python line", file=sys.stderr)
        warnings.warn("a warning", UserWarning, stacklevel=1)
        logging.getLogger("coremltools.models").warning("Failed to load _MLModelProxy: x")
        logging.getLogger("coremltools").debug("Registering op abs")
    assert capfd.readouterr().err == ""
    assert "native line" in said
    assert "python line" in said
    assert "UserWarning: a warning" in said
    assert "coremltools.models: Failed to load _MLModelProxy: x" in said
    assert not any("Registering" in line for line in said)
    logged = [r.getMessage() for r in caplog.records if r.name == "edgeinfer"]
    assert "coreml (test): native line" in logged
    assert (logger.handlers, logger.propagate) == before


def _fresh_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fresh_import_prints_nothing_and_logs_at_debug(models: dict[str, Path]) -> None:
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,\n"
        "                    format='%(name)s|%(message)s')\n"
        "from edgeinfer.backends.coreml import read_specs\n"
        "inputs, outputs = read_specs(sys.argv[1])\n"
        "print('specs', [str(s) for s in inputs], [str(s) for s in outputs])\n"
    )
    done = _fresh_python(code, str(models["one_op"]))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "specs ['x: float32[1, 16]'] ['y: float32[1, 16]']" in done.stdout
    if not ON_MAC:  # the binding exists only in macOS wheels
        assert "edgeinfer|coreml (import coremltools): coremltools: Failed to load" in done.stdout
    assert "Registering op" not in done.stdout


@off_mac
def test_fresh_load_with_fallback_prints_nothing(variants: Path) -> None:
    pytest.importorskip("onnxruntime")
    code = (
        "import sys, edgeinfer\n"
        "edgeinfer.register_backend('coreml', 'edgeinfer.backends.coreml.backend:CoreMlBackend')\n"
        "model = edgeinfer.load(sys.argv[1], device=['npu', 'cpu'])\n"
        "print(model.backend, 'coremltools' in sys.modules)\n"
    )
    done = _fresh_python(code, str(variants))
    assert done.returncode == 0, done.stderr
    # The one line allowed is edgeinfer's own fallback warning (logger "edgeinfer").
    assert [line for line in done.stderr.splitlines() if "after 2 candidate(s)" not in line] == []
    assert done.stdout.split() == ["onnxruntime", "False"]  # never even imported


@off_mac
def test_open_prints_nothing(models: dict[str, Path], capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ModelIncompatible):
        open_direct(models["two_in_two_out"], precision="fp16")
    with pytest.raises(BackendUnavailable):
        open_direct(models["one_op"])
    assert capfd.readouterr().err == ""


# --- the run glue, with a stand-in for MLModel.predict ------------------------------------------
class _Predictor:
    """Stands in for ``MLModel.predict``: returns what ``answer`` computes; notes overlaps."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []
        self.busy = False
        self.overlapped = False

    def predict(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.busy:
            self.overlapped = True
        self.busy = True
        try:
            time.sleep(0.001)
            self.calls.append(data)
            return dict(self.answer(data))
        finally:
            self.busy = False


def _backend(models: dict[str, Path], name: str, predictor: _Predictor) -> CoreMlBackend:
    features = specs.read_features(ct.utils.load_spec(str(models[name])))
    details = {"compute units": "CPU_ONLY (the CPU only)"}
    return CoreMlBackend(predictor, features, models[name], "cpu", "CPU_ONLY", details)


def test_run_glue_orders_converts_and_copies(models: dict[str, Path]) -> None:
    buffers: dict[str, np.ndarray] = {}

    def answer(data: dict[str, Any]) -> dict[str, Any]:
        buffers["prod"] = (data["a"] * data["b"]).astype(np.float64)  # a wider dtype
        return {"prod": buffers["prod"], "sum_relu": np.maximum(data["a"] + data["b"], 0)}

    backend = _backend(models, "two_in_two_out", _Predictor(answer))
    a, b = np.full((1, 4), 2, np.float32), np.arange(4, dtype=np.float32)[None]
    out = backend.run({"a": a, "b": b})
    assert list(out) == ["sum_relu", "prod"]  # the spec's order, not Core ML's
    assert out["prod"].dtype == np.float32
    assert not np.shares_memory(out["prod"], buffers["prod"])
    np.testing.assert_array_equal(out["prod"], a * b)
    backend.close()
    backend.close()
    with pytest.raises(InferenceError, match="is closed"):
        backend.run({"a": a, "b": b})


def test_run_glue_checks_enumerated_shapes_before_core_ml(models: dict[str, Path]) -> None:
    predictor = _Predictor(lambda data: {"y": np.maximum(data["x"], 0)})
    backend = _backend(models, "enumerated", predictor)
    assert backend.run({"x": np.ones((8, 4), np.float32)})["y"].shape == (8, 4)
    with pytest.raises(InvalidInput, match="not one of the model's enumerated shapes"):
        backend.run({"x": np.ones((3, 4), np.float32)})
    assert len(predictor.calls) == 1


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (RuntimeError("Error computing NN outputs."), InferenceError),
        (Exception("Unable to load CoreML.framework. Cannot make predictions."), InferenceError),
        (KeyError("x"), InferenceError),
    ],
)
def test_run_glue_translates_predict_errors(
    models: dict[str, Path], raised: Exception, kind: type[Exception]
) -> None:
    def answer(data: dict[str, Any]) -> dict[str, Any]:
        raise raised

    backend = _backend(models, "one_op", _Predictor(answer))
    with pytest.raises(kind) as caught:
        backend.run({"x": np.zeros((1, 16), np.float32)})
    assert caught.value.__cause__ is raised


def test_run_glue_missing_output(models: dict[str, Path]) -> None:
    backend = _backend(models, "one_op", _Predictor(lambda data: {"other": 1}))
    with pytest.raises(InferenceError, match="do not match its description"):
        backend.run({"x": np.zeros((1, 16), np.float32)})


def test_run_glue_serialises_calls(models: dict[str, Path]) -> None:
    predictor = _Predictor(lambda data: {"y": np.maximum(data["x"], 0)})
    backend = _backend(models, "one_op", predictor)
    x = np.ones((1, 16), np.float32)
    threads = [
        threading.Thread(target=lambda: [backend.run({"x": x}) for _ in range(20)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(predictor.calls) == 80
    assert not predictor.overlapped


# --- on a Mac: real predictions -----------------------------------------------------------------


@pytest.mark.hardware
@pytest.mark.backend("coreml")
@needs_core_ml
@pytest.mark.parametrize("device", ["cpu", "gpu", "npu", "auto"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_predicts_like_numpy_on_each_compute_unit(
    models: dict[str, Path], device: str, precision: str
) -> None:
    name = "two_in_two_out" if precision == "fp32" else "two_in_two_out_fp16"
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1, 4)).astype(np.float32) for _ in range(2))
    with edgeinfer.load(models[name], device=device, backend="coreml") as model:
        assert model.device == device
        details = model.explain()
        assert f"compute units: {COMPUTE_UNITS[device]}" in details
        got = model.run({"a": a, "b": b})
    expected = cm.REFERENCES["two_in_two_out"](a, b)
    exact = precision == "fp32" and device == "cpu"  # elsewhere fp16 (model, GPU or ANE)
    for key in ("sum_relu", "prod"):
        assert got[key].dtype == np.float32
        np.testing.assert_allclose(got[key], expected[key], atol=1e-6 if exact else 2e-2)


@pytest.mark.hardware
@pytest.mark.backend("coreml")
@needs_core_ml
@pytest.mark.parametrize(
    ("name", "shapes", "dtype"),
    [
        ("one_op", [(1, 16)], np.float32),
        ("neuralnetwork", [(1, 16)], np.float32),
        ("enumerated", [(1, 4), (2, 4), (8, 4)], np.float32),
        ("range", [(1, 4), (16, 4)], np.float32),
        ("int32", [(2, 3)], np.int32),
        ("fp16_io", [(2, 3)], np.float16),
    ],
)
def test_predicts_each_model_kind(
    models: dict[str, Path], name: str, shapes: list[tuple[int, ...]], dtype: Any
) -> None:
    with edgeinfer.load(models[name], device="cpu", backend="coreml") as model:
        for shape in shapes:
            x = (np.arange(np.prod(shape)).reshape(shape) - 3).astype(dtype)
            got = model.run({"x": x})["y"]
            assert got.dtype == dtype
            np.testing.assert_allclose(got, cm.REFERENCES[name](x)["y"], atol=1e-3)


@pytest.mark.hardware
@pytest.mark.backend("coreml")
@needs_core_ml
def test_image_input_on_a_mac(models: dict[str, Path]) -> None:
    pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    with edgeinfer.load(models["image"], device="cpu", backend="coreml") as model:
        got = model.run({"x": pixels})["mean"]
    np.testing.assert_allclose(got[0], pixels.reshape(-1, 3).mean(axis=0), rtol=1e-4)


@pytest.mark.hardware
@pytest.mark.backend("coreml")
@needs_core_ml
def test_threads_on_a_mac(models: dict[str, Path]) -> None:
    with edgeinfer.load(models["two_in_two_out"], device="auto", backend="coreml") as model:
        inputs = [
            {
                k: np.random.default_rng(s + i).standard_normal((1, 4)).astype(np.float32)
                for i, k in enumerate("ab")
            }
            for s in range(4)
        ]
        expected = [model.run(x)["prod"].copy() for x in inputs]
        bad: list[int] = []

        def work(i: int) -> None:
            for _ in range(50):
                if not np.array_equal(model.run(inputs[i])["prod"], expected[i]):
                    bad.append(i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert bad == []
