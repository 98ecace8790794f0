"""``Model.placement()`` and the load-time warning, with real runtimes on models built by code.

What runs here: LiteRT (with and without XNNPACK), Edge TPU compiled files read without a
device, ONNX Runtime on the CPU (and with OpenVINO's execution provider where the
``onnxruntime-openvino`` build is the installed onnxruntime), OpenVINO on the CPU. TensorRT and
Core ML cannot run here: their parsing is tested on stand-ins of their API's shape only, and their
reports say they are unverified.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

import edgeinfer
from edgeinfer._kit.placement import GroupKey, PlacedOp, Placement
from edgeinfer._model.placement import WARN_BELOW, warns
from fake_backend import FakeBackend, make_fake, register
from placement_models import (
    build_edgetpu_compiled,
    build_onnx_det,
    build_onnx_qdq_conv,
    build_onnx_rounding,
    build_tflite_partial,
)

HAVE_LITERT = importlib.util.find_spec("ai_edge_litert") is not None
needs_litert = pytest.mark.skipif(not HAVE_LITERT, reason="ai-edge-litert writes the models")


def _ov_ep() -> str | None:
    """Why onnxruntime's OpenVINO execution provider cannot be used here, or None."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    import onnxruntime

    if "OpenVINOExecutionProvider" not in onnxruntime.get_available_providers():
        return (
            "this onnxruntime build has no OpenVINOExecutionProvider (pip install "
            "onnxruntime-openvino in place of onnxruntime)"
        )
    return None


# --- the report itself ------------------------------------------------------------------------


def _ops(**counts: int) -> list[PlacedOp]:
    found = []
    for label, n in counts.items():
        where, kind = label.split("_", 1)
        on = "gpu:0" if where == "accelerator" else "cpu"
        executor = "CUDAExecutionProvider" if where == "accelerator" else "CPUExecutionProvider"
        found += [PlacedOp(kind, where, on, executor)] * n
    return found


def test_groups_count_fractions_and_json() -> None:
    ops = _ops(accelerator_Conv=6, accelerator_Relu=3, cpu_NonZero=1)
    gpu = GroupKey("accelerator", "gpu:0", "CUDAExecutionProvider", None)
    cpu = GroupKey("cpu", "cpu", "CPUExecutionProvider", None)
    found = Placement.from_ops(
        "onnxruntime", "gpu:0", ops, source="test", accelerator="gpu:0", times={gpu: 3, cpu: 1}
    )
    assert found.operations == 10
    assert found.on_accelerator == pytest.approx(0.9)
    assert found.time_on_accelerator == pytest.approx(0.75)
    assert [g.where for g in found.groups] == ["accelerator", "cpu"]
    assert found.groups[0].op_types == (("Conv", 6), ("Relu", 3))
    assert found.off_accelerator() == (("NonZero", 1),)
    assert found.fully_placed is False
    assert "9 of 10 operations (90.0%)" in found.summary()
    assert "1 left on the CPU: NonZero" in found.summary()
    lines = found.table_lines()
    assert lines[0] == found.summary()
    assert len(lines) == 4
    data = json.loads(json.dumps(found.to_dict()))
    assert data["groups"][0]["op_types"] == [["Conv", 6], ["Relu", 3]]
    assert data["groups"][1]["time_fraction"] == pytest.approx(0.25)


def test_unknown_is_none_with_the_reason() -> None:
    found = Placement.unknown("coreml", "npu", "no compute plan")
    assert (found.operations, found.on_accelerator, found.fully_placed) == (None, None, None)
    assert found.accelerator == "npu"
    assert found.reason == "no compute plan"
    assert "unknown (no compute plan)" in found.summary()
    assert Placement.unknown("litert", "cpu", "closed").accelerator is None
    with pytest.raises(ValueError, match="where must be one of"):
        Placement.from_ops("x", "cpu", [PlacedOp("Add", "elsewhere", None, "?")], source="t")


