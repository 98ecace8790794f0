"""ONNX -> a TVM module: the Relax ONNX frontend, tuning where asked (``tuning.py``),
``export_library``.

Specs (names, shapes, dtypes) come from the ONNX graph itself: the Relax function takes the
graph's inputs (initializers excluded) in order and returns its outputs in order, so the file is
the one source of truth for both.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backend import (
    ConfigurationError,
    ModelError,
    TensorSpec,
    atomic_file,
    captured_native_stderr,
    translate_errors,
)
from edgeinfer.backends.tvm.errors import COMPILE_RULES
from edgeinfer.backends.tvm.tuning import check_tuning_works, tuned

__all__ = ["Compiled", "compile_onnx", "export_module", "onnx_specs"]

_log = logging.getLogger("edgeinfer.backends.tvm")


@dataclass(frozen=True)
class Compiled:
    """A compiled Relax executable, how long it took, the trials tuned (0: untuned, also when
    the model had nothing to tune)."""

    executable: Any
    compile_seconds: float
    tune_seconds: float
    reused_records: bool
    tune_trials: int


def _dims(value_info: Any) -> tuple[int | None, ...] | None:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    # an exporter's -1 (or 0) is a dynamic size, like a dim_param
    return tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in tensor.shape.dim
    )


def onnx_specs(model: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs (initializers excluded) and outputs, as TensorSpecs."""
    from onnx.helper import tensor_dtype_to_np_dtype

    def spec(value_info: Any) -> TensorSpec:
        tensor = value_info.type.tensor_type
        if not value_info.type.HasField("tensor_type"):
            raise ModelError(
                f"{value_info.name!r} is not a tensor (a sequence, map or optional): the tvm "
                "backend runs tensor models only"
            )
        dtype = np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type))
        return TensorSpec(value_info.name, _dims(value_info), dtype)

    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = tuple(spec(v) for v in graph.input if v.name not in weights)
    return inputs, tuple(spec(v) for v in graph.output)


@contextlib.contextmanager
def _quiet(what: str) -> Iterator[None]:
    """TVM warns through ``warnings``, prints, and logs from C++ to stderr ("BlockBuilder
    destroyed with remaining blocks!"): keep all of it off the user's terminal and on
    edgeinfer's DEBUG log."""
    import warnings

    out = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        captured_native_stderr() as native,
    ):
        warnings.simplefilter("always")
        yield
    said = [str(w.message) for w in caught]
    said.extend(line for line in out.getvalue().splitlines() if line.strip())
    said.extend(native.lines())
    for line in said:
        _log.debug("tvm %s: %s", what, line)


def fixed_shapes(
    inputs: tuple[TensorSpec, ...], shapes: Mapping[str, Sequence[int]]
) -> tuple[TensorSpec, ...]:
    """``inputs`` with the sizes ``shapes`` gives (name -> every dimension). Raises
    ``ConfigurationError`` for an unknown name, a wrong rank, or a size the model fixes
    otherwise."""
    known = {spec.name: spec for spec in inputs}
    for name, dims in shapes.items():
        spec = known.get(name)
        if spec is None:
            raise ConfigurationError(
                f"tvm option 'shapes' names {name!r}, which is not an input; the inputs: "
                + ", ".join(str(s) for s in inputs)
            )
        given: object = dims
        if not isinstance(given, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in given
        ):
            raise ConfigurationError(
                f"tvm option 'shapes' for {name!r} must be positive sizes, like [1, 3, 224, 224]; "
                f"got {dims!r}"
            )
        if spec.shape is not None and (
            len(dims) != len(spec.shape)
            or any(want is not None and want != d for want, d in zip(spec.shape, dims, strict=True))
        ):
            raise ConfigurationError(
                f"tvm option 'shapes' gives {name!r} the shape {list(dims)}; the model declares "
                f"{spec}"
            )
    return tuple(
        replace(spec, shape=tuple(shapes[spec.name])) if spec.name in shapes else spec
        for spec in inputs
    )


def _relax_module(
    path: Path, shapes: Mapping[str, Sequence[int]]
) -> tuple[Any, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    with translate_errors(f"onnx cannot read {path.name}", COMPILE_RULES[:1], ModelError):
        model = onnx.load(str(path))
    inputs, outputs = onnx_specs(model)
    inputs = fixed_shapes(inputs, shapes)
    shape_dict = {name: list(dims) for name, dims in shapes.items()} or None
    with (
        translate_errors(f"tvm's ONNX frontend cannot import {path.name}", COMPILE_RULES),
        _quiet("frontend"),
    ):
        try:
            module = from_onnx(model, shape_dict=shape_dict, keep_params_in_input=False)
        except Exception as error:
            # The failed import's half-built Relax blocks live on in the traceback's frames and
            # print a C++ warning when freed: free them here, inside the capture.
            traceback.clear_frames(error.__traceback__)
            gc.collect()
            raise
    return module, inputs, outputs


def compile_onnx(
    tvm: Any,
    path: Path,
    target: Mapping[str, Any],
    trials: int,
    work_dir: Path | None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> tuple[Compiled, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Import and compile ``path`` for ``target`` (with ``shapes`` fixing inputs' dynamic
    sizes); tuned for ``trials`` trials when > 0."""
    started = time.perf_counter()
    module, inputs, outputs = _relax_module(path, shapes or {})
    built_for = tvm.target.Target(dict(target))
    tune_seconds = 0.0
    reused = False
    tuned_trials = trials
    with translate_errors(f"tvm cannot compile {path.name} for {dict(target)}", COMPILE_RULES):
        if trials > 0 and any(spec.is_dynamic for spec in inputs):
            # MetaSchedule tunes kernels of static shapes (TVM's own static_shape_tuning_pipeline);
            # on symbolic ones its rules fail (measured: parallel_for_dynamic check failures).
            _log.warning(
                "tvm: %s has dynamic input dimensions; MetaSchedule tunes static shapes only: "
                "compiled untuned (give them with options={'tvm': {'shapes': ...}} to tune it)",
                path.name,
            )
            trials = tuned_trials = 0
        if trials > 0 and work_dir is not None:
            check_tuning_works(tvm)
            tune_started = time.perf_counter()
            executable, reused = tuned(tvm, module, built_for, trials, work_dir, path.name)
            tune_seconds = 0.0 if reused else time.perf_counter() - tune_started
            if executable is None:
                tuned_trials = 0
                with _quiet("compile"):
                    executable = tvm.compile(module, target=built_for)
        else:
            with _quiet("compile"):
                executable = tvm.compile(module, target=built_for)
    seconds = time.perf_counter() - started - tune_seconds
    return Compiled(executable, seconds, tune_seconds, reused, tuned_trials), inputs, outputs


def export_module(executable: Any, out: Path) -> None:
    """``export_library`` into ``out``, atomically (``atomic_file``)."""
    with atomic_file(out) as temporary:
        executable.export_library(str(temporary))
