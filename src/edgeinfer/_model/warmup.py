"""The warm-up at load: proof that a backend works, and the golden output ``Model.health()``
compares against later. It never decides that a valid model is invalid.

Inputs come from the caller (``load(..., warmup_inputs=...)``: representative data, checked like
any call) or are generated. Generated data is only ever float noise in tensors whose sizes are
known or chosen safely; anything a generator could get dangerously wrong is not generated, and
the warm-up is then skipped with the reason:

- integer, bool and string inputs (indices, sizes, token ids: a zero or a wrong value reaches a
  division, an index or a shape; ONNX's ``Col2Im`` kills the process with SIGFPE on zeros);
- scalars, tiny vectors and inputs named like parameters (``scales``, ``roi``, ``iou_threshold``:
  a random value is a nonsensical parameter, not data), and inputs of unknown rank;
- inputs larger than ``GENERATED_BUDGET_BYTES`` (an 84-byte model may declare 2**24 elements).

Dynamic sizes: 1 for a batch, the model's own ``imgsz`` metadata (Ultralytics exports) or 224 for
the height and width of an image, 16 elsewhere; one symbolic name gets one size. When the runtime
refuses or fails on generated data, that is our guess being wrong, not the model: the warm-up is
skipped with the runtime's words, and the candidate stays. Only a ``DeviceError`` (the
accelerator itself failed) fails the candidate. Inputs the caller gave are held to the contract:
a failure there is a failed candidate, and a mismatch is ``InvalidInput``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer._errors import DeviceError, EdgeInferError
from edgeinfer._kit.contract import Session
from edgeinfer._types import TensorSpec

__all__ = [
    "GENERATED_BUDGET_BYTES",
    "Opened",
    "WarmupInputs",
    "generated_inputs",
    "warm_up",
]

GENERATED_BUDGET_BYTES = 32 << 20
IMAGE_SIZE = 224  # a multiple of 32, 16 and 14: strided detectors and ViT patches accept it
OTHER_SIZE = 16
_PARAMETER_WORDS = {
    "scale", "scales", "size", "sizes", "shape", "roi", "rois", "index", "indices", "idx",
    "threshold", "thresh", "axes", "axis", "pads", "pad", "starts", "ends", "steps", "repeats",
    "delta", "limit", "start", "end", "k", "topk", "iou", "alpha", "beta", "gamma", "epsilon",
}  # fmt: skip
_WORD = re.compile(r"[a-z]+")

WarmupInputs = Mapping[str, Any] | Sequence[Any] | np.ndarray


@dataclass(slots=True)
class Opened:
    """A candidate that opened: its session, and what its warm-up proved."""

    session: Session
    warmup_us: tuple[float, ...] = ()
    golden: dict[str, np.ndarray] | None = None
    golden_feeds: dict[str, np.ndarray] | None = None
    note: str | None = None


def _image_axes(shape: Sequence[int | None]) -> tuple[int, int] | None:
    """The (height, width) axes of an NCHW or NHWC image input, or ``None``."""
    if len(shape) != 4:
        return None
    if shape[1] in (1, 3, 4):
        return 2, 3
    if shape[3] in (1, 3, 4):
        return 1, 2
    return None


def _imgsz(metadata: Mapping[str, str]) -> tuple[int, int] | None:
    text = metadata.get("imgsz")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, int) and value > 0:
        return value, value
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and 0 < v <= 8192 for v in value)
    ):
        return value[0], value[1]
    return None


def _why_not_generated(spec: TensorSpec) -> str | None:
    if spec.kind != "tensor":
        return f"input {spec.name!r} is a {spec.kind}"
    if spec.dtype.kind != "f":
        return (
            f"input {spec.name!r} is {spec.dtype.name}: generated values could reach an index, a "
            "size or a division"
        )
    if spec.shape is None:
        return f"input {spec.name!r} has no declared rank"
    if len(spec.shape) == 0 or (len(spec.shape) == 1 and (spec.shape[0] or 0) <= 8):
        return f"input {spec.name!r} is a scalar or a tiny vector: a parameter, not data"
    if set(_WORD.findall(spec.name.lower())) & _PARAMETER_WORDS:
        return f"input {spec.name!r} is named like a parameter, not data"
    return None


def _sizes(
    specs: Sequence[TensorSpec],
    names: Mapping[str, Sequence[str | None]],
    metadata: Mapping[str, str],
) -> dict[str, tuple[int, ...]]:
    image = _imgsz(metadata) or (IMAGE_SIZE, IMAGE_SIZE)
    symbols: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        assert spec.shape is not None
        symbolic = tuple(names.get(spec.name, ())) + (None,) * len(spec.shape)
        axes = _image_axes(spec.shape)
        dims: list[int] = []
        for axis, size in enumerate(spec.shape):
            if size is not None:
                dims.append(size)
                continue
            if axis == 0:
                guess = 1
            elif axes is not None and axis in axes:
                guess = image[axes.index(axis)]
            else:
                guess = OTHER_SIZE
            symbol = symbolic[axis]
            if symbol and symbol != "?":
                guess = symbols.setdefault(symbol, guess)
            dims.append(guess)
        shapes[spec.name] = tuple(dims)
    return shapes


def generated_inputs(
    specs: Sequence[TensorSpec],
    names: Mapping[str, Sequence[str | None]] | None = None,
    metadata: Mapping[str, str] | None = None,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray] | None, str]:
    """Deterministic float noise for ``specs``, or ``None`` and why it would not be safe."""
    for spec in specs:
        reason = _why_not_generated(spec)
        if reason is not None:
            return None, reason
    shapes = _sizes(specs, names or {}, metadata or {})
    total = sum(int(np.prod(shape)) * spec.dtype.itemsize for spec, shape in
                zip(specs, shapes.values(), strict=True))  # fmt: skip
    if total > GENERATED_BUDGET_BYTES:
        return None, (
            f"generated inputs would take {total / 2**20:.0f} MiB (the budget is "
            f"{GENERATED_BUDGET_BYTES >> 20} MiB)"
        )
    feeds: dict[str, np.ndarray] = {}
    for index, spec in enumerate(specs):
        shape = shapes[spec.name]
        feeds[spec.name] = _noise(shape, seed * 7919 + index).astype(spec.dtype, copy=False)
    sizes = ", ".join(f"{name} {list(shape)}" for name, shape in shapes.items())
    return feeds, f"generated float inputs ({sizes})"


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Deterministic float32 values with mean 0 and variance 1, spread like uniform noise.

    Made with numpy arithmetic (a hash of the index), not ``numpy.random``: importing that pulls
    in about 10 MB of extension modules, and edge boards count every megabyte.
    """
    count = int(np.prod(shape)) if shape else 1
    index = np.arange(seed * count, (seed + 1) * count, dtype=np.float64)
    uniform = np.modf(np.sin(index * 12.9898 + 78.233) * 43758.5453)[0]  # in (-1, 1)
    return (uniform * 1.7320508).astype(np.float32).reshape(shape)  # uniform: variance 1/3


