"""A third-party backend as a plugin package would write it, against the public kit only.

Its "runtime" is numpy and its format a ``.npz`` holding ``weight`` and ``bias`` of one linear
layer (``y = x @ weight + bias``): a real runtime of a real (tiny) format, so the registry, the
format registry and ``edgeinfer.testing.BackendContract`` are exercised end to end the way a
plugin meets them. ``BrokenNpzBackend`` breaks the contract on purpose (it hands out its own
output buffer, which the next call overwrites), for the test that the suite catches it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgeinfer.backend import (
    Availability,
    Backend,
    DeviceRequest,
    HeldSpecs,
    InferenceError,
    ModelError,
    OpenOptions,
    TensorSpec,
    check_options,
    translate_errors,
)

FORMAT = "npz-linear"


def sniff(head: bytes, path: Path) -> bool:
    """A zip (``.npz``) whose members are ``weight.npy`` and ``bias.npy``."""
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist()) == {"weight.npy", "bias.npy"}
    except zipfile.BadZipFile:
        return False


def build(path: Path, inputs: int = 4, outputs: int = 3, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((inputs, outputs)).astype(np.float32)
    np.savez(path, weight=weight, bias=np.arange(outputs, dtype=np.float32))
    return path


class NpzBackend(HeldSpecs, Backend):
    name: ClassVar[str] = "npz"
    formats: ClassVar[tuple[str, ...]] = (FORMAT,)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self._weight: np.ndarray | None = weight
        self._bias = bias
        self._inputs = (TensorSpec("x", (None, weight.shape[0]), np.dtype(np.float32)),)
        self._outputs = (TensorSpec("y", (None, weight.shape[1]), np.dtype(np.float32)),)
        self._device = "cpu"

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, f"numpy {np.__version__} runs it", version=np.__version__)

    @classmethod
    def open(cls, path: Path, device: DeviceRequest, options: OpenOptions) -> NpzBackend:
        check_options(cls.name, options.extra, ())
        what = f"npz cannot read {path.name}"
        with translate_errors(what, default=ModelError), np.load(path) as data:
            weight, bias = data["weight"], data["bias"]
        if weight.ndim != 2 or bias.shape != (weight.shape[1],):
            raise ModelError(f"{path.name}: weight {weight.shape} and bias {bias.shape} disagree")
        return cls(weight.astype(np.float32), bias.astype(np.float32))

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        weight = self._weight
        if weight is None:
            raise InferenceError("the npz model is closed")
        return {"y": feeds["x"] @ weight + self._bias}

    def close(self) -> None:
        self._weight = None


class BrokenNpzBackend(NpzBackend):
    """Returns one buffer it reuses: the caller's result changes on the next call."""

    name: ClassVar[str] = "npz-broken"

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = super().run(feeds)["y"]
        buffer = getattr(self, "_buffer", None)
        if buffer is None or buffer.shape != result.shape:
            buffer = self._buffer = np.empty_like(result)
        buffer[...] = result
        return {"y": buffer}
