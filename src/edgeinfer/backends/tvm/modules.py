"""Where a model's compiled module comes from: edgeinfer's cache, or a compile (then cached).

``cached_or_compiled`` is what ``load()`` of an ``.onnx`` file does; ``compile_for`` what
``edgeinfer.compile_model`` does; both key the module by the model's digest, the TVM version, the
target and the tuning budget (``cache.py``), and write the sidecar last, so a module with a
sidecar is always whole.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeinfer.backend import (
    ConfigurationError,
    DeviceRequest,
    check_onnx_file,
    model_digest,
    translate_errors,
)
from edgeinfer.backends.tvm.cache import module_key, module_path, tuning_dir
from edgeinfer.backends.tvm.compiler import compile_onnx, export_module
from edgeinfer.backends.tvm.errors import LOAD_RULES
from edgeinfer.backends.tvm.sidecar import Sidecar, read_sidecar, write_sidecar
from edgeinfer.backends.tvm.targets import (
    check_runs_here,
    cpu_features,
    for_tuning,
    host_arch,
    resolve_target,
)

__all__ = ["cached_or_compiled", "compile_for", "compile_to", "trials_of"]


def trials_of(extra: Mapping[str, Any]) -> int:
    trials = extra.get("tune", 0)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0:
        raise ConfigurationError(
            f"tvm option 'tune' must be a number of trials (0 for none), got {trials!r}"
        )
    return trials


def _target_and_key(
    tvm: Any, version: str, path: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> tuple[dict[str, Any], int, str]:
    trials = trials_of(extra)
    target = resolve_target(tvm, device, extra.get("target"))
    target = for_tuning(target) if trials else target
    return target, trials, module_key(model_digest(path), version, target, trials)


def cached_or_compiled(
    tvm: Any, version: str, path: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> tuple[Path, Sidecar, str]:
    """The cached module of ``path`` for this target, compiled first where there is none."""
    check_onnx_file(path)
    target, trials, key = _target_and_key(tvm, version, path, device, extra)
    out = module_path(path, key)
    if extra.get("cache", True) and out.is_file():
        try:
            sidecar = read_sidecar(out)
            check_runs_here(tvm, sidecar, version, device)
            return out, sidecar, f"cached (compiled in {sidecar.compile_seconds:.2f} s before)"
        except Exception:  # a broken or foreign entry: compile again over it
            pass
    if not extra.get("cache", True):
        out = Path(tempfile.mkdtemp(prefix="edgeinfer-tvm-")) / f"{path.stem}.so"
    sidecar = compile_to(tvm, version, path, out, target, trials, tuning_dir(path, key))
    return out, sidecar, f"compiled on this load in {sidecar.compile_seconds:.2f} s"


def compile_for(
    tvm: Any, version: str, path: Path, out: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> Sidecar:
    """Compile ``path`` into ``out`` for ``device`` (ahead of time: no cache entry)."""
    target, trials, key = _target_and_key(tvm, version, path, device, extra)
    return compile_to(tvm, version, path, out, target, trials, tuning_dir(path, key))


def compile_to(
    tvm: Any,
    version: str,
    path: Path,
    out: Path,
    target: Mapping[str, Any],
    trials: int,
    work_dir: Path | None,
) -> Sidecar:
    """Compile ``path`` for ``target`` into ``out`` and write its sidecar (last, so a module with
    a sidecar is always whole)."""
    compiled, inputs, outputs = compile_onnx(tvm, path, target, trials, work_dir)
    started = time.perf_counter()
    with translate_errors(f"tvm cannot export {path.name}", LOAD_RULES):
        export_module(compiled.executable, out)
    sidecar = Sidecar(
        inputs=inputs,
        outputs=outputs,
        tvm_version=version,
        target=dict(target),
        host_arch=host_arch(tvm, target),
        features=cpu_features(tvm, target),
        source=path.name,
        source_sha256=model_digest(path),
        compile_seconds=compiled.compile_seconds + time.perf_counter() - started,
        tune_trials=compiled.tune_trials,
        tune_seconds=compiled.tune_seconds,
        extra={"tune_asked": trials, "reused_tuning_records": compiled.reused_records}
        if trials
        else {},
    )
    write_sidecar(out, sidecar)
    return sidecar
