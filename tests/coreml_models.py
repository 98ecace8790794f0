"""Small, real Core ML models built reproducibly with coremltools (no downloads, no macOS needed).

ML programs are written with the MIL builder (``coremltools.converters.mil.Builder``) and
converted with ``coremltools.convert(program, convert_to="mlprogram")`` into ``.mlpackage``
folders; the older format is ``convert_to="neuralnetwork"`` into a single ``.mlmodel`` file.
Conversion works on Linux; only running the models needs macOS. Each builder writes to the given
path and returns it; ``REFERENCES`` holds the numpy function each runnable model computes.

Run ``python tests/coreml_models.py`` to build every model into a temporary folder and print
its specification's inputs and outputs.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

_logger = logging.getLogger("coremltools")


@contextlib.contextmanager
def _quiet() -> Iterator[Any]:
    """Import coremltools and convert without its progress bars and import warnings."""
    level = _logger.level
    _logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            import coremltools as ct

            yield ct
    finally:
        _logger.setLevel(level)


def _builder() -> Any:
    """The MIL builder, ``from coremltools.converters.mil import Builder as mb`` in Apple's docs."""
    from coremltools.converters.mil import Builder

    return Builder


def _precision(ct: Any, precision: str) -> Any:
    """``fp32``, ``fp16``, or ``mixed``: fp16 everywhere except ``mul`` ops, which stay fp32."""
    if precision == "mixed":
        return ct.transform.FP16ComputePrecision(op_selector=lambda op: op.op_type != "mul")
    return {"fp32": ct.precision.FLOAT32, "fp16": ct.precision.FLOAT16}[precision]


def _save(model: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path


def build_one_op(path: Path, precision: str = "fp32") -> Path:
    """``y = relu(x)`` on float32 ``x`` [1, 16]: the Core ML twin of onnx_models.build_one_op."""
    with _quiet() as ct:
        mb = _builder()

        @mb.program(input_specs=[mb.TensorSpec(shape=(1, 16))])
        def program(x: Any) -> Any:
            return mb.relu(x=x, name="y")

        model = ct.convert(
            program, convert_to="mlprogram", compute_precision=_precision(ct, precision)
        )
    return _save(model, path)


def build_two_in_two_out(path: Path, precision: str = "fp32") -> Path:
    """Inputs ``a``, ``b`` float32 [1, 4]; outputs ``sum_relu = relu(a + b)``, ``prod = a * b``."""
    with _quiet() as ct:
        mb = _builder()

        @mb.program(input_specs=[mb.TensorSpec(shape=(1, 4)), mb.TensorSpec(shape=(1, 4))])
        def program(a: Any, b: Any) -> Any:
            total = mb.add(x=a, y=b, name="total")
            return mb.relu(x=total, name="sum_relu"), mb.mul(x=a, y=b, name="prod")

        model = ct.convert(
            program, convert_to="mlprogram", compute_precision=_precision(ct, precision)
        )
    return _save(model, path)


def _relu_program(mb: Any, shape: tuple[Any, ...]) -> Any:
    @mb.program(input_specs=[mb.TensorSpec(shape=shape)])
    def program(x: Any) -> Any:
        return mb.relu(x=x, name="y")

    return program


def build_enumerated(path: Path) -> Path:
    """``y = relu(x)``; ``x`` takes exactly the shapes [1, 4], [2, 4] and [8, 4]."""
    with _quiet() as ct:
        from coremltools.converters.mil.mil import get_new_symbol

        mb = _builder()

        shapes = ct.EnumeratedShapes(shapes=[(1, 4), (2, 4), (8, 4)])
        model = ct.convert(  # the program's first dimension is symbolic: the inputs pin it
            _relu_program(mb, (get_new_symbol(), 4)),
            convert_to="mlprogram",
            inputs=[ct.TensorType(name="x", shape=shapes)],
        )
    return _save(model, path)


def build_range(path: Path) -> Path:
    """``y = relu(x)``; ``x`` is [1..16, 4] (a shape range on the first dimension)."""
    with _quiet() as ct:
        from coremltools.converters.mil.mil import get_new_symbol

        mb = _builder()

        model = ct.convert(
            _relu_program(mb, (get_new_symbol(), 4)),
            convert_to="mlprogram",
            inputs=[ct.TensorType(name="x", shape=(ct.RangeDim(1, 16), 4))],
        )
    return _save(model, path)


def build_neuralnetwork(path: Path) -> Path:
    """The older format: ``y = relu(x)`` on float32 [1, 16] as a ``neuralnetwork`` .mlmodel."""
    with _quiet() as ct:
        mb = _builder()

        model = ct.convert(_relu_program(mb, (1, 16)), convert_to="neuralnetwork")
    return _save(model, path)


def build_int32(path: Path) -> Path:
    """``y = x + 1`` on int32 [2, 3]."""
    with _quiet() as ct:
        from coremltools.converters.mil.mil import types

        mb = _builder()

        @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3), dtype=types.int32)])
        def program(x: Any) -> Any:
            return mb.add(x=x, y=np.int32(1), name="y")

        model = ct.convert(program, convert_to="mlprogram")
    return _save(model, path)


