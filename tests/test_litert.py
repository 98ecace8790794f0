"""LiteRT backend specifics, on real .tflite models built by tests/tflite_models.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import ConfigurationError, InvalidInput, ModelError, Quantization

pytestmark = pytest.mark.backend("litert")
pytest.importorskip("ai_edge_litert", reason="the .tflite test models are written with it")
import tflite_models as tfl  # noqa: E402
from edgeinfer.backends.litert.pool import InterpreterPool, Slot  # noqa: E402


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


def pool_of(model: edgeinfer.Model) -> InterpreterPool:
    pool = model._backend._pool  # type: ignore[attr-defined]
    assert isinstance(pool, InterpreterPool)
    return pool


def test_dynamic_batch_resizes_one_interpreter_for_a_single_thread(tflite_dir: Path) -> None:
    """A single-threaded caller holds ONE interpreter whatever shapes it sends (the pool used
    to create one per shape, up to the number of cores: memory a board does not have)."""
    path = built(tflite_dir, "dyn.tflite", tfl.build_dynamic_batch)
    with edgeinfer.load(path, backend="litert", options={"interpreters": 4}) as model:
        assert model.inputs[0].shape == (None, 8)
        for batch in (1, 4, 1, 4, 7, 2, 3):
            x = np.random.default_rng(batch).standard_normal((batch, 8)).astype(np.float32)
            np.testing.assert_allclose(model.run(x)["y"], x + np.arange(8), rtol=1e-6)
        assert pool_of(model).created == 1
        assert "interpreters: 1 created, up to 4" in model.explain()
        with pytest.raises(InvalidInput, match="dimension 1 is 9"):
            model.run(np.zeros((2, 9), np.float32))


def test_default_pool_starts_with_one_interpreter(cnn: dict[str, Path]) -> None:
    with edgeinfer.load(cnn["fp32"], backend="litert") as model:
        for _ in range(20):
            model.run(image((1, 32, 32, 3)))
        pool = pool_of(model)
        assert (pool.created, pool.size) == (1, os.cpu_count() or 1)


def test_concurrent_calls_grow_the_pool_up_to_its_limit(tflite_dir: Path) -> None:
    """Another interpreter is created only for a call that finds every one busy, and never more
    than ``interpreters``; a call beyond that waits for one instead."""
    path = built(tflite_dir, "dyn.tflite", tfl.build_dynamic_batch)
    x = np.ones((1, 8), np.float32)
    with edgeinfer.load(path, backend="litert", options={"interpreters": 3}) as model:
        pool = pool_of(model)
        held = [pool.acquire(((1, 8),))]  # a call in progress on the only interpreter
        assert pool.created == 1
        model.run(x)  # finds it busy: a second one
        assert pool.created == 2
        held.append(pool.acquire(((1, 8),)))  # the idle second one: nothing new
        assert pool.created == 2
        held.append(pool.acquire(((1, 8),)))  # both busy: the third and last
        assert pool.created == 3
        answered: list[np.ndarray] = []
        waiting = threading.Thread(target=lambda: answered.append(model.run(x)["y"]))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # all three busy: it waits, no fourth interpreter
        assert answered == []
        pool.release(held.pop())
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        np.testing.assert_array_equal(answered[0], x + np.arange(8))
        for slot in held:
            pool.release(slot)
        assert pool.created == 3


def test_many_threads_stay_within_the_limit(cnn: dict[str, Path]) -> None:
    with edgeinfer.load(cnn["int8"], backend="litert", options={"interpreters": 2}) as model:
        x = np.zeros((1, 32, 32, 3), np.int8)
        expected = model.run(x)["logits"]
        failures: list[str] = []

        def worker() -> None:
            for _ in range(50):
                if not np.array_equal(model.run(x)["logits"], expected):
                    failures.append("mismatch")

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert 1 <= pool_of(model).created <= 2


def test_shapes_the_graph_cannot_take_are_invalid_input(tflite_dir: Path) -> None:
    """resize_tensor_input + allocate_tensors refusing the caller's shapes (batches 2 and 3
    do not broadcast) is the input's fault, with the runtime's words; the interpreter then
    serves good shapes again."""
    path = built(tflite_dir, "pair.tflite", tfl.build_dynamic_pair)
    with edgeinfer.load(path, backend="litert", options={"interpreters": 1}) as model:
        a, b = np.ones((2, 8), np.float32), np.ones((3, 8), np.float32)
        with pytest.raises(
            InvalidInput, match=r"shapes \(2, 8\), \(3, 8\).*failed to prepare"
        ) as info:
            model.run({"a": a, "b": b})
        assert info.value.__cause__ is not None
        assert model.history == ()  # never a fallback for bad input
        out = model.run({"a": a, "b": 2 * a})["sum"]
        np.testing.assert_array_equal(out, 3 * a)
        out = model.run({"a": b, "b": b})["sum"]  # the failed shapes' neighbour works too
        np.testing.assert_array_equal(out, 2 * b)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Cannot set tensor: Dimension mismatch. Got 9 but expected 8 for dimension 1 of "
            "input 0.",
            InvalidInput,
        ),
        (
            "Cannot set tensor: Got value of type FLOAT64 but expected type FLOAT32 for input 0,"
            " name: a ",
            InvalidInput,
        ),
        ("Node number 3 (CONV_2D) failed to invoke.", edgeinfer.InferenceError),
        ("std::bad_alloc", edgeinfer.OutOfMemory),
    ],
)
def test_run_rules_classify_the_runtimes_words(message: str, expected: type[Exception]) -> None:
    """The messages LiteRT really raises (set_tensor's ValueError, invoke's RuntimeError) go
    through the kit's translation with litert's rules."""
    from edgeinfer.backend import InferenceError, translated
    from edgeinfer.backends.litert.errors import RUN_RULES

    error = translated(ValueError(message), "litert cannot run m.tflite", RUN_RULES, InferenceError)
    assert type(error) is expected
    assert message.strip() in str(error)


def test_set_tensor_refusal_from_the_runtime_is_invalid_input(tflite_dir: Path) -> None:
    """Past edgeinfer's own checks (here called on the backend directly), the runtime's
    "Cannot set tensor" is still InvalidInput, with its message."""
    path = built(tflite_dir, "two.tflite", tfl.build_two_in_two_out)
    with edgeinfer.load(path, backend="litert") as model:
        backend = model._backend  # type: ignore[attr-defined]
        feeds = {"a": np.zeros((1, 8), np.float64), "b": np.zeros((1, 8), np.float32)}
        with pytest.raises(InvalidInput, match="Cannot set tensor: Got value of type FLOAT64"):
            backend.run(feeds)


def test_details_name_the_real_thread_count(cnn: dict[str, Path]) -> None:
    with edgeinfer.load(cnn["fp32"], backend="litert") as model:
        assert model._backend.details()["threads"].startswith("1 per interpreter")  # type: ignore[attr-defined]
        assert "threads: runtime default" not in model.explain()
    with edgeinfer.load(cnn["fp32"], backend="litert", threads=2) as model:
        assert model._backend.details()["threads"] == "2 per interpreter"  # type: ignore[attr-defined]


def test_unset_threads_is_one_in_the_interpreter_itself() -> None:
    """The fact the threads detail rests on: LiteRT's Interpreter gives its C++ side
    ``int(num_threads or 1)``."""
    import inspect

    from ai_edge_litert import interpreter

    assert "int(num_threads or 1)" in inspect.getsource(interpreter.Interpreter.__init__)


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


# --- the pool itself, with stand-in interpreters: growth, bound, order -----------------------


class _Counting:
    """Makes stand-in slots and counts them; ``fail_after`` makes creation fail from then on."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.made = 0
        self.fail_after = fail_after

    def __call__(self) -> Slot:
        if self.fail_after is not None and self.made >= self.fail_after:
            raise MemoryError("std::bad_alloc")
        self.made += 1
        return Slot(f"interpreter {self.made}", ((1,),))


