"""LiteRT backend specifics, on real .tflite models built by tests/tflite_models.py."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ConfigurationError, InvalidInput, ModelError, Quantization

pytestmark = pytest.mark.backend("litert")
pytest.importorskip("ai_edge_litert", reason="the .tflite test models are written with it")
import tflite_models as tfl  # noqa: E402


@pytest.fixture(scope="module")
def tflite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tflite")


def built(folder: Path, name: str, builder: object, **kwargs: object) -> Path:
    path = folder / name
    if not path.exists():
        builder(path, **kwargs)  # type: ignore[operator]
    return path


@pytest.fixture(scope="module")
def cnn(tflite_dir: Path) -> dict[str, Path]:
    return {
        precision: built(
            tflite_dir, f"cnn_{precision}.tflite", tfl.build_small_cnn, precision=precision
        )
        for precision in ("fp32", "fp16", "int8")
    }


def image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_int8_specs_carry_scale_and_zero_point(cnn: dict[str, Path]) -> None:
    with edgeinfer.load(cnn["int8"], backend="litert") as model:
        (spec,) = model.inputs
        assert spec.dtype == np.int8
        assert isinstance(spec.quantization, Quantization)
        assert len(spec.quantization.scale) == 1
        assert spec.quantization.axis is None
        assert model.outputs[0].dtype == np.int8


def test_float_io_runs_an_int8_model_on_floats_close_to_fp32(cnn: dict[str, Path]) -> None:
    x = image((1, 32, 32, 3))
    with edgeinfer.load(cnn["fp32"], backend="litert") as reference:
        expected = reference.run(x)["logits"]
    with edgeinfer.load(cnn["int8"], backend="litert", float_io=True) as model:
        assert model.inputs[0].dtype == np.float32
        assert model.inputs[0].quantization is None
        got = model.run(x)["logits"]
        assert "float_io" in model.explain()
    assert got.dtype == np.float32
    spread = float(expected.max() - expected.min())
    assert float(np.abs(got - expected).max()) < 0.05 * spread
    assert int(got.argmax()) == int(expected.argmax())


def test_float_io_equals_manual_quantisation(cnn: dict[str, Path]) -> None:
    """float_io does exactly what a caller would do with the model's own parameters."""
    x = image((1, 32, 32, 3), seed=3)
    with edgeinfer.load(cnn["int8"], backend="litert") as native:
        q_in, q_out = native.inputs[0].quantization, native.outputs[0].quantization
        assert q_in is not None
        assert q_out is not None
        ratio = x / q_in.scale[0]
        quantised = np.clip(
            np.sign(ratio) * np.floor(np.abs(ratio) + 0.5) + q_in.zero_point[0], -128, 127
        ).astype(np.int8)
        raw = native.run(quantised)["logits"]
    manual = (raw.astype(np.float32) - q_out.zero_point[0]) * q_out.scale[0]
    with edgeinfer.load(cnn["int8"], backend="litert", float_io=True) as model:
        np.testing.assert_allclose(model.run(x)["logits"], manual, rtol=1e-6)


def test_float_io_leaves_a_float_model_alone(cnn: dict[str, Path]) -> None:
    with edgeinfer.load(cnn["fp32"], backend="litert", float_io=True) as model:
        assert model.inputs[0].dtype == np.float32
        assert "float_io" not in model.explain()


def test_fp16_weights_stay_close_to_fp32(cnn: dict[str, Path]) -> None:
    x = image((1, 32, 32, 3), seed=1)
    with edgeinfer.load(cnn["fp32"]) as full, edgeinfer.load(cnn["fp16"]) as half:
        np.testing.assert_allclose(half.run(x)["logits"], full.run(x)["logits"], atol=2e-2)


def test_tflite_and_onnx_mobilenet_compute_the_same_network(
    tflite_dir: Path, mobilenet: Path
) -> None:
    """The same He-initialised weights in both formats: LiteRT and ONNX Runtime agree."""
    pytest.importorskip("onnxruntime")
    tflite = built(tflite_dir, "mobilenet_fp32.tflite", tfl.build_mobilenet_v2)
    nchw = image((1, 3, 224, 224), seed=2)
    with edgeinfer.load(mobilenet, backend="onnxruntime") as onnx_model:
        expected = onnx_model.run(nchw)["logits"]
    with edgeinfer.load(tflite, backend="litert") as tflite_model:
        got = tflite_model.run(np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)))["logits"]
    assert float(np.abs(got - expected).max()) < 1e-4 * float(np.abs(expected).max()) + 1e-4


def test_signature_names_in_graph_order(tflite_dir: Path) -> None:
    path = built(tflite_dir, "two.tflite", tfl.build_two_in_two_out)
    with edgeinfer.load(path, backend="litert") as model:
        assert [s.name for s in model.inputs] == ["a", "b"]
        assert [s.name for s in model.outputs] == ["sum", "prod"]
        a, b = np.arange(8, dtype=np.float32)[None], np.full((1, 8), 2, np.float32)
        out = model.run({"a": a, "b": b})
    assert list(out) == ["sum", "prod"]
    np.testing.assert_array_equal(out["sum"], a + b)
    np.testing.assert_array_equal(out["prod"], a * b)


