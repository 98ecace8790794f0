"""The sidecar of a compiled TVM module: the small JSON file beside its ``.so``.

A ``.so`` exported by TVM holds code, not a description: the sidecar records what ``load()``
needs before running it (input and output names, shapes and dtypes, in the model's order) and
what decides whether this machine may run it at all (the TVM version that built it, the target,
the host it was built on). ``mobilenet.tvm.so`` has ``mobilenet.tvm.json`` beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backend import ModelError, TensorSpec, write_cached

__all__ = ["FORMAT_TAG", "Sidecar", "read_sidecar", "sidecar_path", "write_sidecar"]

FORMAT_TAG = "edgeinfer-tvm-module"  # what _planning/formats.py sniffs for
FORMAT_VERSION = 1


def sidecar_path(module: Path) -> Path:
    """``model.tvm.so`` -> ``model.tvm.json``."""
    return module.with_suffix(".json")


@dataclass(frozen=True)
class Sidecar:
    """What a compiled module is. ``target``: the TVM target as a dict (``{"kind": "llvm",
    "mcpu": "cortex-a72"}``). ``host_arch``: the CPU architecture of the machine (or of the
    target triple) it was built for. ``features``: the CPU features its code may use (empty for
    GPU targets). ``compile_seconds`` / ``tune_seconds`` / ``tune_trials``: how it was made."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    tvm_version: str
    target: dict[str, Any]
    host_arch: str
    features: tuple[str, ...] = ()
    source: str = ""
    source_sha256: str = ""
    compile_seconds: float = 0.0
    tune_trials: int = 0
    tune_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _spec_to_json(spec: TensorSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "shape": None if spec.shape is None else list(spec.shape),
        "dtype": spec.dtype.name,
    }


def _spec_from_json(item: Any, where: str) -> TensorSpec:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ValueError(f"{where}: each tensor needs a 'name'")
    shape = item.get("shape")
    if shape is not None and not (
        isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape)
    ):
        raise ValueError(f"{where}: {item['name']!r} has a bad shape {shape!r}")
    return TensorSpec(
        item["name"], None if shape is None else tuple(shape), np.dtype(item["dtype"])
    )


def write_sidecar(module: Path, sidecar: Sidecar) -> Path:
    """Write ``sidecar`` beside ``module`` (atomically); returns its path."""
    document = {
        "format": FORMAT_TAG,
        "format_version": FORMAT_VERSION,
        "tvm_version": sidecar.tvm_version,
        "target": sidecar.target,
        "host_arch": sidecar.host_arch,
        "features": list(sidecar.features),
        "inputs": [_spec_to_json(s) for s in sidecar.inputs],
        "outputs": [_spec_to_json(s) for s in sidecar.outputs],
        "source": sidecar.source,
        "source_sha256": sidecar.source_sha256,
        "compile_seconds": round(sidecar.compile_seconds, 3),
        "tune_trials": sidecar.tune_trials,
        "tune_seconds": round(sidecar.tune_seconds, 3),
        "extra": sidecar.extra,
    }
    path = sidecar_path(module)
    write_cached(path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path


def read_sidecar(module: Path) -> Sidecar:
    """The sidecar of ``module``. Raises ``ModelError`` naming what is missing or malformed."""
    path = sidecar_path(module)
    how = (
        "compile the model with 'python -m edgeinfer.compile MODEL.onnx --backend tvm', which "
        "writes both files, or load the .onnx with backend='tvm'"
    )
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as error:
        raise ModelError(
            f"{module.name} has no sidecar {path.name} beside it: edgeinfer needs it to know the "
            f"module's inputs, outputs and target; {how}"
        ) from error
    except (OSError, ValueError) as error:
        raise ModelError(
            f"cannot read {path.name}, the sidecar of {module.name}: {error}"
        ) from error
    try:
        if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
            raise ValueError(f"it is not an edgeinfer TVM sidecar (no 'format': '{FORMAT_TAG}')")
        if document.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"format_version {document.get('format_version')!r}; this edgeinfer reads "
                f"{FORMAT_VERSION}"
            )
        target = document["target"]
        if not isinstance(target, dict) or not isinstance(target.get("kind"), str):
            raise ValueError(f"'target' must be a TVM target dict with a 'kind', got {target!r}")
        return Sidecar(
            inputs=tuple(_spec_from_json(i, "inputs") for i in document["inputs"]),
            outputs=tuple(_spec_from_json(o, "outputs") for o in document["outputs"]),
            tvm_version=str(document["tvm_version"]),
            target=target,
            host_arch=str(document.get("host_arch", "")),
            features=tuple(str(f) for f in document.get("features", ())),
            source=str(document.get("source", "")),
            source_sha256=str(document.get("source_sha256", "")),
            compile_seconds=float(document.get("compile_seconds", 0.0)),
            tune_trials=int(document.get("tune_trials", 0)),
            tune_seconds=float(document.get("tune_seconds", 0.0)),
            extra=dict(document.get("extra", {})),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(
            f"{path.name}, the sidecar of {module.name}, is malformed: {error}; {how}"
        ) from error