def _queued(pool: InterpreterPool, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(pool._waiters) < count:  # the waiters' queue, in arrival order
        assert time.monotonic() < deadline, "the caller never queued"
        time.sleep(0.001)


def test_pool_grows_only_while_every_interpreter_is_busy() -> None:
    make = _Counting()
    pool = InterpreterPool(make, make(), 4)
    for shapes in [((1,),), ((2,),), ((3,),)] * 5:  # one caller, any shapes: one interpreter
        pool.release(pool.acquire(shapes))
    assert pool.created == 1
    first = pool.acquire(((1,),))
    second = pool.acquire(((1,),))  # the first is busy
    assert pool.created == 2
    pool.release(first)
    pool.release(pool.acquire(((9,),)))  # an idle one exists, even sized for other shapes
    assert pool.created == 2
    pool.release(second)


def test_pool_serves_waiters_first_come_first_served() -> None:
    make = _Counting()
    pool = InterpreterPool(make, make(), 1)
    held = pool.acquire(((1,),))
    order: list[str] = []

    def call(name: str) -> None:
        slot = pool.acquire(((1,),))
        order.append(name)
        pool.release(slot)

    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=call, args=(name,))
        thread.start()
        _queued(pool, len(threads) + 1)
        threads.append(thread)
    pool.release(held)
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first", "second", "third"]
    assert pool.created == 1


def test_pool_that_cannot_create_another_waits_for_a_busy_one() -> None:
    """Out of memory for a second interpreter: the call waits for the first instead of failing,
    and the pool stops growing (explain() says why)."""
    make = _Counting(fail_after=1)
    pool = InterpreterPool(make, make(), 4)
    held = pool.acquire(((1,),))
    got: list[Slot] = []
    thread = threading.Thread(target=lambda: got.append(pool.acquire(((1,),))))
    thread.start()
    _queued(pool, 1)
    pool.release(held)
    thread.join(timeout=10)
    assert got == [held]
    assert (pool.created, pool.size) == (1, 1)
    assert pool.stopped is not None
    assert "bad_alloc" in pool.stopped
