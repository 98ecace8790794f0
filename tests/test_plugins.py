"""Third-party backends and formats: the open registries, the shipped contract suite, and a
plugin that misbehaves without breaking anyone else's loads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
import npz_backend
from edgeinfer import Availability, ConfigurationError
from edgeinfer._planning import formats as format_registry
from edgeinfer._planning import registry
from edgeinfer.backend import BackendEntry
from edgeinfer.testing import BackendContract
from fake_backend import make_fake

pytestmark = pytest.mark.usefixtures("clean_registry")


@pytest.fixture(autouse=True)
def npz_format() -> Iterator[None]:
    edgeinfer.register_format(npz_backend.FORMAT, suffixes=(".npz",), sniff=npz_backend.sniff)
    yield
    format_registry.unregister_format(npz_backend.FORMAT)


@pytest.fixture
def registered() -> None:
    edgeinfer.register_backend("npz", "npz_backend:NpzBackend", formats=(npz_backend.FORMAT,),
                               devices=("cpu",))  # fmt: skip


class TestNpzBackendContract(BackendContract):
    """The third-party backend passes the shipped suite, registered like a plugin would be."""

    backend = "npz"
    dynamic_size = 2

    @pytest.fixture
    def model_path(self, tmp_path: Path, registered: None) -> Path:
        return npz_backend.build(tmp_path / "linear.npz")


def test_a_plugin_format_is_recognised_and_loads(tmp_path: Path, registered: None) -> None:
    path = npz_backend.build(tmp_path / "linear.npz")
    assert format_registry.detect_format(path) == npz_backend.FORMAT
    x = np.ones((2, 4), np.float32)
    with edgeinfer.load(path) as model:  # planned from the registry's data, not pinned
        assert model.backend == "npz"
        weight = np.load(path)["weight"]
        np.testing.assert_allclose(model.run(x)["y"], x @ weight + np.arange(3), rtol=1e-6)


def test_registering_formats_nobody_registered_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown format '\.onnx'; did you mean 'onnx'"):
        edgeinfer.register_backend("dotted", make_fake("dotted"), formats=(".onnx",))
    with pytest.raises(ConfigurationError, match="unknown device kind 'tpu'"):
        edgeinfer.register_backend("tpu", make_fake("tpu"), devices=("tpu",))
    with pytest.raises(ConfigurationError, match="rank"):
        edgeinfer.register_backend("r", make_fake("r"), rank="first")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="built in"):
        edgeinfer.register_format("onnx", suffixes=(".onnx2",))
    with pytest.raises(ConfigurationError, match="suffixes, a sniff function"):
        edgeinfer.register_format("nothing")
    with pytest.raises(ConfigurationError, match=r"'\.ext'"):
        edgeinfer.register_format("bad", suffixes=("onnx",))


def test_a_class_declaring_an_unknown_format_is_unavailable_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typo_backend.py").write_text(
        "from fake_backend import make_fake\nTypo = make_fake('typo', formats=('.onnx',))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    edgeinfer.register_backend("typo", "typo_backend:Typo")
    row = {info.name: info for info in edgeinfer.backends()}["typo"]
    assert not row.available
    assert "did you mean 'onnx'" in row.reason


class _Raising(make_fake("raising")):  # type: ignore[misc]
    @classmethod
    def availability(cls) -> Availability:
        raise RuntimeError("probe exploded")


class _Nonsense(make_fake("nonsense")):  # type: ignore[misc]
    @classmethod
    def availability(cls) -> Availability:
        return "yes"  # type: ignore[return-value]


@pytest.mark.backend("onnxruntime")
def test_a_misbehaving_plugin_does_not_stop_onnx_models_loading(one_op: Path) -> None:
    edgeinfer.register_backend("raising", _Raising, rank=1)  # ranked before onnxruntime
    edgeinfer.register_backend("nonsense", _Nonsense, rank=2)
    with edgeinfer.load(one_op) as model:
        assert model.backend == "onnxruntime"
        reasons = {a.backend: a.reason for a in model.attempts}
    assert reasons["raising"] == "availability() raised RuntimeError: probe exploded"
    assert "returned str, not an Availability" in reasons["nonsense"]
    rows = {info.name: info for info in edgeinfer.backends()}
    assert not rows["raising"].available
    assert not rows["nonsense"].available


def test_a_plugin_ranks_itself(tmp_path: Path) -> None:
    from edgeinfer._planning.devices import DeviceRequest
    from edgeinfer._planning.plan import plan

    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    edgeinfer.register_backend("late", make_fake("late"))  # default rank: after the built-ins
    edgeinfer.register_backend("early", make_fake("early"), rank={"cpu": 1})
    order = [step.backend for step in plan([(path, "onnx")], [DeviceRequest("cpu")])]
    assert order[0] == "early"
    assert order[-1] == "late"
    assert order.index("onnxruntime") < order.index("openvino")  # built-in ranks kept


def test_entry_points_may_carry_the_data_so_planning_imports_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "light_entry.py").write_text(
        "from edgeinfer.backend import BackendEntry\n"
        "ENTRY = BackendEntry('x', 'heavy_runtime_module:Heavy', formats=('tflite',),\n"
        "                     devices=('cpu',), rank={'cpu': 5})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    point = metadata.EntryPoint("light", "light_entry:ENTRY", "edgeinfer.backends")
    monkeypatch.setattr(metadata, "entry_points", lambda *, group: [point])
    monkeypatch.setattr(registry, "_entry_points_read", False)
    monkeypatch.setattr(registry, "declared_anywhere", lambda group: True)
    entry = registry.entry("light")
    assert isinstance(entry, BackendEntry)
    assert (entry.formats, entry.rank_on("cpu"), entry.target) == (
        ("tflite",),
        5,
        "heavy_runtime_module:Heavy",
    )
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"\x08\x08\x3a\x00")
    edgeinfer.register_backend("fake", make_fake("fake"))
    edgeinfer.load(onnx_file, device="cpu", backend=None, warmup=0)
    assert "heavy_runtime_module" not in sys.modules  # an ONNX plan never touched it


def test_loading_onnx_imports_only_the_backends_that_read_onnx(one_op: Path) -> None:
    code = textwrap.dedent(f"""
        import sys, edgeinfer
        edgeinfer.load({str(one_op)!r}, device="cpu").close()
        print(sorted(m for m in sys.modules if m.startswith("edgeinfer.backends.")))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    loaded = result.stdout.strip()
    for other in ("litert", "edgetpu", "coreml", "tensorrt"):
        assert f"edgeinfer.backends.{other}" not in loaded, loaded
    assert "edgeinfer.backends.onnxruntime" in loaded


def test_the_contract_suite_catches_a_broken_backend(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    pytester.makepyfile(
        test_broken=textwrap.dedent("""
            import pytest
            import edgeinfer
            import npz_backend
            from edgeinfer.testing import BackendContract

            edgeinfer.register_format(npz_backend.FORMAT, suffixes=(".npz",),
                                      sniff=npz_backend.sniff)
            edgeinfer.register_backend("npz-broken", npz_backend.BrokenNpzBackend)

            class TestBroken(BackendContract):
                backend = "npz-broken"

                @pytest.fixture
                def model_path(self, tmp_path):
                    return npz_backend.build(tmp_path / "linear.npz")
        """)
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_outputs_belong_to_the_caller*"])