def test_warns_below_the_threshold_and_for_any_edgetpu_operation_left_out() -> None:
    def report(device: str, placed: int, left: int, count: int | None = 1) -> Placement:
        ops = [PlacedOp("Conv", "accelerator", device, "acc", count=count)] * placed
        ops += [PlacedOp("Softmax", "cpu", "cpu", "CPU")] * left
        return Placement.from_ops("b", device, ops, source="t", accelerator=device)

    assert WARN_BELOW == 0.9
    assert not warns(report("gpu:0", 9, 1))  # 90% placed: not below the threshold
    assert warns(report("gpu:0", 8, 2))
    assert not warns(report("gpu:0", 10, 0))
    # The Edge TPU: one operation left on the CPU is enough, even with an unknown total.
    assert warns(report("edgetpu:usb:0", 1, 1, count=None))
    assert not warns(report("edgetpu", 2, 0, count=None))
    cpu_only = Placement.from_ops("b", "cpu", _ops(cpu_Add=3), source="t")
    assert not warns(cpu_only)
    assert cpu_only.on_accelerator is None


# --- LiteRT: XNNPACK's partitions against the interpreter's kernels -----------------------------


@pytest.mark.backend("litert")
@needs_litert
def test_litert_fully_delegated_to_xnnpack_and_not_at_all(tmp_path: Path) -> None:
    import tflite_models

    path = tflite_models.build_small_cnn(tmp_path / "small.tflite")
    with edgeinfer.load(path, backend="litert") as model:
        found = model.placement()
    assert (found.backend, found.device, found.accelerator) == ("litert", "cpu", None)
    assert found.operations == 5
    assert [(g.executor, g.operations, g.precision) for g in found.groups] == [
        ("XNNPACK", 5, "fp32")
    ]
    assert dict(found.groups[0].op_types) == {
        "CONV_2D": 2,
        "DEPTHWISE_CONV_2D": 1,
        "MEAN": 1,
        "FULLY_CONNECTED": 1,
    }
    assert found.time_on_accelerator is None
    assert "no per-operator profiler" in str(found.reason)
    options = {"op_resolver": "builtin_without_default_delegates"}
    with edgeinfer.load(path, backend="litert", options=options) as model:
        plain = model.placement()
    assert [(g.executor, g.operations) for g in plain.groups] == [("TFLite kernels", 5)]


@pytest.mark.backend("litert")
@needs_litert
def test_litert_leaves_an_operator_xnnpack_cannot_take(tmp_path: Path) -> None:
    from edgeinfer.backends.litert.placement import delegated, nodes_of

    path = build_tflite_partial(tmp_path / "partial.tflite")
    with edgeinfer.load(path, backend="litert") as model:
        found = model.placement()
        interpreter = model._backend._pool.interpreters()[0]  # type: ignore[union-attr]
        nodes = nodes_of(interpreter)
    by_executor = {g.executor: dict(g.op_types) for g in found.groups}
    assert by_executor == {"XNNPACK": {"ADD": 1, "MUL": 1}, "TFLite kernels": {"SIGN": 1}}
    # Two XNNPACK partitions around SIGN: each DELEGATE node replaced one original node.
    names = {int(n["index"]): n["op_name"] for n in nodes}
    partitions = delegated(nodes)
    assert sorted(names[i] for i in partitions) == ["ADD", "MUL"]
    assert len(set(partitions.values())) == 2
    assert all(names[d] == "DELEGATE" for d in partitions.values())
    options = {"op_resolver": "builtin_without_default_delegates"}
    with edgeinfer.load(path, backend="litert", options=options) as model:
        assert [g.executor for g in model.placement().groups] == ["TFLite kernels"]


# --- Edge TPU: compiled files read without a device ---------------------------------------------


