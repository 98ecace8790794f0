"""Reference workloads: networks edgeinfer builds itself, so a benchmark needs no model and no
download.

::

    from edgeinfer.bench._workloads import WORKLOADS, ensure, reference_inputs, variants
    for fmt, precision in variants("ds_cnn"):
        path = ensure("ds_cnn", fmt, precision)       # built on first use, then cached
        inputs = reference_inputs("ds_cnn", fmt)      # same values in NCHW and NHWC

Importing this package imports numpy only; onnx, onnxruntime and ai_edge_litert are imported
when a file is built. Weights are random (He-initialised from a fixed seed): the workloads time
a device, they do not classify anything.
"""

from __future__ import annotations

from pathlib import Path

from edgeinfer.bench._workloads.builders import build, missing
from edgeinfer.bench._workloads.cache import BUILDER_VERSION, build_once, workload_path
from edgeinfer.bench._workloads.catalog import (
    PRECISIONS,
    WORKLOADS,
    Workload,
    check,
    reference_inputs,
)

__all__ = [
    "BUILDER_VERSION",
    "WORKLOADS",
    "Workload",
    "ensure",
    "reference_inputs",
    "variants",
]


def variants(name: str) -> list[tuple[str, str]]:
    """The (format, precision) pairs of workload ``name`` this machine can build now."""
    check(name, "onnx")
    return [
        (fmt, precision)
        for fmt, precisions in PRECISIONS.items()
        for precision in precisions
        if not missing(fmt, precision)
    ]


def ensure(name: str, fmt: str, precision: str = "fp32", *, cache_dir: Path | None = None) -> Path:
    """The path of one variant of workload ``name``, built into the cache on first use.

    ``cache_dir`` defaults to edgeinfer's cache folder; the file is
    ``<cache_dir>/workloads/<name>-<precision>-v<BUILDER_VERSION>.<fmt>``. Raises
    ConfigurationError for an unknown name, format or precision, and BackendUnavailable (an
    ImportError, with a pip hint) when a package needed to build the file is missing.
    """
    check(name, fmt, precision)
    path = workload_path(name, fmt, precision, cache_dir)
    return build_once(path, lambda: build(name, fmt, precision))
