"""Shared fixtures: real ONNX models built once per session, and the backend/hardware markers."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import edgeinfer
from edgeinfer._planning import registry as _registry

HAVE_ONNX = importlib.util.find_spec("onnx") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        default=[],
        help="run only the tests of this backend (marker backend(name) or contract parameter)",
    )


def _backends_of(item: pytest.Item) -> set[str]:
    names = {marker.args[0] for marker in item.iter_markers("backend")}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        names.add(callspec.params["backend"])
    if callspec is not None and "case" in callspec.params:
        names.add(callspec.params["case"][0])
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Select ``--backend`` tests; skip backend tests with the detector's reason where unusable."""
    wanted = set(config.getoption("--backend"))
    if wanted:
        keep = [item for item in items if _backends_of(item) & wanted]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
    infos = {info.name: info for info in edgeinfer.backends()}
    for item in items:
        for marker in item.iter_markers("backend"):
            name = marker.args[0]
            info = infos.get(name)
            if info is None:
                item.add_marker(pytest.mark.skip(reason=f"backend {name!r} is not registered"))
            elif not info.available:
                item.add_marker(pytest.mark.skip(reason=f"{name}: {info.reason} ({info.hint})"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _build(model_dir: Path, name: str) -> Path:
    if not HAVE_ONNX:
        pytest.skip("the onnx package builds the test models: pip install 'edgeinfer[test]'")
    import onnx_models

    path = model_dir / f"{name}.onnx"
    if not path.exists():
        onnx_models.ALL_BUILDERS[name](path)
    return path


@pytest.fixture(scope="session")
def one_op(model_dir: Path) -> Path:
    return _build(model_dir, "one_op")


@pytest.fixture(scope="session")
def mobilenet(model_dir: Path) -> Path:
    return _build(model_dir, "mobilenet_v2")


@pytest.fixture(scope="session")
def multi_io(model_dir: Path) -> Path:
    return _build(model_dir, "multi_io")


@pytest.fixture(scope="session")
def dynamic_batch(model_dir: Path) -> Path:
    return _build(model_dir, "dynamic_batch")


@pytest.fixture(scope="session")
def dynamic_dims(model_dir: Path) -> Path:
    return _build(model_dir, "dynamic_dims")


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """Bytes that sniff as ONNX (ir_version 8, an empty graph); fake backends never parse them."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x08\x3a\x00")
    return path


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo every ``register_backend`` a test makes."""
    before = dict(_registry._entries)
    yield
    for name in list(_registry._entries):
        if name not in before or _registry._entries[name] != before[name]:
            _registry.unregister_backend(name)
    _registry._entries.update(before)


pytest_plugins = ["pytester"]
