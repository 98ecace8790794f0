"""Apache TVM backend: ONNX models compiled here for real (small ones: each compiles in well under
a second), parity with ONNX Runtime, the module cache, ahead-of-time compilation and its sidecar,
modules this machine must refuse (another TVM version, CPU features it lacks) falling back, a
short real MetaSchedule tuning run, and the errors a user meets."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import (
    BackendUnavailable,
    ConfigurationError,
    DeviceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)
from edgeinfer.backend import DeviceRequest
from edgeinfer.backends.tvm import backend as tvm_backend
from edgeinfer.backends.tvm import modules as tvm_modules
from edgeinfer.backends.tvm import tuning
from edgeinfer.backends.tvm.cache import module_key, module_path, tuning_dir
from edgeinfer.backends.tvm.sidecar import read_sidecar, sidecar_path
from edgeinfer.backends.tvm.targets import _ISA
from edgeinfer.testing import BackendContract
from runtime_models import workload_onnx

pytestmark = pytest.mark.backend("tvm")

MODELS = ("one_op", "multi_io", "dynamic_batch", "dynamic_dims")


@pytest.fixture(autouse=True, scope="module")
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every compiled module of this file goes to a cache folder of its own."""
    folder = tmp_path_factory.mktemp("tvm-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEINFER_CACHE", str(folder))
        yield folder


def _onnx(name: str, folder: Path) -> Path:
    import onnx_models

    path = folder / f"{name}.onnx"
    if not path.exists():
        onnx_models.ALL_BUILDERS[name](path)
    return path


class _Inputs(BackendContract):
    """Only for ``sample_inputs``: random values of each input's dtype, dynamic sizes 2."""

    dynamic_size = 2


def _feeds(model: edgeinfer.Model, seed: int = 0) -> dict[str, np.ndarray]:
    return _Inputs().sample_inputs(model.inputs, seed)


class TestTvmContract(BackendContract):
    backend = "tvm"

    @pytest.fixture(params=["one_op", "multi_io", "dynamic_batch"])
    def model_path(self, request: pytest.FixtureRequest, model_dir: Path) -> Path:
        return _onnx(request.param, model_dir)


# --- parity and specs -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*MODELS, "ds_cnn"])
def test_matches_onnxruntime(name: str, model_dir: Path) -> None:
    path = workload_onnx(name, model_dir) if name == "ds_cnn" else _onnx(name, model_dir)
    with (
        edgeinfer.load(path, backend="tvm", fallback=False) as model,
        edgeinfer.load(path, backend="onnxruntime") as reference,
    ):
        assert [str(s) for s in model.inputs] == [str(s) for s in reference.inputs]
        assert [s.name for s in model.outputs] == [s.name for s in reference.outputs]
        for seed in range(3):
            feeds = _feeds(model, seed)
            got, want = model.run(feeds), reference.run(feeds)
            assert set(got) == set(want)
            for key, expected in want.items():
                assert got[key].dtype == expected.dtype, key
                np.testing.assert_allclose(got[key], expected, rtol=1e-5, atol=1e-5)


def test_explain_reports_target_compile_and_tuning(model_dir: Path) -> None:
    with edgeinfer.load(_onnx("one_op", model_dir), backend="tvm", threads=1) as model:
        details = model.details
        assert details["runtime"].startswith("Apache TVM ")
        assert "kind=llvm" in details["target"]
        assert details["compile"].startswith(("compiled on this load in", "cached"))
        assert details["tune"].startswith("untuned")
        assert details["threads"].startswith("1 ")
        assert "compile:" in model.explain()


def test_threads_are_what_tvm_really_runs(model_dir: Path) -> None:
    """TVM's pool is one per process with a ceiling fixed at its start (TVM's own default is
    half the logical CPUs: one thread on a 2-core VM); edgeinfer sets the ceiling to the
    physical cores before TVM is imported, and reports the count TVM really runs."""
    import os

    from edgeinfer.backends.tvm.targets import physical_cores
    from edgeinfer.backends.tvm.threads import ENV_VAR

    path = _onnx("one_op", model_dir)
    with edgeinfer.load(path, backend="tvm") as model:
        assert ENV_VAR in os.environ
        assert model.details["threads"].split(" ")[0].isdigit()
    wanted = min(2, physical_cores())
    with edgeinfer.load(path, backend="tvm", threads=wanted) as model:
        assert model.details["threads"].startswith(f"{wanted} (")
    ceiling = int(os.environ[ENV_VAR])
    with edgeinfer.load(path, backend="tvm", threads=ceiling + 1) as model:
        assert f"not the {ceiling + 1} asked" in model.details["threads"]
        assert model.details["threads"].startswith(f"{ceiling},")