@needs_litert
def test_edgetpu_segments_against_the_operators_left_on_the_cpu(tmp_path: Path) -> None:
    from edgeinfer.backends.edgetpu.placement import read_placement

    path = build_edgetpu_compiled(tmp_path / "partial_edgetpu.tflite")
    found = read_placement(path, "edgetpu:usb:0")
    assert (found.backend, found.accelerator) == ("edgetpu", "edgetpu:usb:0")
    tpu, cpu = found.groups
    assert (tpu.where, tpu.executor, tpu.op_types, tpu.operations) == (
        "accelerator",
        "Edge TPU",
        (("edgetpu-custom-op", 1),),
        None,  # how many operations the segment holds is not in the file
    )
    assert tpu.precision == "int8"
    assert (cpu.where, cpu.operations, dict(cpu.op_types)) == (
        "cpu",
        2,
        {"DEQUANTIZE": 1, "SOFTMAX": 1},
    )
    assert found.operations is None
    assert found.on_accelerator is None
    assert "does not record how many" in str(found.reason)
    assert found.off_accelerator() == (("DEQUANTIZE", 1), ("SOFTMAX", 1))
    assert warns(found)
    assert "1 compiled segment(s)" in found.summary()


@needs_litert
def test_edgetpu_fully_mapped_split_and_uncompiled_files(tmp_path: Path) -> None:
    import tflite_models
    from edgeinfer.backends.edgetpu.placement import read_placement

    full = read_placement(build_edgetpu_compiled(tmp_path / "full_edgetpu.tflite", after=()))
    assert full.fully_placed is True
    assert not warns(full)
    assert full.off_accelerator() == ()
    split = read_placement(
        build_edgetpu_compiled(
            tmp_path / "split_edgetpu.tflite",
            before=("RELU",),
            between=("RELU",),
            after=("DEQUANTIZE", "LOGISTIC"),
            segments=2,
        )
    )
    assert split.groups[0].op_types == (("edgetpu-custom-op", 2),)
    assert dict(split.off_accelerator()) == {"RELU": 2, "DEQUANTIZE": 1, "LOGISTIC": 1}
    # A CPU model under an Edge TPU name: nothing was compiled, every operation is on the CPU.
    copy = tflite_models.build_edgetpu_named_copy(
        tflite_models.build_small_cnn(tmp_path / "small.tflite"), tmp_path / "named"
    )
    plain = read_placement(copy)
    assert plain.on_accelerator == 0.0
    assert plain.operations == 5
    assert warns(plain)
    assert any("not compiled for the Edge TPU" in note for note in plain.notes)


# --- the warning at load, and no cost on the CPU ------------------------------------------------


class _Placing(FakeBackend):
    """A fake device (there is no Edge TPU or GPU here) whose placement is given by the test."""

    placement_report: ClassVar[bool] = True
    report: ClassVar[Any] = None
    asked: ClassVar[list[Any]] = []

    def placement(self, feeds: Mapping[str, np.ndarray] | None) -> Placement:
        type(self).asked.append(feeds)
        return type(self).report(self.device)  # type: ignore[no-any-return]


def _placing(name: str, report: Any, devices: tuple[str, ...], formats: tuple[str, ...]) -> Any:
    fake = make_fake(name, devices=devices, formats=formats)
    return type(f"Placing_{name}", (_Placing, fake), {"report": report, "asked": []})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@needs_litert
