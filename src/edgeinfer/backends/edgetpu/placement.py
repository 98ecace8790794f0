"""An Edge TPU model's placement read from the compiled file, without a device or libedgetpu.

``edgetpu_compiler`` replaces each part of the graph it maps with one ``edgetpu-custom-op`` node
(the compiled segment: it runs on the Edge TPU) and leaves every operation it cannot map as an
ordinary TFLite operator, which runs on the CPU. The interpreter lists the file's nodes as soon as
it is created (``allocate_tensors`` would fail here: without the delegate ``edgetpu-custom-op`` is
an unresolved custom op), so the CPU operators are named and counted exactly. How many original
operations a segment holds is not in the file (the compiler prints it in its log only), so the
operation total and the fraction on the TPU stay ``None``.
``read_placement(path).table_lines()`` prints it as a table.
"""

from __future__ import annotations

from pathlib import Path

from edgeinfer.backend import ModelError, Placement, translate_errors
from edgeinfer.backends.litert import runtime as runtime_lookup
from edgeinfer.backends.litert.placement import nodes_of, placement_of

__all__ = ["read_placement"]


def read_placement(path: str | Path, device: str = "edgetpu") -> Placement:
    """The placement of the Edge TPU model at ``path`` as compiled: its ``edgetpu-custom-op``
    segments on ``device``, its other operators on the CPU. Needs a TFLite interpreter
    (``ai_edge_litert`` or ``tflite_runtime``), not the Edge TPU."""
    path = Path(path)
    runtime, interpreter_class, _ = runtime_lookup.load_runtime("edgetpu")
    resolver = runtime_lookup.op_resolver(interpreter_class, "builtin_without_default_delegates")
    with translate_errors(f"edgetpu cannot read {path.name}", default=ModelError):
        # Created, never allocated: the node list is there, no kernel is prepared.
        interpreter = interpreter_class(
            model_content=path.read_bytes(), experimental_op_resolver_type=resolver
        )
        nodes = nodes_of(interpreter)
        subgraphs = int(interpreter.num_subgraphs())
    source = f"{path.name}: the compiled file's operators, read by {runtime.label} (no device)"
    return placement_of(
        "edgetpu", device, nodes, delegate=None, source=source, subgraphs=subgraphs,
        kernels="CPU (the interpreter's kernels, or XNNPACK where it applies)",
    )  # fmt: skip