def test_auto_never_compiles_an_onnx_model_with_tvm(model_dir: Path) -> None:
    """Compiling takes seconds to minutes: tvm reads ONNX only when asked for by name."""
    with edgeinfer.load(_onnx("one_op", model_dir), device="cpu") as model:
        assert model.backend != "tvm"
    plan = edgeinfer.load(_onnx("one_op", model_dir), device="cpu").explain()
    assert "tvm" not in plan


# --- the cache --------------------------------------------------------------------------------


def test_the_second_load_reuses_the_compiled_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path / "cache"))
    path = _onnx("dynamic_batch", tmp_path)
    with edgeinfer.load(path, backend="tvm") as first:
        module = Path(first.details["module"])
        assert first.details["compile"].startswith("compiled on this load")
    assert module.is_file()
    assert sidecar_path(module).is_file()
    written = module.stat().st_mtime_ns

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached module should have been used")

    monkeypatch.setattr(tvm_modules, "compile_onnx", no_compiling)
    with edgeinfer.load(path, backend="tvm") as second:
        assert second.details["compile"].startswith("cached")
        assert Path(second.details["module"]) == module
        out = second.run({"x": np.ones((3, 8), np.float32)})
        assert out["y"].shape == (3, 4)
    assert module.stat().st_mtime_ns == written


def test_the_cache_key_changes_with_model_version_target_and_tuning() -> None:
    base = module_key("a" * 64, "0.27.0", {"kind": "llvm", "mcpu": "znver4"}, 0)
    assert base == module_key("a" * 64, "0.27.0", {"mcpu": "znver4", "kind": "llvm"}, 0)
    assert base != module_key("b" * 64, "0.27.0", {"kind": "llvm", "mcpu": "znver4"}, 0)
    assert base != module_key("a" * 64, "0.26.0", {"kind": "llvm", "mcpu": "znver4"}, 0)
    assert base != module_key("a" * 64, "0.27.0", {"kind": "llvm", "mcpu": "znver5"}, 0)
    assert base != module_key("a" * 64, "0.27.0", {"kind": "llvm", "mcpu": "znver4"}, 64)
    where = module_path(Path("/m/my model.onnx"), base, Path("/c"))
    assert where == Path(f"/c/tvm/modules/my_model.{base[:32]}.so")
    assert tuning_dir(Path("/m/x.onnx"), base, Path("/c")) == Path(f"/c/tvm/tuning/x.{base[:32]}")


def test_cache_false_compiles_every_load_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEINFER_CACHE", str(cache))
    path = _onnx("one_op", tmp_path)
    for _ in range(2):
        options = {"tvm": {"cache": False}}
        with edgeinfer.load(path, backend="tvm", options=options) as model:
            assert model.details["compile"].startswith("compiled on this load")
            assert not Path(model.details["module"]).exists()  # loaded, then removed
            assert model.run({"x": -np.ones((1, 16), np.float32)})["y"].max() == 0
    assert not cache.exists()


# --- ahead of time ----------------------------------------------------------------------------


def test_compile_ahead_writes_a_module_that_auto_loads(tmp_path: Path) -> None:
    source = _onnx("multi_io", tmp_path)
    written = edgeinfer.compile_model(source, "tvm")
    assert written == tmp_path / "multi_io.tvm.so"
    sidecar = read_sidecar(written)
    assert sidecar.source == "multi_io.onnx"
    assert [s.name for s in sidecar.inputs] == ["image", "mask", "ids", "scale"]
    assert sidecar.target["kind"] == "llvm"
    with (
        edgeinfer.load(written) as model,
        edgeinfer.load(source, backend="onnxruntime") as reference,
    ):
        assert model.backend == "tvm"
        assert model.details["compile"].startswith("compiled ahead of time")
        feeds = _feeds(model)
        got, want = model.run(feeds), reference.run(feeds)
        for key, expected in want.items():
            np.testing.assert_allclose(got[key], expected, rtol=1e-5, atol=1e-5)


