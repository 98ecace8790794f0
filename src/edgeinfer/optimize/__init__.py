"""``edgeinfer.optimize``: int8 and fp16 variants of a model, with their size, speed and accuracy
measured on the target backend, and a folder ``load()`` serves (the chosen variant first, the
float original as its fallback). See docs/optimize.md.

::

    report = edgeinfer.optimize("mobilenet.onnx", "int8", calibration="images/")
    print(report)                      # every variant: size, p50, accuracy drop, verdict
    model = edgeinfer.load(report.out)  # the chosen variant, the float original behind it

``python -m edgeinfer.optimize MODEL --precision int8 --calibration DIR`` does the same from a
shell. Importing this package imports no runtime: the recipes import theirs when they run.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from edgeinfer.optimize._accuracy import Accuracy
from edgeinfer.optimize._api import DEFAULT_MAX_ACCURACY_DROP, PRECISIONS, optimize
from edgeinfer.optimize._calibration import CalibrationSummary
from edgeinfer.optimize._images import ImagePreprocessing
from edgeinfer.optimize._report import (
    OptimizationReport,
    SkippedRecipe,
    VariantResult,
    Verdict,
)

__all__ = [
    "DEFAULT_MAX_ACCURACY_DROP",
    "PRECISIONS",
    "Accuracy",
    "CalibrationSummary",
    "ImagePreprocessing",
    "OptimizationReport",
    "SkippedRecipe",
    "VariantResult",
    "Verdict",
    "optimize",
]


# The function edgeinfer.optimize and this package share a name. `edgeinfer.optimize` is the
# function when it is first reached as a public name (edgeinfer/__init__.py loads it lazily from
# __init__.pyi), but the package module once anything runs `import edgeinfer.optimize` first:
# the import system then binds the submodule to the parent's attribute, and the lazy loader is
# never asked. So that `edgeinfer.optimize(...)` works in either order, this module is made
# callable: its class becomes a ModuleType subclass whose __call__ forwards to the function.
class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> OptimizationReport:
        return optimize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
