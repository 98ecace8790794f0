"""Write NCNN networks (``.param`` text + ``.bin`` weights) from the workloads' weights, in
memory and without any converter: the format is small (NCNN's ``param-and-model-file-structure``
and ``operation-param-weight-table`` docs).

A layer line is ``<type> <name> <bottoms> <tops> <blobs...> <key=value...>``. Weights are
concatenated in layer order: a convolution's weights start with a 4-byte storage flag (0: float32)
and keep ONNX's ``[out, in / group, kh, kw]`` order; its bias is raw float32 without a flag. A blob
read by two layers goes through a ``Split``. NCNN has no batch dimension: the input is ``c x h x
w``. Convolutions with ``relu6`` / ``relu`` carry the activation in the layer (``9=3`` clip 0..6,
``9=1`` relu), as NCNN's converters fuse it.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Sequence

import numpy as np

from edgeinfer.bench._workloads.weights import ConvWeights

__all__ = ["NcnnGraph"]


class NcnnGraph:
    """Accumulates layers and weights; ``serialize()`` gives ``(param_text, bin_bytes)``."""

    def __init__(self) -> None:
        self._layers: list[tuple[str, str, list[str], list[str], list[str]]] = []
        self._weights: list[bytes] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def layer(
        self, kind: str, name: str, bottoms: Sequence[str], tops: Sequence[str], **params: object
    ) -> None:
        rendered = []
        for key, value in params.items():
            index = key.removeprefix("p")
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            if isinstance(value, float) and "." not in text and "e" not in text:
                text += ".0"  # NCNN reads a float only from a spelling with a point or exponent
            rendered.append(f"{index}={text}")
        self._layers.append((kind, name, list(bottoms), list(tops), rendered))

    def input(self, name: str, c: int, h: int, w: int) -> str:
        self.layer("Input", name, [], [name], p0=w, p1=h, p2=c)
        return name

    def conv(
        self,
        x: str,
        conv: ConvWeights,
        pads: tuple[int, int, int, int] | None = None,
        out: str | None = None,
    ) -> str:
        """``conv``; ``pads`` (top, left, bottom, right), default ``k // 2`` on every side."""
        kh, kw = conv.kernel_hw
        top, left, bottom, right = pads or (kh // 2, kw // 2, kh // 2, kw // 2)
        name = out or conv.name
        params: dict[str, object] = {
            "p0": conv.out_channels,
            "p1": kw,
            "p11": kh,
            "p3": conv.stride,
            "p13": conv.stride,
            "p4": left,
            "p15": right,
            "p14": top,
            "p16": bottom,
            "p5": 1,
            "p6": int(conv.weight.size),
        }
        if conv.depthwise:
            params["p7"] = conv.group
        if conv.relu6:
            params.update({"p9": 3, "-23310": "2,0.000000e+00,6.000000e+00"})  # clip 0..6
        elif conv.relu:
            params["p9"] = 1
        kind = "ConvolutionDepthWise" if conv.depthwise else "Convolution"
        self.layer(kind, conv.name, [x], [name], **params)
        self._weights.append(struct.pack("<I", 0) + _f32(conv.weight))
        self._weights.append(_f32(conv.bias))
        return name

    def add(self, a: str, b: str, name: str) -> str:
        self.layer("BinaryOp", name, [a, b], [name], p0=0)
        return name

    def global_average(self, x: str, name: str) -> str:
        self.layer("Pooling", name, [x], [name], p0=1, p4=1)
        return name

    def average_pool(self, x: str, kernel: tuple[int, int], name: str) -> str:
        kh, kw = kernel
        self.layer("Pooling", name, [x], [name], p0=1, p1=kw, p11=kh, p2=kw, p12=kh, p5=1)
        return name

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str, out: str) -> str:
        self.layer("InnerProduct", name, [x], [out], p0=weight.shape[0], p1=1, p2=weight.size)
        self._weights.append(struct.pack("<I", 0) + _f32(weight))
        self._weights.append(_f32(bias))
        return out

    def serialize(self) -> tuple[str, bytes]:
        """The ``.param`` text and ``.bin`` bytes, with ``Split`` layers for shared blobs."""
        uses = Counter(blob for _, _, bottoms, _, _ in self._layers for blob in bottoms)
        taken: Counter[str] = Counter()
        lines: list[str] = []
        blobs: set[str] = set()

        def renamed(blob: str) -> str:
            if uses[blob] < 2:
                return blob
            taken[blob] += 1
            return f"{blob}_splitncnn_{taken[blob] - 1}"

        for kind, name, bottoms, tops, params in self._layers:
            inputs = [renamed(blob) for blob in bottoms]
            lines.append(
                " ".join([kind, name, str(len(inputs)), str(len(tops)), *inputs, *tops, *params])
            )
            blobs.update(inputs)
            blobs.update(tops)
            for top in tops:
                if uses[top] > 1:
                    copies = [f"{top}_splitncnn_{k}" for k in range(uses[top])]
                    lines.append(
                        " ".join(["Split", f"splitncnn_{top}", "1", str(len(copies)), top, *copies])
                    )
                    blobs.update(copies)
        text = "7767517\n" + f"{len(lines)} {len(blobs)}\n" + "\n".join(lines) + "\n"
        return text, b"".join(self._weights)


def _f32(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()
