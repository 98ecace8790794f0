"""Per-operator times from ONNX Runtime's profiler (``SessionOptions.enable_profiling``).

Profiling is set when a session is created, so a separate session with the same providers and
options runs the calls; onnxruntime writes its trace (already Chrome trace events) to a temporary
folder, which is read and removed. Node events are ``cat == "Node"`` named ``<node>_kernel_time``
with ``args.op_name`` and ``args.provider``; ``model_run`` events delimit the calls.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer._kit.contract import OpenOptions
from edgeinfer._model.profile import OperatorEvent
from edgeinfer.backends.onnxruntime.config import session_options

__all__ = ["operator_events"]


def operator_events(
    path: Path,
    providers: list[tuple[str, dict[str, str]]],
    options: OpenOptions,
    feeds: Mapping[str, np.ndarray],
    runs: int,
) -> list[OperatorEvent]:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgeinfer-profile-") as folder:
        settings = session_options(ort, options.threads, options.extra)
        settings.enable_profiling = True
        settings.profile_file_prefix = str(Path(folder) / "onnxruntime")
        session = ort.InferenceSession(str(path), sess_options=settings, providers=providers)
        for _ in range(runs):
            session.run(None, dict(feeds))
        trace = Path(session.end_profiling())
        records: list[dict[str, Any]] = json.loads(trace.read_text())
    starts = sorted(r["ts"] for r in records if r.get("name") == "model_run")
    events = []
    for record in records:
        if record.get("cat") != "Node" or not str(record.get("name", "")).endswith("_kernel_time"):
            continue
        args = record.get("args", {})
        run = sum(1 for start in starts if start <= record["ts"]) - 1
        events.append(
            OperatorEvent(
                name=str(record["name"]).removesuffix("_kernel_time"),
                op_type=str(args.get("op_name", "")),
                start=float(record["ts"]),
                duration=float(record["dur"]),
                run=max(run, 0),
                device=str(args.get("provider", "")),
            )
        )
    return events
