"""NCNN's failures -> edgeinfer's errors. NCNN reports through return codes and lines it writes
to stderr (``find_blob_index_by_name x failed``, ``layer X not exists or registered``), which the
backend captures and matches here."""

from __future__ import annotations

from edgeinfer.backend import ErrorRule, InvalidInput, ModelIncompatible

__all__ = ["LOAD_RULES", "RUN_RULES"]

LOAD_RULES = (
    ErrorRule(ModelIncompatible, messages=("not exists or registered", "layer_to_index failed")),
)
RUN_RULES = (ErrorRule(InvalidInput, messages=("shape", "dims", "mismatch")),)
