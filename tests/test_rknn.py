"""Rockchip NPU (``rknn``): detection and diagnosis on fake board trees, the .rknn format, and the
"not available here, and how to get it" paths. No Rockchip board here: the runtime test is
marked ``hardware`` and skips with the diagnosis."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, ModelError
from edgeinfer._planning.detect import Roots, detect_devices
from edgeinfer._planning.formats import detect_format
from edgeinfer.backends.rknn import probe
from edgeinfer.backends.rknn.backend import RknnBackend
from edgeinfer.backends.rknn.container import rknn_io_counts
from fake_tree import fake_roots, touch


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return fake_roots(tmp_path, machine="aarch64")


def rk3588_board(roots: Roots, driver: bool = True) -> None:
    touch(roots.proc / "device-tree" / "compatible", "radxa,rock-5b\x00rockchip,rk3588\x00")
    touch(roots.dev / "dri" / "renderD128")  # the Mali GPU
    touch(roots.sys / "class" / "drm" / "renderD128" / "device" / "uevent", "DRIVER=mali\n")
    if driver:
        touch(roots.dev / "dri" / "renderD129")
        touch(
            roots.sys / "class" / "drm" / "renderD129" / "device" / "uevent",
            "DRIVER=RKNPU\nOF_COMPATIBLE_0=rockchip,rk3588-rknpu\n",
        )


def rknn_file(path: Path, inputs: int = 1, outputs: int = 2, version: int = 0x0006) -> Path:
    graph = [{"left": "input", "left_tensor_id": i, "right": "norm_tensor"} for i in range(inputs)]
    graph += [{"left": "output", "left_tensor_id": i} for i in range(outputs)]
    model = json.dumps({"version": "2.3.0", "graph": graph}).encode()
    data = b"\x00" * 16  # the compiled graph, opaque here
    header = b"RKNN" + b"\x00" * 4 + struct.pack("<QQ", version, len(data)) + b"\x00" * 40
    path.write_bytes(header + data + struct.pack("<Q", len(model)) + model)
    return path


def test_rk3588_npu_is_an_npu_not_a_gpu(roots: Roots) -> None:
    rk3588_board(roots)
    found = detect_devices(roots)
    npus = [d for d in found if d.kind == "npu"]
    gpus = [d for d in found if d.kind == "gpu"]
    assert [d.name for d in npus] == ["Rockchip RK3588 NPU"]
    assert npus[0].id == "npu:0"
    assert ("vendor", "rockchip") in npus[0].details
    assert len(gpus) == 1  # the Mali render node; the RKNPU node is not counted as a GPU


def test_legacy_rknpu_misc_device(roots: Roots) -> None:
    touch(roots.proc / "device-tree" / "compatible", "rockchip,rk3568-evb\x00rockchip,rk3568\x00")
    touch(roots.dev / "rknpu")
    assert [d.name for d in detect_devices(roots) if d.kind == "npu"] == ["Rockchip RK3568 NPU"]


def test_diagnosis_names_the_missing_piece(roots: Roots, tmp_path: Path) -> None:
    def check(expected: str, **kwargs: object) -> probe.NpuDiagnosis:
        found = probe.diagnose(roots, **kwargs)  # type: ignore[arg-type]
        assert expected in found.reason
        return found

    found = check("not a Rockchip board")
    assert found.hint is not None
    assert "ONNX" in found.hint
    rk3588_board(roots, driver=False)
    assert "RKNPU driver" in (check("driver is not loaded").hint or "")
    rk3588_board(roots)
    assert "rknn-toolkit-lite2" in (check("not installed", has_package=lambda: False).hint or "")
    assert "librknnrt.so" in (
        check("librknnrt.so", has_package=lambda: True, find_library=lambda _: None).hint or ""
    )
    ready = probe.diagnose(roots, has_package=lambda: True, find_library=lambda _: "librknnrt.so")
    assert ready.usable
    assert ready.soc == "rk3588"


def test_rknn_files_are_recognised_and_read(tmp_path: Path) -> None:
    path = rknn_file(tmp_path / "model.rknn", inputs=2, outputs=3)
    assert detect_format(path) == "rknn"
    assert rknn_io_counts(path) == (2, 3)
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(path.read_bytes())
    assert detect_format(renamed) == "rknn"  # the magic beats the name
    broken = tmp_path / "broken.rknn"
    broken.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelError):
        rknn_io_counts(broken)


def test_a_rknn_model_here_says_why_not_and_how_to_get_it(tmp_path: Path) -> None:
    if RknnBackend.availability().available:
        pytest.skip("this is a Rockchip board with a usable NPU")
    path = rknn_file(tmp_path / "model.rknn")
    with pytest.raises(BackendUnavailable) as caught:
        edgeinfer.load(path)  # auto: the npu is tried because .rknn runs only there
    assert caught.value.backend == "rknn"
    assert caught.value.hint
    info = {row.name: row for row in edgeinfer.backends()}["rknn"]
    assert not info.available
    assert info.hint


@pytest.mark.hardware
def test_runs_on_the_rockchip_npu(tmp_path: Path) -> None:
    found = RknnBackend.availability()
    if not found.available:
        pytest.skip(f"rknn: {found.reason} ({found.hint})")
    model = Path(__file__).parent / "data" / "mobilenet_v2.rknn"
    if not model.exists():
        pytest.skip("put an .rknn MobileNetV2 for this SoC at tests/data/mobilenet_v2.rknn")
    with edgeinfer.load(model, device="npu", backend="rknn") as loaded:
        result = loaded.run(np.zeros((1, 224, 224, 3), np.float32))
        assert all(np.isfinite(v).all() for v in result.values())
