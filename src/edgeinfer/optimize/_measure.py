"""Measuring variants through edgeinfer itself: each file opened with ``edgeinfer.load`` on the
target backend and device (no fallback: a variant that cannot run there is a failed variant,
not one measured elsewhere), its outputs on the held-back samples, and its latency.

Latency: every model's recorder is reset, then short blocks of calls of each model take turns
until the time is spent (and each has ``MIN_CALLS``), so that the machine's drift (other
processes, clocks, heat) hits every variant alike; the p50 of each model's own ``Model.stats()``
is its figure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgeinfer._model.model import Model
from edgeinfer._model.stats import LatencyStats

__all__ = ["MIN_CALLS", "open_variant", "outputs_of", "time_interleaved"]

MIN_CALLS = 10
_BLOCK_SECONDS = 0.05  # one block of calls of one model, between turns

Feeds = Mapping[str, np.ndarray]


def open_variant(
    path: Path,
    backend: str | None,
    device: str,
    threads: int | None,
    warmup_inputs: Feeds | None,
) -> Model:
    """``path`` opened by edgeinfer on ``backend``/``device``, warmed up on ``warmup_inputs``."""
    from edgeinfer._model.load import load

    return load(
        path,
        device,
        backend=backend,
        fallback=False,
        threads=threads,
        warmup=1 if warmup_inputs is not None else 0,
        warmup_inputs=dict(warmup_inputs) if warmup_inputs is not None else None,
    )


def outputs_of(model: Model, samples: Sequence[Feeds]) -> list[dict[str, np.ndarray]]:
    return [{k: np.array(v) for k, v in model.run(dict(feed)).items()} for feed in samples]


def time_interleaved(
    models: Mapping[str, Model], feeds: Feeds, seconds: float
) -> dict[str, LatencyStats]:
    """Each model's latency on ``feeds``, from turns of short blocks of calls over ``seconds``."""
    for model in models.values():
        model.run(dict(feeds))  # one untimed call each, after whatever ran before
        model.reset_stats()
    block = dict.fromkeys(models, 1)
    deadline = time.perf_counter() + seconds
    while True:
        for name, model in models.items():
            started = time.perf_counter()
            for _ in range(block[name]):
                model.run(feeds)
            spent = time.perf_counter() - started
            block[name] = max(1, min(64, int(block[name] * _BLOCK_SECONDS / max(spent, 1e-6))))
        if time.perf_counter() >= deadline and all(
            m.stats().count >= MIN_CALLS for m in models.values()
        ):
            return {name: model.stats() for name, model in models.items()}
