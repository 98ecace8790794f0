"""ExecuTorch programs of the reference workloads (and a small test program), exported with torch
(``torch.export.export``, then ``to_edge_transform_and_lower`` with the XNNPACK partitioner and
``to_executorch``), from the same weights as the ONNX files, so their outputs compare with ONNX
Runtime's. Needs torch and executorch; imported only when a ``.pte`` is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.bench._workloads import dscnn, mobilenet
from edgeinfer.bench._workloads.weights import ConvWeights, same_pads

__all__ = ["export_ds_cnn", "export_mobilenet_v2", "export_two_in_two_out", "pte_bytes"]


def _lowered(module: Any, example: tuple[Any, ...]) -> bytes:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    exported = torch.export.export(module.eval(), example)
    program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    return bytes(program.to_executorch().buffer)


def _export(module: Any, example: tuple[Any, ...], path: Path) -> Path:
    path.write_bytes(_lowered(module, example))
    return path


def _conv(torch: Any, weights: ConvWeights, padding: int | tuple[int, int]) -> Any:
    kh, kw = weights.kernel_hw
    conv = torch.nn.Conv2d(
        weights.weight.shape[1] * weights.group, weights.out_channels, (kh, kw),
        stride=weights.stride, padding=padding, groups=weights.group,
    )  # fmt: skip
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weights.weight))
        conv.bias.copy_(torch.from_numpy(weights.bias))
    return conv


def _ds_cnn() -> tuple[Any, tuple[Any, ...]]:
    import torch

    w = dscnn.ds_cnn_weights()
    top, left, bottom, right = same_pads(dscnn.DS_CNN_INPUT, dscnn.STEM_KERNEL, 2)
    layers: list[Any] = [torch.nn.ZeroPad2d((left, right, top, bottom)), _conv(torch, w.stem, 0)]
    layers.append(torch.nn.ReLU())
    for depthwise, pointwise in w.blocks:
        layers += [_conv(torch, depthwise, 1), torch.nn.ReLU(), _conv(torch, pointwise, 0)]
        layers.append(torch.nn.ReLU())
    fc = torch.nn.Linear(w.fc_weight.shape[1], w.fc_weight.shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(w.fc_weight))
        fc.bias.copy_(torch.from_numpy(w.fc_bias))
    layers += [torch.nn.AvgPool2d(dscnn.POOL, dscnn.POOL), torch.nn.Flatten(), fc]
    return torch.nn.Sequential(*layers), (torch.zeros(1, 1, *dscnn.DS_CNN_INPUT),)


def _mobilenet_v2() -> tuple[Any, tuple[Any, ...]]:
    import torch

    w = mobilenet.mobilenet_v2_weights()

    def conv(weights: ConvWeights) -> Any:
        layer = _conv(torch, weights, weights.kernel // 2)
        return torch.nn.Sequential(layer, torch.nn.ReLU6()) if weights.relu6 else layer

    class Block(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, block: mobilenet.InvertedResidualWeights) -> None:
            super().__init__()
            parts = [conv(block.expand)] if block.expand is not None else []
            self.body = torch.nn.Sequential(*parts, conv(block.depthwise), conv(block.project))
            self.residual = block.residual

        def forward(self, x: Any) -> Any:
            return x + self.body(x) if self.residual else self.body(x)

    fc = torch.nn.Linear(w.classifier_weight.shape[1], w.classifier_weight.shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(w.classifier_weight))
        fc.bias.copy_(torch.from_numpy(w.classifier_bias))
    layers = [conv(w.stem), *(Block(b) for b in w.blocks), conv(w.head)]
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), fc]
    return torch.nn.Sequential(*layers), (torch.zeros(1, 3, 224, 224),)


_WORKLOADS = {"ds_cnn": _ds_cnn, "mobilenet_v2": _mobilenet_v2}


def pte_bytes(name: str) -> bytes:
    """The ``.pte`` program of workload ``name`` (XNNPACK-lowered, fp32)."""
    module, example = _WORKLOADS[name]()
    return _lowered(module, example)


def export_ds_cnn(path: Path) -> Path:
    """DS-CNN (the workload's weights, seed 0): [1, 1, 49, 10] -> [1, 12]."""
    path.write_bytes(pte_bytes("ds_cnn"))
    return path


def export_mobilenet_v2(path: Path) -> Path:
    """MobileNetV2 (the workload's weights, seed 0): [1, 3, 224, 224] -> [1, 1000]."""
    path.write_bytes(pte_bytes("mobilenet_v2"))
    return path


def export_two_in_two_out(path: Path) -> Path:
    """x [2, 8], y [2, 4] -> relu(x W + b) + y [2, 4], x.sum(1) [2]."""
    import torch

    class TwoInTwoOut(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(8, 4)
            with torch.no_grad():
                rng = np.random.default_rng(3)
                self.linear.weight.copy_(
                    torch.from_numpy(rng.standard_normal((4, 8)).astype(np.float32))
                )
                self.linear.bias.zero_()

        def forward(self, x: Any, y: Any) -> tuple[Any, Any]:
            return torch.relu(self.linear(x)) + y, x.sum(dim=1)

    return _export(TwoInTwoOut(), (torch.zeros(2, 8), torch.zeros(2, 4)), path)