def test_dynamic_batch_resizes_and_caches_per_shape(tflite_dir: Path) -> None:
    path = built(tflite_dir, "dyn.tflite", tfl.build_dynamic_batch)
    with edgeinfer.load(path, backend="litert", options={"interpreters": 2}) as model:
        assert model.inputs[0].shape == (None, 8)
        for batch in (1, 4, 1, 4, 7):
            x = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
            np.testing.assert_allclose(model.run(x)["y"], x + np.arange(8), rtol=1e-6)
        pool = model._backend._pool  # type: ignore[union-attr]
        assert pool.created == 2  # two shapes alternate without a new interpreter each call
        with pytest.raises(InvalidInput, match="dimension 1 is 9"):
            model.run(np.zeros((2, 9), np.float32))


def test_eight_threads_times_500_calls_match_single_thread(cnn: dict[str, Path]) -> None:
    """The issue's target: one Model, 8 threads x 500 calls, every output exact."""
    with edgeinfer.load(cnn["int8"], backend="litert", threads=1) as model:
        inputs = [
            np.random.default_rng(s).integers(-128, 128, (1, 32, 32, 3), dtype=np.int8)
            for s in range(8)
        ]
        expected = [model.run(x)["logits"].copy() for x in inputs]
        mismatches: list[int] = []

        def worker(index: int) -> None:
            for _ in range(500):
                if not np.array_equal(model.run(inputs[index])["logits"], expected[index]):
                    mismatches.append(index)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)
    assert mismatches == []


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"nope": 1}, "unknown litert option"),
        ({"interpreters": 0}, "interpreters must be an int"),
        ({"op_resolver": "fast"}, "op_resolver must be one of"),
        ({"signature": "missing"}, "no signature 'missing'"),
    ],
)
def test_bad_options(cnn: dict[str, Path], options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(cnn["fp32"], backend="litert", options=options)


def test_without_xnnpack(cnn: dict[str, Path]) -> None:
    x = image((1, 32, 32, 3))
    options = {"op_resolver": "builtin_without_default_delegates"}
    with (
        edgeinfer.load(cnn["fp32"], backend="litert", options=options) as plain,
        edgeinfer.load(cnn["fp32"], backend="litert") as default,
    ):
        assert "delegate: none" in plain.explain()
        np.testing.assert_allclose(plain.run(x)["logits"], default.run(x)["logits"], atol=1e-4)


def test_runtime_banner_is_kept_from_stderr(
    cnn: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    edgeinfer.load(cnn["fp32"], backend="litert").close()
    assert "XNNPACK" not in capfd.readouterr().err


@pytest.mark.parametrize("kind", ["empty", "truncated", "garbage"])
def test_broken_tflite_files_are_model_errors(
    kind: str, cnn: dict[str, Path], tmp_path: Path
) -> None:
    data = cnn["fp32"].read_bytes()
    content = {
        "empty": b"",
        "truncated": data[: len(data) // 3],
        "garbage": b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 4,
    }[kind]
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelError):
        edgeinfer.load(path, backend="litert")


def test_mutated_models_never_crash_the_process(cnn: dict[str, Path], tmp_path: Path) -> None:
    """Random byte flips in a real model, loaded in a child process so that a native crash
    would fail this test instead of killing the suite: each load works or raises our errors."""
    script = tmp_path / "fuzz.py"
    script.write_text(
        "import random, sys\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "import edgeinfer\n"
        "source = Path(sys.argv[1]).read_bytes()\n"
        "rng = random.Random(7)\n"
        "for trial in range(150):\n"
        "    data = bytearray(source)\n"
        "    for _ in range(rng.randint(1, 6)):\n"
        "        data[rng.randrange(len(data))] = rng.randrange(256)\n"
        "    path = Path(sys.argv[2]) / f'm{trial}.tflite'\n"
        "    path.write_bytes(bytes(data))\n"
        "    try:\n"
        "        with edgeinfer.load(path, backend='litert') as m:\n"
        "            m.run([np.zeros(s.shape, s.dtype) for s in m.inputs])\n"
        "    except (edgeinfer.ModelError, edgeinfer.NoBackendAvailable,\n"
        "            edgeinfer.InferenceError):\n"
        "        pass\n"
        "print('survived')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script), str(cnn["fp32"]), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout


def test_tflite_runtime_beside_numpy_2_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    """tflite-runtime 2.14 was built for numpy 1.x: say so instead of failing inside it."""
    import importlib.util

    from edgeinfer.backends.litert import runtime as lookup

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            None
            if name in ("ai_edge_litert", "tensorflow")
            else object()
            if name == "tflite_runtime"
            else real(name, *a)
        ),
    )
    monkeypatch.setattr(lookup, "_version", lambda names: (names[0], "2.14.0"))
    monkeypatch.setattr(lookup.np, "__version__", "2.1.0")
    lookup._find.cache_clear()
    lookup.availability.cache_clear()
    try:
        availability = lookup.availability()
        assert not availability.available
        assert "built against numpy 1.x" in availability.reason
        assert availability.hint is not None
        assert "numpy<2" in availability.hint
    finally:
        lookup._find.cache_clear()
        lookup.availability.cache_clear()