def test_compile_command_line(tmp_path: Path) -> None:
    source = _onnx("one_op", tmp_path)
    out = tmp_path / "built" / "relu.so"
    command = [sys.executable, "-m", "edgeinfer.compile", str(source), "--out", str(out), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert out.is_file()
    assert (tmp_path / "built" / "relu.json").is_file()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 64
    assert "--overwrite" in again.stderr
    wrong = [sys.executable, "-m", "edgeinfer.compile", str(source), "--backend", "onnxruntime"]
    refused = subprocess.run(wrong, capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 64
    assert "does not compile models ahead of time" in refused.stderr
    assert "tvm" in refused.stderr
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is not a model")
    failed = subprocess.run(
        [sys.executable, "-m", "edgeinfer.compile", str(broken)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert failed.returncode == 1
    assert "ModelError" in failed.stderr


def test_compile_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    source = _onnx("one_op", tmp_path)
    with pytest.raises(FileNotFoundError):
        edgeinfer.compile_model(tmp_path / "missing.onnx")
    with pytest.raises(ConfigurationError, match="unknown backend"):
        edgeinfer.compile_model(source, "nonesuch")
    with pytest.raises(ConfigurationError, match="compiles for cpu, gpu"):
        edgeinfer.compile_model(source, "tvm", device="npu")
    with pytest.raises(ConfigurationError, match="unknown tvm option"):
        edgeinfer.compile_model(source, "tvm", options={"tunes": 4})
    written = edgeinfer.compile_model(source, "tvm")
    with pytest.raises(ConfigurationError, match="compiles ONNX models"):
        edgeinfer.compile_model(written, "tvm")


# --- modules this machine must refuse ---------------------------------------------------------


def _edit_sidecar(module: Path, **changes: object) -> None:
    path = sidecar_path(module)
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


@pytest.fixture
def compiled_variants(tmp_path: Path) -> Path:
    """A folder with one model twice: ONNX, and compiled by TVM ahead of time."""
    source = _onnx("dynamic_batch", tmp_path)
    edgeinfer.compile_model(source, "tvm", out=tmp_path / "dynamic_batch.so")
    return tmp_path


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tvm_version": "0.19.0"}, "built by TVM 0.19.0"),
        ({"host_arch": "riscv64"}, "compiled for riscv64 CPUs"),
        ({"features": ["avx512f", "sve2", "sme"]}, "which this CPU"),
        ({"target": {"kind": "cuda"}}, "not for the cpu"),
    ],
)
def test_a_module_this_machine_cannot_run_falls_back_visibly(
    compiled_variants: Path, changes: dict[str, object], reason: str
) -> None:
    module = compiled_variants / "dynamic_batch.so"
    _edit_sidecar(module, **changes)
    with pytest.raises(ModelIncompatible, match=reason):
        edgeinfer.load(module, backend="tvm", fallback=False)
    with edgeinfer.load(compiled_variants, device="cpu") as model:
        assert model.backend == "onnxruntime"
        failed = [a for a in model.attempts if a.backend == "tvm"]
        assert failed
        assert failed[0].error == "ModelIncompatible"
        assert reason in failed[0].reason
        assert model.run({"x": np.ones((2, 8), np.float32)})["y"].shape == (2, 4)


def test_a_folder_of_variants_serves_the_compiled_module_when_it_runs_here(
    compiled_variants: Path,
) -> None:
    """A module compiled for this machine is the most specialised variant: offered first."""
    with edgeinfer.load(compiled_variants, device="cpu") as model:
        assert model.backend == "tvm"
        assert Path(model.attempts[-1].file).name == "dynamic_batch.so"


def test_only_instruction_set_features_decide() -> None:
    assert _ISA.match("avx512f")
    assert _ISA.match("sse4.2")
    assert _ISA.match("neon")
    assert _ISA.match("sve2")
    assert not _ISA.match("fast-gather")
    assert not _ISA.match("slow-3ops-lea")
    assert not _ISA.match("prefer-256-bit")


def test_a_module_without_its_sidecar_says_how_to_make_one(compiled_variants: Path) -> None:
    module = compiled_variants / "dynamic_batch.so"
    sidecar_path(module).unlink()
    with pytest.raises(ModelError, match=r"no sidecar dynamic_batch\.json.*edgeinfer\.compile"):
        edgeinfer.load(module, backend="tvm", fallback=False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "cannot read"),
        (json.dumps({"format": "something else"}), "not an edgeinfer TVM sidecar"),
        (
            json.dumps({"format": "edgeinfer-tvm-module", "format_version": 1, "target": "llvm"}),
            "'target' must be a TVM target dict",
        ),
    ],
)
def test_a_malformed_sidecar_is_a_model_error(
    compiled_variants: Path, text: str, match: str
) -> None:
    module = compiled_variants / "dynamic_batch.so"
    sidecar_path(module).write_text(text)
    with pytest.raises(ModelError, match=match):
        edgeinfer.load(module, backend="tvm", fallback=False)


