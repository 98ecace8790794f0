"""ONNX -> a TVM module: the Relax ONNX frontend, optional MetaSchedule tuning, ``export_library``.

Specs (names, shapes, dtypes) come from the ONNX graph itself: the Relax function takes the
graph's inputs (initializers excluded) in order and returns its outputs in order, so the file is
the one source of truth for both. Tuning records are written to a work folder that is kept: a
second compile of the same model for the same target (after the module was deleted) reuses them
instead of tuning again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backend import ModelError, TensorSpec, translate_errors
from edgeinfer.backends.tvm.errors import COMPILE_RULES
from edgeinfer.backends.tvm.progress import TuningProgress, measure_callback
from edgeinfer.backends.tvm.workers import (
    build_for_cpu,
    register_all_intrinsics,
    register_cpu_intrinsics,
)

__all__ = ["Compiled", "compile_onnx", "export_module", "onnx_specs"]

_log = logging.getLogger("edgeinfer.backends.tvm")
# Each batch of builds starts fresh worker processes; with TVM's own build function each imports
# the tensor intrinsics of every architecture first (18 s of a 2-core machine, see workers.py),
# and MetaSchedule's 30 s default timed every build out here. A generous bound, not a budget.
BUILD_TIMEOUT_SECONDS = 300
_RECORDS = ("database_workload.json", "database_tuning_record.json")


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
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)


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
def _quiet_frontend() -> Iterator[list[str]]:
    """The frontend warns through ``warnings`` and prints; keep it off the user's terminal and
    on edgeinfer's DEBUG log."""
    import warnings

    said: list[str] = []
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        yield said
    said.extend(str(w.message) for w in caught)
    said.extend(line for line in out.getvalue().splitlines() if line.strip())
    for line in said:
        _log.debug("tvm frontend: %s", line)


