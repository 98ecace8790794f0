"""MetaSchedule tuning of a Relax module, made to work and to be affordable on small machines.

Tuning records are written to a work folder that is kept: a second compile of the same model for
the same target (after its module was deleted) builds from them instead of tuning again. What
this module changes from TVM's defaults, and why, is in docs/tvm.md ("Tuning").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeinfer.backends.tvm.progress import TuningProgress, measure_callback
from edgeinfer.backends.tvm.workers import (
    build_for_cpu,
    register_all_intrinsics,
    register_cpu_intrinsics,
)

__all__ = ["BUILD_TIMEOUT_SECONDS", "TUNING_HINT", "check_tuning_works", "tuned"]

_log = logging.getLogger("edgeinfer.backends.tvm")
# Each batch of builds starts fresh worker processes; with TVM's own build function each imports
# the tensor intrinsics of every architecture first (18 s of a 2-core machine, see workers.py),
# and MetaSchedule's 30 s default timed every build out here. A generous bound, not a budget.
BUILD_TIMEOUT_SECONDS = 300
_RECORDS = ("database_workload.json", "database_tuning_record.json")


def _has_records(work_dir: Path) -> bool:
    return all(
        (work_dir / name).is_file() and (work_dir / name).stat().st_size > 0 for name in _RECORDS
    )


def tuned(
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
    it keeps everything in ``<work dir>/logs``. Only its warnings reach the terminal.

    Its ``create_loggers`` also fails ("'NoneType' object has no attribute 'format'") when that
    logger holds a handler without a name (pytest's log capture adds two): such handlers are
    set aside while it configures itself, and put back after."""
    found = logging.getLogger("tvm.s_tir.meta_schedule")
    level = found.level
    if level == logging.NOTSET:
        found.setLevel(logging.WARNING)
    unnamed = [handler for handler in found.handlers if handler.get_name() is None]
    for handler in unnamed:
        found.removeHandler(handler)
    try:
        yield
    finally:
        found.setLevel(level)
        for handler in unnamed:
            found.addHandler(handler)


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