def test_a_library_that_is_not_a_tvm_module_is_a_model_error(tmp_path: Path) -> None:
    library = tmp_path / "libnot_a_model.so"
    shutil.copy(next(Path(np.__file__).parent.rglob("*.so")), library)  # a real, foreign library
    sidecar_path(library).write_text(
        json.dumps(
            {
                "format": "edgeinfer-tvm-module",
                "format_version": 1,
                "tvm_version": edgeinfer.backend.installed_version("apache-tvm", "tvm"),
                "target": {"kind": "llvm"},
                "host_arch": "",
                "inputs": [{"name": "x", "shape": [1], "dtype": "float32"}],
                "outputs": [{"name": "y", "shape": [1], "dtype": "float32"}],
            }
        )
    )
    with pytest.raises((ModelError, ModelIncompatible)):
        edgeinfer.load(library, backend="tvm", fallback=False)


# --- options, devices and input errors --------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"tune": -1}, ConfigurationError, "'tune' must be a number of trials"),
        ({"tune": True}, ConfigurationError, "'tune' must be a number of trials"),
        ({"target": "llvm -mcpu=znver4"}, ConfigurationError, "takes targets as dicts"),
        ({"target": {"mcpu": "x"}}, ConfigurationError, "with a 'kind'"),
        ({"target": {"kind": "cuda"}}, ConfigurationError, "does not run on the cpu"),
        ({"opt": 3}, ConfigurationError, "unknown tvm option"),
        ({"cache": "no"}, ConfigurationError, "'cache' must be True or False"),
    ],
)
def test_bad_options_are_named(
    options: dict[str, object], error: type[Exception], match: str, model_dir: Path
) -> None:
    with pytest.raises(error, match=match):
        edgeinfer.load(_onnx("one_op", model_dir), backend="tvm", fallback=False,
                       options={"tvm": options})  # fmt: skip


def test_an_explicit_target_is_used(tmp_path: Path) -> None:
    options = {"tvm": {"target": {"kind": "llvm", "mcpu": "x86-64"}}}
    with edgeinfer.load(_onnx("one_op", tmp_path), backend="tvm", options=options) as model:
        assert model.details["target"] == "kind=llvm, mcpu=x86-64"
        module = Path(model.details["module"])
    assert "avx512f" not in read_sidecar(module).features


def test_shapes_fix_dynamic_sizes_at_compile_time(tmp_path: Path) -> None:
    path = _onnx("dynamic_dims", tmp_path)
    options = {"tvm": {"shapes": {"x": [2, 3, 8, 12]}}}
    with (
        edgeinfer.load(path, backend="tvm", options=options, fallback=False) as model,
        edgeinfer.load(path, backend="onnxruntime") as reference,
    ):
        assert [str(s) for s in model.inputs] == ["x: float32[2, 3, 8, 12]"]
        x = np.random.default_rng(0).standard_normal((2, 3, 8, 12)).astype(np.float32)
        np.testing.assert_allclose(model.run({"x": x})["y"], reference.run({"x": x})["y"])
        with pytest.raises(InvalidInput, match="expected shape"):
            model.run({"x": np.zeros((1, 3, 8, 12), np.float32)})
    written = tmp_path / "fixed.so"
    command = [sys.executable, "-m", "edgeinfer.compile", str(path), "--shape", "x:1x3x16x16",
               "--out", str(written), "-q"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert read_sidecar(written).inputs[0].shape == (1, 3, 16, 16)


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        ({"nope": [1, 3, 8, 8]}, "'nope', which is not an input"),
        ({"x": [1, 3, 8]}, "the model declares x: float32"),
        ({"x": [1, 4, 8, 8]}, "the model declares x: float32"),
        ({"x": [1, 3, 0, 8]}, "must be positive sizes"),
        ({"x": "1x3x8x8"}, "must be positive sizes"),
        ([1, 3, 8, 8], "must map input names to sizes"),
    ],
)
def test_bad_shapes_are_named(shapes: object, match: str, model_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match=match):
        edgeinfer.load(_onnx("dynamic_dims", model_dir), backend="tvm", fallback=False,
                       options={"tvm": {"shapes": shapes}})  # fmt: skip


