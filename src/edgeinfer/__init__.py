"""edgeinfer: run ML models on edge devices through one interface.

``model = edgeinfer.load("mobilenet.onnx")`` picks the best backend this machine really has, says
which and why (``model.explain()``), and falls back to the next candidate when one fails, at load
and at run time. Importing edgeinfer imports no runtime: each backend imports its own when a
model is opened.

Public names load on first use (PEP 562), so ``import edgeinfer`` stays cheap for programs that
only import it. The one list of them is ``__init__.pyi`` beside this file, which type checkers
read too (Scientific Python's SPEC 1): a public name is added there, and only there.
"""

from __future__ import annotations

import importlib
from typing import Any

# The subpackage edgeinfer.backends is imported now (its __init__ imports nothing) so that
# importing a backend module later can never rebind ``edgeinfer.backends``: the name stays the
# function below.
from edgeinfer import backends as _backends_package  # noqa: F401
from edgeinfer._version import __version__ as __version__

_public: dict[str, tuple[str, str]] | None = None  # name -> (module, attribute in it)


def _public_names() -> dict[str, tuple[str, str]]:
    """Read ``__init__.pyi``: each ``from M import A as B`` makes ``B`` public."""
    global _public
    if _public is None:
        import ast
        from pathlib import Path

        tree = ast.parse(Path(__file__).with_name("__init__.pyi").read_text(encoding="utf-8"))
        found: dict[str, tuple[str, str]] = {"backends": (__name__, "backends")}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):  # "from . import x" names a submodule
                module = __name__ if node.level else str(node.module)
                for alias in node.names:
                    found[alias.asname or alias.name] = (module, alias.name)
        _public = found
    return _public


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return sorted(_public_names())
    where = _public_names().get(name)
    if where is None or name == "backends":
        raise AttributeError(f"module 'edgeinfer' has no attribute {name!r}")
    module, attribute = where
    if module == __name__:  # a submodule: edgeinfer.backend, edgeinfer.testing...
        value = importlib.import_module(f"{__name__}.{attribute}")
    else:
        value = getattr(importlib.import_module(module), attribute)
        if isinstance(value, type):
            value.__module__ = __name__  # tracebacks and reprs read edgeinfer.X
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(_public_names()) | {"__version__"})


def backends() -> tuple[Any, ...]:
    """Every registered backend: name, available or not and why, install hint, formats, devices."""
    from edgeinfer._planning.registry import backend_infos

    return backend_infos()
