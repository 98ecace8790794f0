"""Hailo (``hailo``): detection on fake trees, the .hef format, and the "not available here, and
how to get it" paths. No Hailo device here: the runtime test is marked ``hardware``."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable
from edgeinfer._planning.detect import Roots, detect_devices
from edgeinfer._planning.formats import detect_format
from edgeinfer.backends.hailo import probe
from edgeinfer.backends.hailo.backend import HailoBackend
from fake_tree import fake_roots, touch


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return fake_roots(tmp_path, machine="aarch64")


def hef_file(path: Path) -> Path:
    path.write_bytes(struct.pack(">I", 0x01484546) + b"\x00" * 60)  # HailoRT's HEADER_MAGIC
    return path


def test_hailo_modules_are_npus(roots: Roots) -> None:
    touch(roots.dev / "hailo0")
    touch(roots.dev / "hailo1")
    npus = [d for d in detect_devices(roots) if d.kind == "npu"]
    assert [(d.id, d.source) for d in npus] == [
        ("npu:0", str(roots.dev / "hailo0")),
        ("npu:1", str(roots.dev / "hailo1")),
    ]
    assert all(("vendor", "hailo") in d.details for d in npus)


def test_diagnosis(roots: Roots) -> None:
    absent = probe.diagnose(roots)
    assert not absent.usable
    assert "/dev/hailo0" in absent.reason
    assert "hailo-all" in (absent.hint or "")
    touch(roots.dev / "hailo0")
    no_package = probe.diagnose(roots, has_package=lambda: False)
    assert "hailo_platform" in no_package.reason
    assert probe.diagnose(roots, has_package=lambda: True).usable


def test_hef_files_are_recognised(tmp_path: Path) -> None:
    assert detect_format(hef_file(tmp_path / "yolov8n.hef")) == "hailo"


def test_a_hef_model_here_says_why_not_and_how_to_get_it(tmp_path: Path) -> None:
    if HailoBackend.availability().available:
        pytest.skip("a Hailo device and HailoRT are here")
    with pytest.raises(BackendUnavailable) as caught:
        edgeinfer.load(hef_file(tmp_path / "model.hef"))
    assert caught.value.backend == "hailo"
    assert caught.value.hint


@pytest.mark.hardware
def test_runs_on_the_hailo_device() -> None:
    found = HailoBackend.availability()
    if not found.available:
        pytest.skip(f"hailo: {found.reason} ({found.hint})")
    model = Path(__file__).parent / "data" / "model.hef"
    if not model.exists():
        pytest.skip("put a .hef compiled for this device at tests/data/model.hef")
    with edgeinfer.load(model, device="npu", backend="hailo", float_io=True) as loaded:
        feeds = {s.name: np.zeros(s.shape or (), s.dtype) for s in loaded.inputs}
        result = loaded.run(feeds)
        assert all(np.isfinite(v).all() for v in result.values())
