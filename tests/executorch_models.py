"""ExecuTorch test programs, exported here with torch (``torch.export`` then
``to_edge_transform_and_lower`` with the XNNPACK partitioner): DS-CNN from the workloads'
weights, so its outputs can be compared with ONNX Runtime on the same weights, and a small
two-input two-output program. Needs torch and executorch (the ``executorch`` nox session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.bench._workloads import dscnn
from edgeinfer.bench._workloads.weights import ConvWeights, same_pads

__all__ = ["export_ds_cnn", "export_two_in_two_out"]


def _export(module: Any, example: tuple[Any, ...], path: Path) -> Path:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    exported = torch.export.export(module.eval(), example)
    program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    path.write_bytes(program.to_executorch().buffer)
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


def export_ds_cnn(path: Path) -> Path:
    """DS-CNN (the workload's weights, seed 0): [1, 1, 49, 10] -> [1, 12]."""
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
    example = (torch.zeros(1, 1, *dscnn.DS_CNN_INPUT),)
    return _export(torch.nn.Sequential(*layers), example, path)


def export_two_in_two_out(path: Path) -> Path:
    """x [2, 8], y [2, 4] -> relu(x W + b) + y [2, 4], x.sum(1) [2]."""
    import torch

    class TwoInTwoOut(torch.nn.Module):
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
