"""Qualcomm NPUs through ONNX Runtime's QNN execution provider, which is a device (``npu``) of the
``onnxruntime`` backend: detection on fake trees and platforms, the provider and its options, and
the "not available here, and how to get it" path. No Snapdragon here: the runtime test is marked
``hardware``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer import BackendUnavailable, DeviceRequest
from edgeinfer._planning.detect import Roots, detect_devices
from edgeinfer.backends.onnxruntime.config import choose_providers
from fake_tree import fake_roots, touch


def test_windows_on_arm_has_a_hexagon_npu(tmp_path: Path) -> None:
    roots = Roots(tmp_path, tmp_path, tmp_path, "Windows", "ARM64")
    npus = [d for d in detect_devices(roots) if d.kind == "npu"]
    assert [(d.name, d.id) for d in npus] == [("Qualcomm Hexagon NPU", "npu:0")]


def test_a_qualcomm_linux_board_with_a_cdsp_node(tmp_path: Path) -> None:
    roots = fake_roots(tmp_path, machine="aarch64")
    touch(roots.proc / "device-tree" / "compatible", "qcom,qcs6490-rb3gen2\x00qcom,qcm6490\x00")
    assert not [d for d in detect_devices(roots) if d.kind == "npu"]  # no FastRPC node yet
    touch(roots.dev / "fastrpc-cdsp")
    npus = [d for d in detect_devices(roots) if d.kind == "npu"]
    assert [d.source for d in npus] == [str(roots.dev / "fastrpc-cdsp")]
    assert ("vendor", "qualcomm") in npus[0].details


def test_npu_requests_the_qnn_provider_with_the_htp_backend() -> None:
    providers = choose_providers(
        ["QNNExecutionProvider", "CPUExecutionProvider"], DeviceRequest("npu"), {}
    )
    assert providers[0][0] == "QNNExecutionProvider"
    assert providers[0][1]["backend_path"] in ("libQnnHtp.so", "QnnHtp.dll")
    assert providers[-1][0] == "CPUExecutionProvider"


def test_without_onnxruntime_qnn_the_hint_names_it(one_op: Path) -> None:
    import onnxruntime

    if "QNNExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the QNN execution provider")
    with pytest.raises(BackendUnavailable) as caught:
        edgeinfer.load(one_op, device="npu", backend="onnxruntime", fallback=False)
    assert "onnxruntime-qnn" in (caught.value.hint or "")


@pytest.mark.hardware
def test_runs_on_the_hexagon_npu(one_op: Path) -> None:
    import onnxruntime

    if "QNNExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("no QNN execution provider here (pip install onnxruntime-qnn on Snapdragon)")
    with edgeinfer.load(one_op, device="npu", backend="onnxruntime") as model:
        x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
        np.testing.assert_allclose(model.run(x)["y"], np.maximum(x, 0), atol=1e-2)