def test_other_precisions_are_incompatible_so_the_chain_moves_on(model_dir: Path) -> None:
    with pytest.raises(ModelIncompatible, match="own precision"):
        edgeinfer.load(_onnx("one_op", model_dir), backend="tvm", precision="fp16",
                       fallback=False)  # fmt: skip


def test_no_gpu_here_is_a_device_error_with_the_reason(model_dir: Path) -> None:
    import tvm

    if any(tvm.device(kind, 0).exist for kind in ("cuda", "vulkan", "opencl")):
        pytest.skip("this machine has a GPU TVM can use")
    with pytest.raises(DeviceError, match="no GPU it can run on") as caught:
        tvm_backend.TvmBackend.open(
            _onnx("one_op", model_dir), DeviceRequest("gpu"), edgeinfer.OpenOptions()
        )
    assert "cuda:" in str(caught.value)


@pytest.mark.hardware
def test_runs_on_a_gpu_where_there_is_one(model_dir: Path) -> None:
    import tvm

    if not any(tvm.device(kind, 0).exist for kind in ("cuda", "vulkan", "opencl")):
        pytest.skip("no GPU TVM can use here (cuda, vulkan, opencl)")
    path = workload_onnx("ds_cnn", model_dir)
    with (
        edgeinfer.load(path, device="gpu", backend="tvm", fallback=False) as model,
        edgeinfer.load(path, backend="onnxruntime") as reference,
    ):
        assert model.device.startswith("gpu")
        feeds = _feeds(model)
        np.testing.assert_allclose(
            model.run(feeds)["logits"], reference.run(feeds)["logits"], rtol=1e-3, atol=1e-3
        )


def test_a_symbolic_dimension_that_disagrees_is_invalid_input(tmp_path: Path) -> None:
    """Two inputs share the dimension ``N``; TVM checks it, and edgeinfer reports the input."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        "shared",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4])],
    )
    path = tmp_path / "shared.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with edgeinfer.load(path, backend="tvm", fallback=False) as model:
        ok = model.run({"a": np.ones((3, 4), np.float32), "b": np.ones((3, 4), np.float32)})
        np.testing.assert_array_equal(ok["c"], np.full((3, 4), 2, np.float32))
        with pytest.raises(InvalidInput):
            model.run({"a": np.ones((3, 4), np.float32), "b": np.ones((2, 4), np.float32)})
        assert model.run({"a": np.ones((1, 4), np.float32), "b": np.ones((1, 4), np.float32)})


def test_an_operator_tvm_lacks_is_incompatible(tmp_path: Path) -> None:
    """TVM 0.27's ONNX frontend has no Col2Im (nor LSTM, Loop, If...): the model is incompatible
    with tvm, the operator named; another backend may run it."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Col2Im", ["x", "image_shape", "block_shape"], ["y"])],
        "col2im",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4]),
            helper.make_tensor_value_info("image_shape", TensorProto.INT64, [2]),
            helper.make_tensor_value_info("block_shape", TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "col2im.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    with pytest.raises(
        ModelIncompatible, match=r"ONNX frontend cannot import col2im\.onnx.*Col2Im"
    ):
        edgeinfer.load(path, backend="tvm", fallback=False)


# --- availability -----------------------------------------------------------------------------


def test_not_installed_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    tvm_backend._availability.cache_clear()
    monkeypatch.setattr(tvm_backend.importlib.util, "find_spec", lambda name: None)
    try:
        found = tvm_backend.TvmBackend.availability()
        assert not found.available
        assert found.reason == "Apache TVM is not installed"
        assert "pip install apache-tvm" in (found.hint or "")
    finally:
        tvm_backend._availability.cache_clear()


# --- tuning -----------------------------------------------------------------------------------


