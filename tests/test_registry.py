"""The backend registry: lazy targets, register_backend, entry points, backends()."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, ConfigurationError, UnknownBackend
from edgeinfer._planning import registry as _registry
from fake_backend import make_fake

pytestmark = pytest.mark.usefixtures("clean_registry")


def test_builtin_names_and_infos() -> None:
    infos = {info.name: info for info in edgeinfer.backends()}
    assert "onnxruntime" in infos
    ort = infos["onnxruntime"]
    assert ort.formats == ("onnx",)
    assert ort.devices == ("cpu", "gpu", "npu")
    assert ort.source == "builtin"
    hint = "pip install onnxruntime (what edgeinfer's 'onnx' extra installs)"
    assert ort.available or ort.hint == hint


def test_string_target_is_imported_only_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "lazy_backend_mod.py"
    module.write_text(
        "import sys\nsys.modules[__name__].IMPORTED = True\n"
        "from fake_backend import make_fake\nLazy = make_fake('lazy')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    edgeinfer.register_backend("lazy", "lazy_backend_mod:Lazy", hint="pip install lazy")
    assert "lazy_backend_mod" not in sys.modules
    assert "lazy" in _registry.names()
    assert "lazy_backend_mod" not in sys.modules
    cls = _registry.backend_class("lazy")
    assert cls.name == "lazy"
    assert sys.modules["lazy_backend_mod"].IMPORTED


def test_broken_module_is_backend_unavailable_with_chained_cause() -> None:
    edgeinfer.register_backend("broken", "no_such_module_xyz:Backend", hint="pip install xyz")
    with pytest.raises(BackendUnavailable, match="cannot import") as info:
        _registry.backend_class("broken")
    assert isinstance(info.value.__cause__, ImportError)
    assert info.value.hint == "pip install xyz"
    row = {i.name: i for i in edgeinfer.backends()}["broken"]
    assert (row.available, row.hint) == (False, "pip install xyz")


def test_target_that_is_not_a_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not_a_backend_mod.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    edgeinfer.register_backend("thing", "not_a_backend_mod:Thing")
    with pytest.raises(BackendUnavailable, match=r"not an edgeinfer\.Backend"):
        _registry.backend_class("thing")


@pytest.mark.parametrize(
    ("name", "target"),
    [("", "a:B"), ("bad name", "a:B"), ("ok", "no_colon"), ("ok", object), ("ok", 3)],
)
def test_bad_registrations(name: str, target: object) -> None:
    with pytest.raises(ConfigurationError):
        edgeinfer.register_backend(name, target)  # type: ignore[arg-type]


def test_unknown_backend() -> None:
    with pytest.raises(UnknownBackend, match="onnxruntime"):
        _registry.backend_class("nonesuch")


def test_reregistering_replaces_and_unregister_restores_builtin() -> None:
    fake = make_fake("onnxruntime")
    edgeinfer.register_backend("onnxruntime", fake)
    assert _registry.backend_class("onnxruntime") is fake
    _registry.unregister_backend("onnxruntime")
    assert _registry.backend_class("onnxruntime").__name__ == "OnnxRuntimeBackend"


def test_entry_points_are_read_on_first_use_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake("plugged")
    module = type(sys)("plugged_mod")
    module.Plugged = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "plugged_mod", module)
    calls: list[str] = []
    point = metadata.EntryPoint("plugged", "plugged_mod:Plugged", "edgeinfer.backends")
    shadow = metadata.EntryPoint("onnxruntime", "plugged_mod:Plugged", "edgeinfer.backends")

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        calls.append(group)
        return [point, shadow]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    monkeypatch.setattr(_registry, "_entry_points_read", False)
    monkeypatch.setattr(_registry, "declared_anywhere", lambda group: True)
    assert calls == []
    assert "plugged" in _registry.names()
    assert calls == ["edgeinfer.backends"]
    _registry.names()
    assert calls == ["edgeinfer.backends"]  # read once
    assert _registry.backend_class("plugged") is fake
    # an entry point cannot take over a built-in name
    assert _registry.backend_class("onnxruntime") is not fake


def test_import_edgeinfer_reads_no_entry_points() -> None:
    import subprocess

    code = (
        "import importlib.metadata as m\n"
        "calls = []\n"
        "real = m.entry_points\n"
        "m.entry_points = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        "import edgeinfer\n"
        "assert calls == [], calls\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