def _skipped(reason: str) -> str:
    return (
        f"warm-up skipped: {reason}; the first call proves the backend instead, and "
        "Model.health() has no golden output. Give load(..., warmup_inputs=...) representative "
        "inputs for both"
    )


def warm_up(
    session: Session,
    runs: int,
    given: dict[str, np.ndarray] | None,
    metadata: Mapping[str, str],
    bound: float | None = None,
) -> Opened:
    """Warm ``session`` up ``runs`` times on ``given`` (checked feeds) or generated inputs."""
    opened = Opened(session)
    if runs == 0:
        opened.note = "no warm-up (warmup=0): no golden output for Model.health()"
        return opened
    if given is not None:
        feeds, source = given, "your warmup_inputs"
    else:
        generated, source = generated_inputs(session.inputs, session.dim_names(), metadata)
        if generated is None:
            opened.note = _skipped(source)
            return opened
        feeds = generated
    times: list[float] = []
    try:
        for _ in range(runs):
            started = time.perf_counter_ns()
            if bound is not None:
                output = session.run_with_timeout(feeds, bound)
            else:
                output = session.run(feeds)
            times.append((time.perf_counter_ns() - started) / 1000.0)
    except DeviceError:
        raise  # the accelerator itself failed: this candidate cannot serve
    except EdgeInferError as error:
        if given is not None:
            raise  # the caller's own inputs: a real failure (or InvalidInput, their mistake)
        opened.note = _skipped(
            f"the runtime refused {source}: {type(error).__name__}: {_short(error)}"
        )
        return opened
    opened.warmup_us, opened.golden, opened.golden_feeds = tuple(times), output, feeds
    opened.note = (
        f"warm-up: {runs} run(s) on {source} in {sum(times) / 1000:.1f} ms; golden output recorded"
    )
    return opened


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