@pytest.mark.usefixtures("clean_registry")
def test_one_warning_for_a_partly_mapped_edgetpu_model_none_for_a_full_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The device is a fake (no Edge TPU here); the placement is read from the real file."""
    from edgeinfer.backends.edgetpu.placement import read_placement

    partial = build_edgetpu_compiled(tmp_path / "partial_edgetpu.tflite")
    full = build_edgetpu_compiled(tmp_path / "full_edgetpu.tflite", after=())
    for path in (partial, full):
        fake = _placing(
            "tpu-" + path.stem.split("_")[0],
            lambda device, path=path: read_placement(path, device),
            ("edgetpu",),
            ("tflite-edgetpu",),
        )
        register(fake)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="edgeinfer"):
            model = edgeinfer.load(path, device="edgetpu", backend=fake.name, warmup=0)
        said = _warnings(caplog)
        assert fake.asked == [None]  # once, without inputs: the static answer only
        if path is partial:
            assert len(said) == 1
            assert "DEQUANTIZE" in said[0]
            assert "SOFTMAX" in said[0]
            assert "partial_edgetpu.tflite" in said[0]
            assert any(n.startswith("placement: ") for n in model.notes)
            assert "placement: " in model.explain()
        else:
            assert said == []
            assert "1 compiled segment(s)" in model.explain()
        model.close()


@pytest.mark.usefixtures("clean_registry")
def test_a_cpu_load_computes_no_placement(
    model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def half(device: str) -> Placement:
        ops = _ops(accelerator_Conv=1, cpu_Det=1)
        return Placement.from_ops("x", device, ops, source="t", accelerator=device)

    fake = _placing("placing", half, ("cpu", "gpu"), ("onnx",))
    register(fake)
    with caplog.at_level(logging.WARNING, logger="edgeinfer"):
        model = edgeinfer.load(model_file, device="cpu", backend="placing")
    assert fake.asked == []
    assert _warnings(caplog) == []
    assert not any(note.startswith("placement") for note in model.notes)
    with caplog.at_level(logging.WARNING, logger="edgeinfer"):
        on_gpu = edgeinfer.load(model_file, device="gpu", backend="placing")
    assert fake.asked == [None]
    assert len(_warnings(caplog)) == 1
    # Model.placement() asks again, with the warm-up's inputs, and names the registered backend.
    found = on_gpu.placement()
    assert found.backend == "placing"
    assert set(fake.asked[-1]) == {"x"}


@pytest.mark.usefixtures("clean_registry")
def test_a_backend_without_the_ability_says_so(model_file: Path) -> None:
    register(make_fake("plain"))
    with edgeinfer.load(model_file, backend="plain") as model:
        found = model.placement()
    assert found.groups == ()
    assert found.reason == "plain offers no placement report"


# --- ONNX Runtime -------------------------------------------------------------------------------


@pytest.mark.backend("onnxruntime")
def test_onnxruntime_cpu_report_from_its_assignment_and_profiler(tmp_path: Path) -> None:
    path = build_onnx_det(tmp_path / "det.onnx")
    with edgeinfer.load(path, device="cpu", backend="onnxruntime") as model:
        assert model._backend._recorded is False  # type: ignore[union-attr]  # nothing at load
        found = model.placement()
    assert found.accelerator is None
    assert found.on_accelerator is None
    assert [(g.executor, g.operations) for g in found.groups] == [("CPUExecutionProvider", 4)]
    assert dict(found.groups[0].op_types) == {"Relu": 1, "Det": 1, "Abs": 1, "Neg": 1}
    assert found.groups[0].time_fraction == pytest.approx(1.0)
    assert "profiler" in found.source
    assert not any(n.startswith("no inputs") for n in found.notes)


@pytest.mark.backend("onnxruntime")
def test_onnxruntime_nodes_from_the_profiler_where_there_is_no_assignment_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.backends.onnxruntime import profile

    path = build_onnx_det(tmp_path / "det.onnx")
    monkeypatch.setattr(profile, "can_record", lambda ort: False)
    with edgeinfer.load(path, device="cpu", backend="onnxruntime") as model:
        found = model.placement()
        blind = model._backend.placement(None)  # type: ignore[union-attr]
    assert blind.groups == ()
    assert "no get_provider_graph_assignment_info" in str(blind.reason)
    assert "profiler node events" in found.source
    assert found.operations == 4
    assert found.groups[0].executor == "CPUExecutionProvider"


@pytest.mark.backend("onnxruntime")
@pytest.mark.skipif(_ov_ep() is not None, reason=str(_ov_ep()))
def test_openvino_execution_provider_takes_part_of_the_graph(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """OpenVINO's execution provider, pointed at this CPU (device_type CPU) to stand in for an
    accelerator provider: what it takes and leaves is onnxruntime's real partitioning."""
    options = {
        "onnxruntime": {
            "providers": ["OpenVINOExecutionProvider"],
            "provider_options": {"device_type": "CPU"},
        }
    }
    det = build_onnx_det(tmp_path / "det.onnx")
    with caplog.at_level(logging.WARNING, logger="edgeinfer"):
        model = edgeinfer.load(det, device="gpu", backend="onnxruntime", options=options)
    said = _warnings(caplog)
    assert len(said) == 1
    assert "Det" in said[0]
    assert "det.onnx" in said[0]
    found = model.placement()
    model.close()
    groups = {g.executor: g for g in found.groups}
    assert set(groups) == {"OpenVINOExecutionProvider", "CPUExecutionProvider"}
    assert groups["OpenVINOExecutionProvider"].where == "accelerator"
    assert "Det" in dict(groups["CPUExecutionProvider"].op_types)
    assert found.operations == 4
    assert found.on_accelerator is not None
    assert found.on_accelerator < WARN_BELOW
    assert found.time_on_accelerator is not None
    assert sum(g.time_fraction or 0 for g in found.groups) == pytest.approx(1.0)
    rounding = build_onnx_rounding(tmp_path / "rounding.onnx")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edgeinfer"):
        model = edgeinfer.load(rounding, device="gpu", backend="onnxruntime", options=options)
    assert _warnings(caplog) == []
    assert model.placement().fully_placed is True
    model.close()


