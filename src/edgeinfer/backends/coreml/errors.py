"""coremltools' and Core ML's errors -> edgeinfer's, as data for ``edgeinfer.backend``'s
``translated``. coremltools raises plain ``Exception``/``RuntimeError``/``ValueError`` with
Core ML's words in the message, so the messages decide.
"""

from __future__ import annotations

from edgeinfer.backend import DeviceError, ErrorRule, InferenceError, ModelIncompatible

__all__ = [
    "CANNOT_PREDICT_HERE",
    "LOAD_RULES",
    "NEURAL_ENGINE",
    "run_rules",
    "unloaded_rules",
]

#: What coremltools raises, as a bare ``Exception``, when this process cannot use Core ML at all
#: (not macOS, no ``libcoremlpython``, too old a macOS). The error class is ``InferenceError``
#: when a call meets it; at load it means ``BackendUnavailable``.
CANNOT_PREDICT_HERE = ErrorRule(
    InferenceError,
    messages=(
        "only supported on macOS",
        "Unable to load CoreML.framework",
        "is not supported in macOS version older",
    ),
)
#: ``ValueError: coremltools.ComputeUnit.CPU_AND_NE is only available on macOS >= 13.0``.
NEURAL_ENGINE = ErrorRule(DeviceError, messages=("CPU_AND_NE",))
#: ``MLModel(path, compute_units=...)``; default ``ModelError``.
LOAD_RULES = (NEURAL_ENGINE,)

# Words in a Core ML failure that point at an accelerator rather than at the model.
_ACCELERATOR = ErrorRule(
    DeviceError, messages=("GPU", "Metal", "ANE", "Neural Engine", "E5RT", "espresso")
)
_COMPILING = ErrorRule(ModelIncompatible, messages=("compil", "Compil", "COMPIL"))


def run_rules(units: str) -> tuple[ErrorRule, ...]:
    """``MLModel.predict``; default ``InferenceError``. Only a model on an accelerator can blame
    the accelerator: on ``CPU_ONLY`` a message that names the GPU is still the model's failure."""
    return () if units == "CPU_ONLY" else (_ACCELERATOR,)


def unloaded_rules(units: str) -> tuple[ErrorRule, ...]:
    """The framework error of a model Core ML did not load; default ``ModelIncompatible``. On an
    accelerator, anything but a compile failure is the accelerator's."""
    return () if units == "CPU_ONLY" else (_COMPILING, ErrorRule(DeviceError))