def _relax_module(path: Path) -> tuple[Any, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    with translate_errors(f"onnx cannot read {path.name}", COMPILE_RULES[:1], ModelError):
        model = onnx.load(str(path))
    inputs, outputs = onnx_specs(model)
    with (
        translate_errors(f"tvm's ONNX frontend cannot import {path.name}", COMPILE_RULES),
        _quiet_frontend(),
    ):
        module = from_onnx(model, keep_params_in_input=False)
    return module, inputs, outputs


def _has_records(work_dir: Path) -> bool:
    return all(
        (work_dir / name).is_file() and (work_dir / name).stat().st_size > 0 for name in _RECORDS
    )


def _tuned(
    tvm: Any, module: Any, target: Any, trials: int, work_dir: Path, what: str
) -> tuple[Any, bool]:
    """MetaSchedule: tune ``trials`` trials into ``work_dir`` (or reuse its records), then build
    with the database. ``random`` cost model: xgboost is not a dependency of TVM's wheel."""
    from tvm.s_tir.meta_schedule import relax_integration
    from tvm.s_tir.meta_schedule.builder import LocalBuilder
    from tvm.s_tir.meta_schedule.database import JSONDatabase
    from tvm.s_tir.meta_schedule.measure_callback import MeasureCallback

    if target.kind.name == "llvm":
        register_cpu_intrinsics()  # not the package's 18 s import of every architecture's
    else:
        register_all_intrinsics()
    prepared = _fused(tvm, module, target)
    tasks = relax_integration.extract_tasks(prepared, target, params={})
    if not tasks:
        # MetaSchedule tunes kernels of static shapes; a model whose every kernel has a dynamic
        # dimension has nothing it can tune.
        _log.warning(
            "tvm: %s has no kernel MetaSchedule can tune (dynamic shapes?): compiled untuned", what
        )
        return None, False
    reused = _has_records(work_dir)
    if reused:
        _log.info("tvm: reusing the tuning records in %s", work_dir)
        database = JSONDatabase(work_dir=str(work_dir))
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        learned = _has_xgboost()
        progress = TuningProgress(what, trials)
        callbacks = [*MeasureCallback.create("default"), measure_callback(progress)]
        try:
            with _console_quiet():
                database = relax_integration.tune_relax(
                    prepared,
                    params={},
                    target=target,
                    work_dir=str(work_dir),
                    max_trials_global=trials,
                    # every task gets at least one round within the budget
                    num_trials_per_iter=max(1, min(64, trials // len(tasks))),
                    builder=LocalBuilder(
                        timeout_sec=BUILD_TIMEOUT_SECONDS,
                        f_build=build_for_cpu if target.kind.name == "llvm" else None,
                    ),
                    # Without xgboost there is no learned cost model: the evolutionary search
                    # would evolve thousands of candidates on random scores (26 s per task
                    # here) to choose what random sampling of the space chooses as well.
                    cost_model="xgb" if learned else "random",
                    strategy="evolutionary" if learned else "replay-trace",
                    measure_callbacks=callbacks,
                )
        finally:
            progress.finish()
    return relax_integration.compile_relax(database, module, target, params=None), reused


@contextlib.contextmanager
def _console_quiet() -> Iterator[None]:
    """MetaSchedule prints its tables to stdout at the level of its logger (DEBUG when unset);
    it keeps everything in ``<work dir>/logs``. Only its warnings reach the terminal."""
    found = logging.getLogger("tvm.s_tir.meta_schedule")
    level = found.level
    if level == logging.NOTSET:
        found.setLevel(logging.WARNING)
    try:
        yield
    finally:
        found.setLevel(level)


def _fused(tvm: Any, module: Any, target: Any) -> Any:
    """``module`` lowered to fused TIR kernels, as ``compile_relax`` prepares it before it applies
    the tuning database (so the tasks tuned here are the ones it looks up)."""
    from tvm import relax
    from tvm.relax import pipeline

    try:
        dispatch = list(pipeline.library_dispatch_passes(target))
    except (ValueError, AttributeError):
        dispatch = []
    passes = [
        *dispatch,
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
    ]
    with target:
        return tvm.transform.Sequential(passes)(module)


def _has_xgboost() -> bool:
    import importlib.util

    return importlib.util.find_spec("xgboost") is not None


TUNING_HINT = (
    "pip install cloudpickle psutil 'apache-tvm-ffi<0.1.15' (what edgeinfer's 'tvm' extra "
    "installs: MetaSchedule's worker pool needs cloudpickle, and TVM 0.27 crashes serialising "
    "modules with apache-tvm-ffi 0.1.15)"
)


def check_tuning_works(tvm: Any) -> None:
    """Refuse to tune where MetaSchedule would fail or crash the process, with the fix:
    its worker pool needs cloudpickle, and TVM 0.27 with apache-tvm-ffi 0.1.15 segfaults in
    ``save_json`` (every tuning run serialises its tasks)."""
    import importlib.util

    from edgeinfer.backend import BackendUnavailable, installed_version

    missing = [m for m in ("cloudpickle", "psutil") if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailable(
            "tvm", f"tuning needs {', '.join(missing)} (MetaSchedule's worker pool)", TUNING_HINT
        )
    ffi = installed_version("apache-tvm-ffi") or ""
    if str(tvm.__version__).startswith("0.27") and _at_least(ffi, (0, 1, 15)):
        raise BackendUnavailable(
            "tvm",
            f"TVM {tvm.__version__} with apache-tvm-ffi {ffi} crashes the process when it "
            "serialises a module, which tuning does (measured here: a segfault in ToJSONGraph)",
            TUNING_HINT,
        )


def _at_least(version: str, floor: tuple[int, ...]) -> bool:
    parts = []
    for text in version.split(".")[: len(floor)]:
        digits = "".join(c for c in text if c.isdigit())
        parts.append(int(digits or 0))
    return bool(parts) and tuple(parts) >= floor


def compile_onnx(
    tvm: Any, path: Path, target: Mapping[str, Any], trials: int, work_dir: Path | None
) -> tuple[Compiled, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Import and compile ``path`` for ``target``; tuned for ``trials`` trials when > 0."""
    started = time.perf_counter()
    module, inputs, outputs = _relax_module(path)
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
                "compiled untuned (fix the shapes in the ONNX file to tune it)",
                path.name,
            )
            trials = tuned_trials = 0
        if trials > 0 and work_dir is not None:
            check_tuning_works(tvm)
            tune_started = time.perf_counter()
            executable, reused = _tuned(tvm, module, built_for, trials, work_dir, path.name)
            tune_seconds = 0.0 if reused else time.perf_counter() - tune_started
            if executable is None:
                tuned_trials = 0
                executable = tvm.compile(module, target=built_for)
        else:
            executable = tvm.compile(module, target=built_for)
    seconds = time.perf_counter() - started - tune_seconds
    return Compiled(executable, seconds, tune_seconds, reused, tuned_trials), inputs, outputs


def export_module(executable: Any, out: Path) -> None:
    """``export_library`` to a temporary file beside ``out``, renamed over it: a reader never
    sees half a library, and two processes compiling at once both leave a whole one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(handle)
    try:
        executable.export_library(temporary)
        os.replace(temporary, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