def _static_conv(folder: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(weights, "w")],
    )
    path = folder / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_tuning_runs_metaschedule_keeps_its_records_and_reuses_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real MetaSchedule run of a few trials (about a minute here: each batch of builds starts
    workers that import TVM's tensor intrinsics), then the module deleted: the next load builds
    from the kept records without tuning again."""
    path = _static_conv(tmp_path)
    options = {"tvm": {"tune": 4}}
    with (
        edgeinfer.load(path, backend="tvm", options=options, fallback=False) as model,
        edgeinfer.load(path, backend="onnxruntime") as reference,
    ):
        assert model.details["tune"].startswith("4 MetaSchedule trials")
        feeds = _feeds(model)
        np.testing.assert_allclose(
            model.run(feeds)["y"], reference.run(feeds)["y"], rtol=1e-5, atol=1e-5
        )
        module = Path(model.details["module"])
    progress = capsys.readouterr().err
    assert "tvm: tuning conv.onnx [" in progress
    assert "4/4 trials" in progress
    records = next(module.parent.parent.glob(f"tuning/{module.stem}"))
    assert (records / "database_tuning_record.json").stat().st_size > 0
    sidecar = read_sidecar(module)
    assert sidecar.tune_trials == 4
    assert sidecar.tune_seconds > 0
    module.unlink()
    with edgeinfer.load(path, backend="tvm", options=options) as again:
        assert read_sidecar(module).extra["reused_tuning_records"] is True
        assert again.run(feeds)["y"].shape == (1, 4, 8, 8)
    assert "tvm: tuning" not in capsys.readouterr().err


def test_a_dynamic_model_is_compiled_untuned_with_a_warning_unless_its_shapes_are_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "edgeinfer.backends.tvm")
    path = _onnx("dynamic_batch", tmp_path)
    with edgeinfer.load(path, backend="tvm", options={"tvm": {"tune": 8}}) as model:
        assert model.details["tune"].startswith("untuned")
    assert "tunes static shapes only" in caplog.text
    caplog.clear()
    fixed = {"tvm": {"tune": 2, "shapes": {"x": [4, 8]}}}
    with edgeinfer.load(path, backend="tvm", options=fixed) as model:  # its shapes given: tuned
        assert model.details["tune"].startswith("2 MetaSchedule trials")
        assert model.run({"x": np.ones((4, 8), np.float32)})["y"].shape == (4, 4)
    assert "tunes static shapes only" not in caplog.text


def test_tuning_refuses_the_ffi_that_crashes_tvm_027(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tvm

    if not str(tvm.__version__).startswith("0.27"):
        pytest.skip(f"the check is for TVM 0.27; this is {tvm.__version__}")
    import edgeinfer.backend as kit

    real = kit.installed_version
    monkeypatch.setattr(
        kit,
        "installed_version",
        lambda *names: "0.1.15.post2" if names[0] == "apache-tvm-ffi" else real(*names),
    )
    with pytest.raises(BackendUnavailable, match=r"apache-tvm-ffi 0\.1\.15") as caught:
        tuning.check_tuning_works(tvm)
    assert "apache-tvm-ffi<0.1.15" in (caught.value.hint or "")
    with pytest.raises((BackendUnavailable, NoBackendAvailable), match="crashes the process"):
        edgeinfer.load(_static_conv(tmp_path), backend="tvm", options={"tvm": {"tune": 2}})


# --- models nobody here wrote -----------------------------------------------------------------


def test_a_published_recurrent_model_matches_onnxruntime_call_after_call() -> None:
    """Silero VAD v6 (fetched from its PyPI wheel): dynamic input, a scalar int64, a recurrent
    state fed back; TVM 0.27 imports it as it is, and the chain of calls matches ONNX Runtime."""
    from published_models import fetch
    from test_published_models import MODELS, _vad

    path = fetch(MODELS["silero-vad"])
    drive = _vad(with_sr=True, chunks=8)
    with (
        edgeinfer.load(path, backend="tvm", fallback=False) as model,
        edgeinfer.load(path, backend="onnxruntime") as reference,
    ):
        assert [s.name for s in model.outputs] == [s.name for s in reference.outputs]
        got, want = drive(model.run), drive(reference.run)
    for have, expected in zip(got, want, strict=True):
        for key in expected:
            np.testing.assert_allclose(have[key], expected[key], rtol=1e-4, atol=1e-5)


def test_a_published_model_tvm_cannot_import_falls_back_visibly() -> None:
    """YOLOv8n (nudenet's export): TVM 0.27's frontend fails on it (dynamic sizes; with them
    fixed, the VM code generator refuses an operator): ModelIncompatible, and the next pinned
    backend serves."""
    from published_models import fetch
    from test_published_models import MODELS

    path = fetch(MODELS["yolov8n"])
    with edgeinfer.load(path, backend=["tvm", "onnxruntime"], device="cpu") as model:
        assert model.backend == "onnxruntime"
        (tried,) = [a for a in model.attempts if a.backend == "tvm"]
        assert tried.error == "ModelIncompatible"
        assert "tvm's ONNX frontend cannot import 320n.onnx" in tried.reason
