"""MNN's failures -> edgeinfer's errors: pymnn raises a bare ``Exception`` with its function's
name in the message, and the C++ side reports through return codes and printed lines."""

from __future__ import annotations

from edgeinfer.backend import ErrorRule, ModelError, ModelIncompatible

__all__ = ["OPEN_RULES"]

OPEN_RULES = (
    ErrorRule(ModelError, messages=("createFromFile failed", "Interpreter_new")),
    ErrorRule(ModelIncompatible, messages=("createSession failed", "Don't support type")),
)
