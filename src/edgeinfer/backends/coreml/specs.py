"""A Core ML model's inputs and outputs, read from its protobuf specification (works off macOS).

Each feature of ``spec.description`` becomes a ``Feature``: its ``TensorSpec`` plus what Core ML
also needs to know (the kind of feature, the shapes a flexible input accepts). Multi-arrays keep
their shape (flexible dimensions are ``None``); images are ``uint8[height, width, 3]`` for RGB and
BGR (passed to Core ML as an RGB picture, which it reorders itself) and ``uint8[height, width]``
for grayscale; ``int64``, ``double`` and ``string`` features are 0-d arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.backend import InvalidInput, ModelIncompatible, TensorSpec

__all__ = [
    "Feature",
    "check_runnable",
    "from_core_ml",
    "model_precision",
    "model_type",
    "read_features",
    "to_core_ml",
]

_ARRAY_DTYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "DOUBLE": np.float64,
    "INT32": np.int32,
    "INT8": np.int8,
}
_SCALARS = {"int64Type": np.int64, "doubleType": np.float64, "stringType": np.object_}
_NEURAL_NETWORKS = ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor")
_NOT_COMPUTE = ("const", "cast")  # MIL ops whose dtype says nothing about compute precision
_MIL_FLOATS = {"FLOAT16": "fp16", "FLOAT32": "fp32", "BFLOAT16": "bf16", "FLOAT64": "fp64"}

Range = tuple[int, int | None]  # lower bound, upper bound (None: unbounded), both included


@dataclass(frozen=True, slots=True)
class Feature:
    """One input or output: its spec, its Core ML kind (``array``, ``image``, ``int64``,
    ``double``, ``string``) and, for flexible inputs, the shapes (``shapes``: enumerated) or
    per-dimension ``ranges`` that Core ML accepts."""

    spec: TensorSpec
    kind: str
    shapes: tuple[tuple[int, ...], ...] = ()
    ranges: tuple[Range, ...] = ()

    @property
    def flexible(self) -> bool:
        return bool(self.shapes or self.ranges)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise ``InvalidInput`` when Core ML would refuse ``shape`` (which ``TensorSpec``,
        with ``None`` for each flexible dimension, cannot say)."""
        name = self.spec.name
        if self.shapes and shape not in self.shapes:
            allowed = ", ".join(str(list(s)) for s in self.shapes)
            raise InvalidInput(
                f"input {name!r}: shape {list(shape)} is not one of the model's enumerated "
                f"shapes: {allowed}"
            )
        for axis, ((low, high), size) in enumerate(zip(self.ranges, shape, strict=False)):
            if size < low or (high is not None and size > high):
                span = f"{low}..{high}" if high is not None else f"{low} or more"
                raise InvalidInput(
                    f"input {name!r}: dimension {axis} is {size}; the model accepts {span}"
                )


def _enum_name(message: Any, field: str) -> str:
    number = getattr(message, field)
    value = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number.get(number)
    return str(value.name) if value is not None else str(number)


def _common(shapes: Sequence[tuple[int, ...]]) -> tuple[int | None, ...] | None:
    """Per dimension, the size every shape agrees on, else ``None``; ``None`` if ranks differ."""
    if len({len(shape) for shape in shapes}) != 1:
        return None
    return tuple(sizes[0] if len(set(sizes)) == 1 else None for sizes in zip(*shapes, strict=True))


def _size_range(size_range: Any) -> Range:
    upper = int(size_range.upperBound)
    return int(size_range.lowerBound), (upper if upper >= 0 else None)


def _array(name: str, array: Any, role: str) -> Feature:
    data_type = _enum_name(array, "dataType")
    dtype = _ARRAY_DTYPES.get(data_type)
    if dtype is None:
        raise ModelIncompatible(f"{role} {name!r} is a multi-array of {data_type}")
    default = tuple(int(d) for d in array.shape)
    flexibility = array.WhichOneof("ShapeFlexibility")
    if flexibility == "enumeratedShapes":
        shapes = tuple(tuple(int(d) for d in s.shape) for s in array.enumeratedShapes.shapes)
        return Feature(TensorSpec(name, _common(shapes), np.dtype(dtype)), "array", shapes)
    if flexibility == "shapeRange":
        ranges = tuple(_size_range(r) for r in array.shapeRange.sizeRanges)
        if default and len(default) != len(ranges):  # old-style 1-or-3 ranges: rank only
            return Feature(TensorSpec(name, (None,) * len(default), np.dtype(dtype)), "array")
        dims = tuple(low if low == high else None for low, high in ranges)
        return Feature(TensorSpec(name, dims, np.dtype(dtype)), "array", (), ranges)
    # No shape: an output whose shape depends on flexible inputs (rank unknown).
    return Feature(TensorSpec(name, default or None, np.dtype(dtype)), "array")