# --- OpenVINO: each layer's precision -----------------------------------------------------------


@pytest.mark.backend("openvino")
def test_openvino_layers_by_runtime_precision(tmp_path: Path) -> None:
    """At OpenVINO's default precision and at precision="fp32". A CPU without AMX or
    AVX512-BF16 runs the float layers in fp32 at the default too; one with them defaults to bf16
    but may keep a layer such as Softmax in fp32 (OpenVINO 2026.4 does on this model). The 8-bit
    convolution of the QDQ model runs in uint8 either way."""
    path = build_onnx_qdq_conv(tmp_path / "qdq.onnx")
    for precision in (None, "fp32"):
        with edgeinfer.load(path, backend="openvino", device="cpu", precision=precision) as model:
            default = model.details["precision"].split(" ")[0]
            found = model.placement()
            static = model._backend.placement(None)  # type: ignore[union-attr]
        groups = {g.precision: g for g in found.groups}
        assert "Convolution" in dict(groups["uint8"].op_types)
        floating = {"fp32"} if precision == "fp32" else {"fp32", default}
        softmax = [g.precision for g in found.groups if "Softmax" in dict(g.op_types)]
        assert len(softmax) == 1
        assert softmax[0] in floating
        assert all(g.where == "cpu" and g.executor == "OpenVINO CPU" for g in found.groups)
        assert found.accelerator is None
        assert sum(g.time_fraction or 0 for g in found.groups) == pytest.approx(1.0)
        assert static.operations == found.operations
        assert all(g.time_fraction is None for g in static.groups)


# --- TensorRT and Core ML: their API's shape only (unverified) ----------------------------------


def test_tensorrt_inspector_json_parsing() -> None:
    """The inspector's JSON shape as TensorRT 10 and 11 write it (see tests/test_tensorrt.py)."""
    from edgeinfer.backends.tensorrt.placement import placement_report
    from test_tensorrt import TRT10_INSPECTOR, TRT11_INSPECTOR

    document = json.loads(json.dumps(TRT10_INSPECTOR))
    document["Layers"].append({**document["Layers"][0], "Name": "conv1 + relu [profile 1]"})
    document["Layers"].append({"Name": "sync", "LayerType": "signal"})
    found = placement_report("tensorrt", "gpu:0", json.dumps(document))
    assert found.fully_placed is True
    assert found.operations == 4
    assert found.on_accelerator == 1.0
    assert {g.precision: g.operations for g in found.groups} == {"fp16": 2, "fp32": 1, "int8": 1}
    assert any(note.startswith("unverified") for note in found.notes)
    eleven = placement_report("tensorrt", "gpu:0", json.dumps(TRT11_INSPECTOR))
    assert [(g.precision, g.op_types) for g in eleven.groups] == [
        ("fp16", (("CaskConvolution", 1),))
    ]
    names = {"Layers": ["conv1 + relu", "gemm", "gemm [profile 1]"], "Bindings": ["x"]}
    plain = placement_report("tensorrt", "gpu:0", json.dumps(names))
    assert plain.operations == 2
    assert plain.groups[0].precision is None
    assert placement_report("tensorrt", "gpu:0", None).reason == (
        "the engine inspector lists no layers"
    )


class MLCPUComputeDevice:
    pass


class MLGPUComputeDevice:
    pass


class MLNeuralEngineComputeDevice:
    pass