def build_fp16_io(path: Path) -> Path:
    """``y = relu(x)`` with float16 input and output [2, 3] (needs the iOS 16 / macOS 13 opset)."""
    with _quiet() as ct:
        from coremltools.converters.mil.mil import types

        mb = _builder()

        @mb.program(
            input_specs=[mb.TensorSpec(shape=(2, 3), dtype=types.fp16)],
            opset_version=ct.target.iOS16,
        )
        def program(x: Any) -> Any:
            return mb.relu(x=x, name="y")

        model = ct.convert(
            program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16
        )
    return _save(model, path)


def _mean_program(mb: Any) -> Any:
    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, 8, 8))])
    def program(x: Any) -> Any:
        return mb.reduce_mean(x=x, axes=[2, 3], keep_dims=False, name="mean")

    return program


def build_image(path: Path) -> Path:
    """An RGB image input ``image`` 8 x 8 -> ``mean`` float32 [1, 3], each channel's mean."""
    with _quiet() as ct:
        mb = _builder()

        image = ct.ImageType(name="x", shape=(1, 3, 8, 8), color_layout=ct.colorlayout.RGB)
        model = ct.convert(
            _mean_program(mb),
            convert_to="mlprogram",
            inputs=[image],
            compute_precision=ct.precision.FLOAT32,
        )
    return _save(model, path)


def build_classifier(path: Path) -> Path:
    """A classifier: outputs a string label and a dictionary of probabilities per class."""
    with _quiet() as ct:
        mb = _builder()

        @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3))])
        def program(x: Any) -> Any:
            return mb.softmax(x=x, axis=-1, name="probabilities")

        model = ct.convert(
            program,
            convert_to="mlprogram",
            classifier_config=ct.ClassifierConfig(["cat", "dog", "bird"]),
        )
    return _save(model, path)


def build_stateful(path: Path) -> Path:
    """A stateful model (iOS 18 / macOS 15): ``y = acc += x``, with ``acc`` a float16 state."""
    with _quiet() as ct:
        from coremltools.converters.mil.mil import types

        mb = _builder()

        @mb.program(
            input_specs=[
                mb.TensorSpec(shape=(1, 4)),
                mb.StateTensorSpec(shape=(1, 4), dtype=types.fp16),
            ],
            opset_version=ct.target.iOS18,
        )
        def program(x: Any, acc: Any) -> Any:
            total = mb.add(x=mb.read_state(input=acc), y=mb.cast(x=x, dtype="fp16"))
            mb.coreml_update_state(state=acc, value=total)
            return mb.cast(x=total, dtype="fp32", name="y")

        model = ct.convert(
            program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS18
        )
    return _save(model, path)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


REFERENCES: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "one_op": lambda x: {"y": _relu(x)},
    "two_in_two_out": lambda a, b: {"sum_relu": _relu(a + b), "prod": a * b},
    "enumerated": lambda x: {"y": _relu(x)},
    "range": lambda x: {"y": _relu(x)},
    "neuralnetwork": lambda x: {"y": _relu(x)},
    "int32": lambda x: {"y": x + np.int32(1)},
    "fp16_io": lambda x: {"y": _relu(x)},
}

ALL_BUILDERS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "one_op": (".mlpackage", build_one_op),
    "two_in_two_out": (".mlpackage", build_two_in_two_out),
    "enumerated": (".mlpackage", build_enumerated),
    "range": (".mlpackage", build_range),
    "neuralnetwork": (".mlmodel", build_neuralnetwork),
    "int32": (".mlpackage", build_int32),
    "fp16_io": (".mlpackage", build_fp16_io),
    "image": (".mlpackage", build_image),
    "classifier": (".mlpackage", build_classifier),
    "stateful": (".mlpackage", build_stateful),
}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for name, (suffix, builder) in ALL_BUILDERS.items():
            built = builder(Path(folder) / f"{name}{suffix}")
            with _quiet() as ct:
                description = ct.utils.load_spec(str(built)).description
            inputs = ", ".join(feature.name for feature in description.input)
            outputs = ", ".join(feature.name for feature in description.output)
            print(f"{name}: {built.name} ({inputs}) -> ({outputs})")