def _image(name: str, image: Any, role: str) -> Feature:
    colour = _enum_name(image, "colorSpace")
    if colour in ("RGB", "BGR"):
        channels: tuple[int, ...] = (3,)
        dtype: type[np.generic] = np.uint8
    elif colour in ("GRAYSCALE", "GRAYSCALE_FLOAT16"):
        channels = ()
        dtype = np.float32 if colour == "GRAYSCALE_FLOAT16" else np.uint8  # PIL mode "F" / "L"
    else:
        raise ModelIncompatible(f"{role} {name!r} is an image with colour space {colour}")
    flexibility = image.WhichOneof("SizeFlexibility")
    if flexibility == "enumeratedSizes":
        sizes = tuple((int(s.height), int(s.width), *channels) for s in image.enumeratedSizes.sizes)
        return Feature(TensorSpec(name, _common(sizes), np.dtype(dtype)), "image", sizes)
    if flexibility == "imageSizeRange":
        spans = image.imageSizeRange
        ranges: tuple[Range, ...] = (_size_range(spans.heightRange), _size_range(spans.widthRange))
        ranges += tuple((c, c) for c in channels)
        dims = tuple(low if low == high else None for low, high in ranges)
        return Feature(TensorSpec(name, dims, np.dtype(dtype)), "image", (), ranges)
    shape = (int(image.height), int(image.width), *channels)
    return Feature(TensorSpec(name, shape, np.dtype(dtype)), "image")


def _feature(description: Any, role: str) -> Feature:
    name = str(description.name)
    kind = description.type.WhichOneof("Type")
    if kind == "multiArrayType":
        return _array(name, description.type.multiArrayType, role)
    if kind == "imageType":
        return _image(name, description.type.imageType, role)
    if kind in _SCALARS:
        return Feature(TensorSpec(name, (), np.dtype(_SCALARS[kind])), kind[: -len("Type")])
    what = {"dictionaryType": "dictionary (e.g. a classifier's probabilities)"}.get(
        str(kind), str(kind).removesuffix("Type")
    )
    raise ModelIncompatible(
        f"{role} {name!r} is a {what} feature; edgeinfer handles multi-arrays, images, numbers "
        "and strings"
    )


def _description(spec: Any) -> Any:
    """The description of the function that runs: the model's own, or a multifunction model's
    default function (coremltools' ``MLModel`` loads that one)."""
    description = spec.description
    functions = getattr(description, "functions", ())
    if not len(functions):
        return description
    wanted = description.defaultFunctionName
    for function in functions:
        if function.name == wanted:
            return function
    raise ModelIncompatible(f"the model's default function {wanted!r} is not among its functions")


def read_features(spec: Any) -> tuple[tuple[Feature, ...], tuple[Feature, ...]]:
    """Inputs and outputs of a Core ML specification, in the model's order."""
    description = _description(spec)
    inputs = tuple(_feature(d, "input") for d in description.input)
    outputs = tuple(_feature(d, "output") for d in description.output)
    return inputs, outputs


def check_runnable(spec: Any) -> None:
    """Refuse models edgeinfer cannot run through one stateless ``predict``."""
    states = getattr(_description(spec), "state", ())
    if len(states):
        names = ", ".join(str(state.name) for state in states)
        raise ModelIncompatible(
            f"the model is stateful (state {names}); edgeinfer runs stateless models only"
        )
    if not len(_description(spec).output):
        raise ModelIncompatible("the model declares no outputs")


def model_type(spec: Any) -> str:
    """The kind of Core ML model: ``mlProgram``, ``neuralNetwork``, ``pipeline``..."""
    return str(spec.WhichOneof("Type"))


def _operations(block: Any) -> Iterator[Any]:
    for operation in block.operations:
        yield operation
        for inner in operation.blocks:
            yield from _operations(inner)


def model_precision(spec: Any) -> str:
    """The compute precision fixed when the model was converted, as far as the file says.

    ML programs: the float types their operations compute in (``fp16``, ``fp32``, or ``mixed
    fp16/fp32``). Neural networks: Core ML picks it per compute unit.
    """
    kind = model_type(spec)
    if kind in _NEURAL_NETWORKS:
        return "set by the compute unit (fp32 on the CPU, fp16 on the GPU and Neural Engine)"
    if kind != "mlProgram":
        return "the model's own"
    found: set[str] = set()
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for operation in _operations(block):
                if operation.type in _NOT_COMPUTE or operation.type.startswith("constexpr_"):
                    continue
                for output in operation.outputs:
                    if output.type.WhichOneof("type") == "tensorType":
                        name = _enum_name(output.type.tensorType, "dataType")
                        if name in _MIL_FLOATS:
                            found.add(_MIL_FLOATS[name])
    if not found:
        return "unknown (no floating-point operations)"
    return found.pop() if len(found) == 1 else "mixed " + "/".join(sorted(found))


def to_core_ml(feature: Feature, array: np.ndarray, image: Any = None) -> Any:
    """What ``MLModel.predict`` takes for one validated input: a contiguous array, a PIL image
    (``image`` is ``PIL.Image``), or a Python number or string."""
    if feature.kind == "array":
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)
    if feature.kind == "image":  # uint8 HxWx3 -> "RGB", uint8 HxW -> "L", float32 HxW -> "F"
        return image.fromarray(np.ascontiguousarray(array))
    value = array.item()
    if feature.kind == "int64":
        return int(value)
    if feature.kind == "double":
        return float(value)
    return str(value)


def from_core_ml(feature: Feature, value: Any) -> np.ndarray:
    """One output of ``MLModel.predict`` as a new array of the spec's dtype (never a view of a
    buffer Core ML reuses)."""
    result = np.array(value, dtype=feature.spec.dtype)
    if feature.kind == "image" and result.ndim == 3 and result.shape[-1] == 4:
        result = np.ascontiguousarray(result[..., :3])  # an RGBA picture: drop the alpha
    return result
