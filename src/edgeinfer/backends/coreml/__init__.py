"""The ``coreml`` backend: ``specs.py`` reads inputs and outputs from the model description on any
platform, ``runtime.py`` imports coremltools quietly and maps its errors."""

from edgeinfer.backends.coreml.backend import (
    COMPUTE_UNITS,
    CoreMlBackend,
    compute_units_for,
    read_specs,
)

__all__ = ["COMPUTE_UNITS", "CoreMlBackend", "compute_units_for", "read_specs"]
