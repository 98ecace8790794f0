"""Per-operator times from ONNX Runtime's profiler (``SessionOptions.enable_profiling``).

Profiling is set when a session is created, so a separate session with the same providers and
options runs the calls; onnxruntime writes its trace (already Chrome trace events) to a temporary
folder, which is read and removed. Node events are ``cat == "Node"`` named ``<node>_kernel_time``
with ``args.op_name`` and ``args.provider``; ``model_run`` events delimit the calls. Where the
installed onnxruntime records it (``session.record_ep_graph_assignment_info``), the same session
also says which execution provider each node of the partitioned graph was assigned to.
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

__all__ = ["RECORD_ASSIGNMENT", "assignment", "can_record", "operator_events", "profiled"]

#: The session config entry that makes onnxruntime keep each node's execution provider
#: (``InferenceSession.get_provider_graph_assignment_info``; onnxruntime 1.24.1 and 1.32.0 have it).
RECORD_ASSIGNMENT = "session.record_ep_graph_assignment_info"

Assigned = list[tuple[str, str]]  # (execution provider, op_type), one per node


def can_record(ort: Any) -> bool:
    """Whether this onnxruntime reports each node's execution provider without running."""
    return hasattr(ort.InferenceSession, "get_provider_graph_assignment_info")


def assignment(session: Any) -> Assigned | None:
    """Each node's execution provider, from a session created with ``RECORD_ASSIGNMENT``;
    ``None`` when the session did not record it or this onnxruntime cannot."""
    try:
        subgraphs = session.get_provider_graph_assignment_info()
    except Exception:  # no such method, or a session created without the config entry
        return None
    return [(str(sub.ep_name), str(node.op_type)) for sub in subgraphs for node in sub.get_nodes()]


def profiled(
    path: Path,
    providers: list[tuple[str, dict[str, str]]],
    options: OpenOptions,
    feeds: Mapping[str, np.ndarray] | None,
    runs: int,
) -> tuple[list[OperatorEvent], Assigned | None]:
    """``runs`` calls of ``feeds`` on a profiling session (none without feeds), and the node
    assignment that session recorded where this onnxruntime records one."""
    import onnxruntime as ort

    record = can_record(ort)
    if feeds is None and not record:
        return [], None  # nothing to run and nothing to record
    with tempfile.TemporaryDirectory(prefix="edgeinfer-profile-") as folder:
        settings = session_options(ort, options.threads, options.extra)
        if record:
            settings.add_session_config_entry(RECORD_ASSIGNMENT, "1")
        if feeds is not None:
            settings.enable_profiling = True
            settings.profile_file_prefix = str(Path(folder) / "onnxruntime")
        session = ort.InferenceSession(str(path), sess_options=settings, providers=providers)
        assigned = assignment(session) if record else None
        if feeds is None:
            return [], assigned
        for _ in range(runs):
            session.run(None, dict(feeds))
        trace = Path(session.end_profiling())
        records: list[dict[str, Any]] = json.loads(trace.read_text())
    return _events(records), assigned


def _events(records: list[dict[str, Any]]) -> list[OperatorEvent]:
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


def operator_events(
    path: Path,
    providers: list[tuple[str, dict[str, str]]],
    options: OpenOptions,
    feeds: Mapping[str, np.ndarray],
    runs: int,
) -> list[OperatorEvent]:
    return profiled(path, providers, options, feeds, runs)[0]
