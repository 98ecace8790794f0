"""TVM's thread pool: one per process, with a ceiling fixed when the pool starts.

TVM sizes the pool from ``TVM_NUM_THREADS``, else from half the logical CPUs (it assumes two
hardware threads per core: a 2-core VM without SMT gets one thread), and
``runtime.config_threadpool`` can lower the count later but never raise it above that ceiling
(measured with TVM 0.27). So before TVM is first imported, edgeinfer sets ``TVM_NUM_THREADS``
(when the user has not) to the physical cores, or to ``threads=`` when that is more; each load
then asks for its ``threads=``, and ``explain()`` reports what TVM really runs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from edgeinfer.backends.tvm.targets import physical_cores

__all__ = ["ENV_VAR", "apply_threads", "size_pool_before_import"]

ENV_VAR = "TVM_NUM_THREADS"


def size_pool_before_import(threads: int | None) -> None:
    """Set the pool's ceiling, where it is still unset and TVM not yet imported."""
    if "tvm" not in sys.modules and ENV_VAR not in os.environ:
        os.environ[ENV_VAR] = str(max(physical_cores(), threads or 0))


def apply_threads(tvm: Any, threads: int | None) -> str:
    """Ask TVM's pool for ``threads`` (``None``: leave it); what ``explain()`` says of it."""
    if threads is not None:
        tvm.get_global_func("runtime.config_threadpool")(1, threads)
    running = int(tvm.runtime.num_threads())
    ceiling = os.environ.get(ENV_VAR)
    if threads is None:
        return f"{running} (TVM's pool, one per process; {ENV_VAR}={ceiling or 'unset'})"
    if running != threads:
        return (
            f"{running}, not the {threads} asked: TVM's pool started with at most {running} in "
            f"this process; set {ENV_VAR} before the first load"
        )
    return f"{threads} (TVM's thread pool is one per process)"
