"""Where a model's compiled module comes from: edgeinfer's cache, or a compile (then cached).

``cached_or_compiled`` is what ``load()`` of an ``.onnx`` file does; ``compile_for`` what
``edgeinfer.compile_model`` does; both key the module by the model's digest, the TVM version, the
target and the tuning budget (``cache.py``), and write the sidecar last, so a module with a
sidecar is always whole.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer.backend import (
    ConfigurationError,
    DeviceRequest,
    ModelError,
    ModelIncompatible,
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

_log = logging.getLogger("edgeinfer.backends.tvm")

__all__ = ["cached_or_compiled", "caching_of", "compile_for", "compile_to", "trials_of"]


def trials_of(extra: Mapping[str, Any]) -> int:
    trials = extra.get("tune", 0)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0:
        raise ConfigurationError(
            f"tvm option 'tune' must be a number of trials (0 for none), got {trials!r}"
        )
    return trials


def caching_of(extra: Mapping[str, Any]) -> bool:
    """The ``cache`` option: keep compiled modules in the cache folder (default)."""
    caching = extra.get("cache", True)
    if not isinstance(caching, bool):
        raise ConfigurationError(f"tvm option 'cache' must be True or False, got {caching!r}")
    return caching


def shapes_of(extra: Mapping[str, Any]) -> dict[str, list[int]]:
    """The ``shapes`` option: input name -> every dimension (checked against the model later)."""
    shapes = extra.get("shapes", {})
    if not isinstance(shapes, Mapping) or not all(isinstance(k, str) for k in shapes):
        raise ConfigurationError(
            f"tvm option 'shapes' must map input names to sizes, like {{'images': [1, 3, 640, "
            f"640]}}; got {shapes!r}"
        )
    return {name: list(dims) if isinstance(dims, (list, tuple)) else dims
            for name, dims in shapes.items()}  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """How one module is compiled: the target, the tuning budget, the inputs' fixed sizes, and
    the cache key of all that with the model and TVM version."""

    target: dict[str, Any]
    trials: int
    shapes: dict[str, list[int]]
    key: str


def recipe_of(
    tvm: Any, version: str, path: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> Recipe:
    trials = trials_of(extra)
    shapes = shapes_of(extra)
    target = resolve_target(tvm, device, extra.get("target"))
    target = for_tuning(target) if trials else target
    key = module_key(model_digest(path), version, target, trials, shapes)
    return Recipe(target, trials, shapes, key)


def cached_or_compiled(
    tvm: Any, version: str, path: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> tuple[Path, Sidecar, str]:
    """The cached module of ``path`` for this target, compiled first where there is none."""
    check_onnx_file(path)
    recipe = recipe_of(tvm, version, path, device, extra)
    out = module_path(path, recipe.key)
    caching = caching_of(extra)
    if caching and out.is_file():
        try:
            sidecar = read_sidecar(out)
            check_runs_here(tvm, sidecar, version, device)
            return out, sidecar, f"cached (compiled in {sidecar.compile_seconds:.2f} s before)"
        except (ModelError, ModelIncompatible) as error:  # damaged or stale: compile over it
            _log.debug("tvm: not using the cached %s: %s", out, error)
    if not caching:
        out = Path(tempfile.mkdtemp(prefix="edgeinfer-tvm-")) / f"{path.stem}.so"
    sidecar = compile_to(tvm, version, path, out, recipe)
    return out, sidecar, f"compiled on this load in {sidecar.compile_seconds:.2f} s"


def compile_for(
    tvm: Any, version: str, path: Path, out: Path, device: DeviceRequest, extra: Mapping[str, Any]
) -> Sidecar:
    """Compile ``path`` into ``out`` for ``device`` (ahead of time: no cache entry)."""
    return compile_to(tvm, version, path, out, recipe_of(tvm, version, path, device, extra))


def compile_to(tvm: Any, version: str, path: Path, out: Path, recipe: Recipe) -> Sidecar:
    """Compile ``path`` by ``recipe`` into ``out`` and write its sidecar (last, so a module with
    a sidecar is always whole)."""
    target, trials = recipe.target, recipe.trials
    work_dir = tuning_dir(path, recipe.key)
    compiled, inputs, outputs = compile_onnx(tvm, path, target, trials, work_dir, recipe.shapes)
    started = time.perf_counter()
    with translate_errors(f"tvm cannot export {path.name}", LOAD_RULES):
        export_module(compiled.executable, out)
    extra: dict[str, Any] = {"shapes": recipe.shapes} if recipe.shapes else {}
    if trials:
        extra.update(tune_asked=trials, reused_tuning_records=compiled.reused_records)
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
        extra=extra,
    )
    write_sidecar(out, sidecar)
    return sidecar