def _operation(name: str, blocks: tuple[Any, ...] = ()) -> Any:
    return SimpleNamespace(operator_name=name, blocks=list(blocks))


class _Plan:
    """The shape of coremltools' ``MLComputePlan`` (compute_plan.py), with chosen devices."""

    def __init__(self, structure: Any, devices: Mapping[str, Any], costs: Mapping[str, float]):
        self.model_structure = structure
        self._devices, self._costs = devices, costs

    def get_compute_device_usage_for_mlprogram_operation(self, op: Any) -> Any:
        device = self._devices.get(op.operator_name)
        return None if device is None else SimpleNamespace(preferred_compute_device=device())

    def get_estimated_cost_for_mlprogram_operation(self, op: Any) -> Any:
        return SimpleNamespace(weight=self._costs.get(op.operator_name, 0.0))

    def get_compute_device_usage_for_neuralnetwork_layer(self, layer: Any) -> Any:
        return SimpleNamespace(preferred_compute_device=self._devices[layer.type]())


def test_core_ml_compute_plan_parsing() -> None:
    from edgeinfer.backends.coreml.placement import placement_report

    loop = SimpleNamespace(operations=[_operation("const"), _operation("add")])
    block = SimpleNamespace(
        operations=[
            _operation("const"),
            _operation("conv"),
            _operation("while_loop", (loop,)),
            _operation("argsort"),
        ]
    )
    program = SimpleNamespace(functions={"main": SimpleNamespace(block=block)})
    structure = SimpleNamespace(program=program, neuralnetwork=None, pipeline=None)
    devices = {
        "conv": MLNeuralEngineComputeDevice,
        "add": MLNeuralEngineComputeDevice,
        "while_loop": MLCPUComputeDevice,
        "argsort": MLGPUComputeDevice,
    }
    costs = {"conv": 0.7, "add": 0.1, "while_loop": 0.05, "argsort": 0.15}
    found = placement_report("coreml", "npu", _Plan(structure, devices, costs))
    assert found.operations == 4
    assert found.on_accelerator == pytest.approx(0.5)
    assert {(g.where, g.executor): dict(g.op_types) for g in found.groups} == {
        ("accelerator", "Neural Engine"): {"conv": 1, "add": 1},
        ("cpu", "Core ML CPU"): {"while_loop": 1},
        ("other", "Core ML GPU"): {"argsort": 1},
    }
    assert found.time_on_accelerator is None
    assert any("Neural Engine 80%" in note for note in found.notes)
    assert any(note.startswith("unverified") for note in found.notes)
    everywhere = placement_report("coreml", "auto", _Plan(structure, devices, costs))
    assert everywhere.on_accelerator == pytest.approx(0.75)  # GPU and Neural Engine
    network = SimpleNamespace(
        layers=[SimpleNamespace(type="convolution"), SimpleNamespace(type="softmax")]
    )
    layers = SimpleNamespace(program=None, neuralnetwork=network, pipeline=None)
    nn = placement_report(
        "coreml",
        "gpu",
        _Plan(layers, {"convolution": MLGPUComputeDevice, "softmax": MLCPUComputeDevice}, {}),
    )
    assert nn.on_accelerator == pytest.approx(0.5)
    assert nn.off_accelerator() == (("softmax", 1),)
    pipeline = SimpleNamespace(program=None, neuralnetwork=None, pipeline=object())
    assert "pipeline" in str(placement_report("coreml", "npu", _Plan(pipeline, {}, {})).reason)


# --- isolation, and the public names ------------------------------------------------------------


@pytest.mark.backend("onnxruntime")
def test_isolated_backend_says_why_it_has_no_report(one_op: Path) -> None:
    with edgeinfer.load(one_op, backend="onnxruntime", isolate=True) as model:
        found = model.placement()
    assert found.groups == ()
    assert "isolate=True" in str(found.reason)


def test_public_names() -> None:
    assert edgeinfer.Placement is Placement
    assert "PlacementGroup" in edgeinfer.__all__
    from edgeinfer.backend import PlacedOp as KitPlacedOp

    assert KitPlacedOp is PlacedOp
