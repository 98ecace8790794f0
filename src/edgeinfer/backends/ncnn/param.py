"""What a text ``.param`` file says about a network's inputs and outputs, read without NCNN.

The format (NCNN's docs, ``param-and-model-file-structure.md``): the magic ``7767517``, a line
``<layer count> <blob count>``, then one layer a line: ``<type> <name> <inputs> <outputs>
<input blobs...> <output blobs...> <key=value...>``. Inputs are the ``Input`` layers' blobs, their
shape from the keys ``0=w 1=h 2=c 11=d`` (0 or missing: not fixed); outputs are the blobs that no
layer consumes. NCNN has no batch dimension: a blob is ``w``, ``h x w``, ``c x h x w`` or
``c x d x h x w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeinfer.backend import ModelError

__all__ = ["MAGIC", "ParamFacts", "read_param"]

MAGIC = "7767517"
_QUANTISED_LAYERS = {"Convolution", "ConvolutionDepthWise", "InnerProduct", "Gemm"}


@dataclass(frozen=True, slots=True)
class ParamFacts:
    """Inputs (name, NCNN shape: ``None`` per unfixed dimension, or ``None`` for unknown rank),
    outputs (names, in the order their layers appear) and whether any layer is int8."""

    inputs: tuple[tuple[str, tuple[int | None, ...] | None], ...]
    outputs: tuple[str, ...]
    int8: bool
    layers: int


def _shape(params: dict[str, str]) -> tuple[int | None, ...] | None:
    """``c, d, h, w`` as the Input layer fixes them; the rank is the highest key given."""

    def value(key: str) -> int:
        try:
            return int(params.get(key, "0"))
        except ValueError:
            return 0

    w, h, c, d = value("0"), value("1"), value("2"), value("11")
    if d > 0:
        shape = [c, d, h, w]
    elif c > 0:
        shape = [c, h, w]
    elif h > 0:
        shape = [h, w]
    elif w > 0:
        shape = [w]
    else:
        return None  # pnnx writes Input layers without a shape: unknown rank
    return tuple(n if n > 0 else None for n in shape)


def read_param(path: Path) -> ParamFacts:
    """The facts of ``path``; ``ModelError`` when it is not a text ``.param`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"ncnn cannot read {path.name}: {error}") from error
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != MAGIC:
        raise ModelError(
            f"{path.name} is not an NCNN text .param file (its first line is not {MAGIC}); "
            "binary .param.bin files are not read"
        )
    try:
        layer_count = int(lines[1].split()[0])
    except (IndexError, ValueError) as error:
        raise ModelError(f"{path.name}: malformed layer/blob count line") from error
    inputs: list[tuple[str, tuple[int | None, ...] | None]] = []
    produced: list[str] = []
    consumed: set[str] = set()
    int8 = False
    body = lines[2:]
    if len(body) != layer_count:
        raise ModelError(
            f"{path.name} declares {layer_count} layers but has {len(body)} layer lines"
        )
    for number, line in enumerate(body, start=3):
        fields = line.split()
        try:
            kind, bottoms, tops = fields[0], int(fields[2]), int(fields[3])
            blobs = fields[4 : 4 + bottoms + tops]
        except (IndexError, ValueError) as error:
            raise ModelError(f"{path.name} line {number}: malformed layer line") from error
        if len(blobs) != bottoms + tops:
            raise ModelError(f"{path.name} line {number}: fewer blob names than declared")
        params = dict(item.split("=", 1) for item in fields[4 + bottoms + tops :] if "=" in item)
        consumed.update(blobs[:bottoms])
        produced.extend(blobs[bottoms:])
        if kind == "Input":
            inputs.extend((name, _shape(params)) for name in blobs[bottoms:])
        if kind in _QUANTISED_LAYERS and params.get("8", "0") not in ("0", ""):
            int8 = True  # int8_scale_term: weights quantised by ncnn2int8
    input_names = {name for name, _ in inputs}
    outputs = tuple(name for name in produced if name not in consumed and name not in input_names)
    if not inputs or not outputs:
        raise ModelError(f"{path.name} has no Input layer or no output blob")
    return ParamFacts(tuple(inputs), outputs, int8, layer_count)
