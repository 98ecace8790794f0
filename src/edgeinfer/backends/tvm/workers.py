"""MetaSchedule's build workers, made cheap to start for CPU targets.

Each batch of candidate builds starts fresh worker processes (TVM restarts its pool every batch),
and TVM's default build function first imports ``tvm.s_tir.tensor_intrin``, whose package
registers the tensor intrinsics of every architecture: 18 s of a 2-core machine, 12 of them for
CUDA's. A CPU build needs only its own architecture's intrinsics. ``build_for_cpu`` loads those
alone and builds as TVM's ``default_build`` does; where that cannot be done (another TVM layout)
it imports the whole package, as TVM does.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys
import types
from typing import Any

__all__ = ["build_for_cpu", "register_all_intrinsics", "register_cpu_intrinsics"]

_PACKAGE = "tvm.s_tir.tensor_intrin"
_OWN = {"x86_64": "x86", "amd64": "x86", "aarch64": "arm_cpu", "arm64": "arm_cpu"}


def register_cpu_intrinsics() -> None:
    """Register this CPU architecture's tensor intrinsics without the package's others (also
    in the tuning process: MetaSchedule's ``TuneContext`` imports the package too)."""
    own = _OWN.get(platform.machine().lower())
    if _PACKAGE in sys.modules or own is None:
        importlib.import_module(_PACKAGE)
        return
    try:
        spec = importlib.util.find_spec(_PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{_PACKAGE} is not a package here")
        package = types.ModuleType(_PACKAGE)
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        package.__package__ = _PACKAGE
        sys.modules[_PACKAGE] = package
        importlib.import_module(f"{_PACKAGE}.{own}")
    except Exception:  # another layout of TVM: do what TVM's own build function does
        sys.modules.pop(_PACKAGE, None)
        importlib.import_module(_PACKAGE)


def register_all_intrinsics() -> None:
    """Every architecture's intrinsics, as ``import tvm.s_tir.tensor_intrin`` registers them,
    also after ``register_cpu_intrinsics`` put a partial package in its place (a GPU target)."""
    importlib.import_module(_PACKAGE)
    for name in ("cuda", "arm_cpu", "x86", "rocm", "hexagon", "riscv_cpu", "metal"):
        if importlib.util.find_spec(f"{_PACKAGE}.{name}") is not None:
            importlib.import_module(f"{_PACKAGE}.{name}")


def build_for_cpu(mod: Any, target: Any, params: Any) -> Any:
    """MetaSchedule's ``f_build`` for CPU targets: TVM's ``default_build`` minus the import of
    every architecture's intrinsics."""
    register_cpu_intrinsics()
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return build(mod, target=target)
