"""The Backend contract, checked on every real backend with real models.

A new backend joins by adding its workloads (model builders in its format) to ``_workloads``, its
cases to ``CASES``, its simplest workload to ``FIRST`` and its MobileNetV2-class workload to
``MOBILENET``. Tests skip with the backend's own reason where it is unavailable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import InvalidInput, TensorSpec

Builder = Callable[[Path], Path]


def _workloads(backend: str) -> dict[str, tuple[str, Builder]]:
    """Workload name -> (file name, builder) for ``backend``; imported lazily (builders need
    onnx or ai-edge-litert, which a bare install lacks)."""
    if backend == "onnxruntime":
        import onnx_models

        return {
            name: (f"{name}.onnx", builder)
            for name, builder in onnx_models.ALL_BUILDERS.items()
            if name != "dynamic_dims"
        }
    if backend == "litert":
        import tflite_models as tfl

        return {
            "small_cnn": ("small_cnn.tflite", tfl.build_small_cnn),
            "small_cnn_fp16": (
                "small_cnn_fp16.tflite",
                partial(tfl.build_small_cnn, precision="fp16"),
            ),
            "small_cnn_int8": (
                "small_cnn_int8.tflite",
                partial(tfl.build_small_cnn, precision="int8"),
            ),
            "mobilenet_v2_int8": (
                "mobilenet_v2_int8.tflite",
                partial(tfl.build_mobilenet_v2, precision="int8"),
            ),
            "two_in_two_out": ("two_in_two_out.tflite", tfl.build_two_in_two_out),
            "dynamic_batch": ("dynamic_batch.tflite", tfl.build_dynamic_batch),
        }
    if backend == "openvino":
        import ir_models
        import onnx_models

        return {
            "one_op": ("one_op.onnx", onnx_models.build_one_op),
            "mobilenet_v2_ir": ("mobilenet_v2.xml", ir_models.build_mobilenet_v2_ir),
            "multi_io": ("multi_io.onnx", onnx_models.build_multi_io),
            "dynamic_batch_ir": ("dynamic_batch.xml", ir_models.build_dynamic_batch_ir),
        }
    raise AssertionError(f"no workloads for backend {backend!r}")


BACKENDS = ["onnxruntime", "litert", "openvino"]
CASES = [
    ("onnxruntime", "one_op"),
    ("onnxruntime", "mobilenet_v2"),
    ("onnxruntime", "multi_io"),
    ("onnxruntime", "dynamic_batch"),
    ("litert", "small_cnn"),
    ("litert", "small_cnn_fp16"),
    ("litert", "small_cnn_int8"),
    ("litert", "mobilenet_v2_int8"),
    ("litert", "two_in_two_out"),
    ("litert", "dynamic_batch"),
    ("openvino", "one_op"),
    ("openvino", "mobilenet_v2_ir"),
    ("openvino", "multi_io"),
    ("openvino", "dynamic_batch_ir"),
]
FIRST = {"onnxruntime": "one_op", "litert": "small_cnn", "openvino": "one_op"}
MOBILENET = {
    "onnxruntime": "mobilenet_v2",
    "litert": "mobilenet_v2_int8",
    "openvino": "mobilenet_v2_ir",
}


def build_workload(backend: str, workload: str, model_dir: Path) -> Path:
    """The model file of ``workload`` in the format ``backend`` reads, built once."""
    file_name, builder = _workloads(backend)[workload]
    path = model_dir / file_name
    if not path.exists():
        builder(path)
    return path


def random_inputs(specs: tuple[TensorSpec, ...], seed: int = 0, batch: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        shape = tuple(batch if d is None else d for d in spec.shape or ())
        if spec.dtype == np.bool_:
            arrays.append(rng.random(shape) > 0.5)
        elif spec.dtype.kind in "iu":
            info = np.iinfo(spec.dtype)
            arrays.append(
                rng.integers(max(info.min, -100), min(info.max, 100), shape, dtype=spec.dtype)
            )
        else:
            arrays.append(rng.standard_normal(shape).astype(spec.dtype))
    return arrays


def _usable(name: str) -> str:
    info = {i.name: i for i in edgeinfer.backends()}[name]
    if not info.available:
        pytest.skip(f"{name}: {info.reason} ({info.hint})")
    return name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return _usable(request.param)


@pytest.fixture(params=CASES, ids=[f"{b}-{w}" for b, w in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, workload = request.param
    return _usable(name), workload


@pytest.fixture
def loaded(case: tuple[str, str], model_dir: Path) -> Iterator[edgeinfer.Model]:
    backend, workload = case
    path = build_workload(backend, workload, model_dir)
    with edgeinfer.load(path, device="cpu", backend=backend) as model:
        yield model


def test_specs_are_well_formed(loaded: edgeinfer.Model) -> None:
    for spec in loaded.inputs + loaded.outputs:
        assert isinstance(spec, TensorSpec)
        assert isinstance(spec.dtype, np.dtype)
        assert spec.shape is None or all(
            d is None or (isinstance(d, int) and d >= 0) for d in spec.shape
        )
        json.dumps(spec.to_dict())
    names = [spec.name for spec in loaded.inputs + loaded.outputs]
    assert len(names) == len(set(names))


def test_run_returns_every_output_in_order_with_spec_dtype_and_shape(
    loaded: edgeinfer.Model,
) -> None:
    result = loaded.run(random_inputs(loaded.inputs))
    assert list(result) == [spec.name for spec in loaded.outputs]
    for spec in loaded.outputs:
        array = result[spec.name]
        assert isinstance(array, np.ndarray)
        assert array.dtype == spec.dtype, spec.name
        if spec.shape is not None:
            assert array.ndim == len(spec.shape)
            for got, want in zip(array.shape, spec.shape, strict=True):
                assert want is None or got == want, spec.name


def test_dict_sequence_and_call_forms_agree(loaded: edgeinfer.Model) -> None:
    arrays = random_inputs(loaded.inputs, seed=1)
    by_sequence = loaded.run(arrays)
    by_name = loaded.run({spec.name: a for spec, a in zip(loaded.inputs, arrays, strict=True)})
    by_call = loaded(arrays if len(arrays) > 1 else arrays[0])
    for name in by_sequence:
        np.testing.assert_array_equal(by_sequence[name], by_name[name])
        np.testing.assert_array_equal(by_sequence[name], by_call[name])


def test_outputs_are_not_overwritten_by_the_next_call(loaded: edgeinfer.Model) -> None:
    first = loaded.run(random_inputs(loaded.inputs, seed=2))
    kept = {name: array.copy() for name, array in first.items()}
    loaded.run(random_inputs(loaded.inputs, seed=3))
    for name, array in first.items():
        np.testing.assert_array_equal(array, kept[name])


def test_non_contiguous_inputs_give_the_same_result(loaded: edgeinfer.Model) -> None:
    arrays = random_inputs(loaded.inputs, seed=4)
    strided = []
    for array in arrays:
        padded = np.zeros((*array.shape, 2), dtype=array.dtype)
        padded[..., 0] = array
        strided.append(padded[..., 0])  # same values, every other element in memory
    assert all(not a.flags.c_contiguous for a in strided if a.size > 1)
    expected = loaded.run(arrays)
    got = loaded.run(strided)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def test_wrong_dtype_is_invalid_input_naming_the_input(loaded: edgeinfer.Model) -> None:
    arrays = random_inputs(loaded.inputs)
    spec = loaded.inputs[0]
    wrong = np.int16 if spec.dtype != np.int16 else np.float32
    arrays[0] = arrays[0].astype(wrong)
    with pytest.raises(InvalidInput, match=repr(spec.name)):
        loaded.run(arrays)


def test_concurrent_calls_from_threads_are_correct(loaded: edgeinfer.Model) -> None:
    inputs = [random_inputs(loaded.inputs, seed=s) for s in range(4)]
    expected = [loaded.run(x) for x in inputs]
    failures: list[str] = []

    def worker(index: int) -> None:
        for _ in range(10):
            result = loaded.run(inputs[index])
            for name, array in result.items():
                if not np.array_equal(array, expected[index][name]):
                    failures.append(f"thread {index} output {name}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures


def test_explain_names_backend_device_and_specs(loaded: edgeinfer.Model) -> None:
    text = loaded.explain()
    assert loaded.backend in text
    assert f"on {loaded.device}" in text
    assert loaded.inputs[0].name in text
    assert loaded.attempts[-1].ok


def test_close_is_idempotent(backend: str, model_dir: Path) -> None:
    model = edgeinfer.load(build_workload(backend, FIRST[backend], model_dir), backend=backend)
    inputs = random_inputs(model.inputs)
    model.close()
    model.close()
    with pytest.raises(edgeinfer.InferenceError, match="closed"):
        model.run(inputs)


def test_availability_is_cheap_and_serialisable(backend: str) -> None:
    from edgeinfer._planning.registry import backend_class

    cls = backend_class(backend)
    availability = cls.availability()
    assert availability.available
    json.dumps(availability.to_dict())
    assert cls.availability() is availability  # cached


def test_mobilenet_is_deterministic_and_sensible(backend: str, model_dir: Path) -> None:
    path = build_workload(backend, MOBILENET[backend], model_dir)
    with edgeinfer.load(path, backend=backend, threads=1, float_io=True) as model:
        shape = model.inputs[0].shape
        assert shape is not None
        image = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
        first, second = model.run(image)["logits"], model.run(image)["logits"]
    np.testing.assert_array_equal(first, second)
    assert first.shape == (1, 1000)
    assert np.isfinite(first).all()
    assert 0.1 < float(first.std()) < 1000  # He-initialised: activations neither vanish nor blow up


# --- the shipped suite (edgeinfer.testing.BackendContract), as a third-party backend uses it ----
from edgeinfer.testing import BackendContract  # noqa: E402


class TestOnnxRuntimeContract(BackendContract):
    backend = "onnxruntime"

    @pytest.fixture(params=["one_op", "multi_io", "dynamic_batch"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return build_workload("onnxruntime", request.param, model_dir)


class TestLiteRtContract(BackendContract):
    backend = "litert"

    @pytest.fixture(params=["small_cnn", "small_cnn_int8", "two_in_two_out", "dynamic_batch"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return build_workload("litert", request.param, model_dir)


class TestOpenVinoContract(BackendContract):
    backend = "openvino"

    @pytest.fixture(params=["one_op", "multi_io", "dynamic_batch_ir"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return build_workload("openvino", request.param, model_dir)
