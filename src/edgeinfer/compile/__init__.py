"""``edgeinfer.compile``: compile a model ahead of time (today: Apache TVM), so a device loads a
ready module instead of compiling at start-up. See docs/tvm.md.

::

    path = edgeinfer.compile("mobilenet.onnx", "tvm", options={"tune": 64})
    model = edgeinfer.load(path)        # mobilenet.tvm.so, with mobilenet.tvm.json beside it

``python -m edgeinfer.compile MODEL --backend tvm`` does the same from a shell.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from edgeinfer.compile._api import compile

__all__ = ["compile"]


# Like edgeinfer.optimize: the function edgeinfer.compile and this package share a name, so the
# package module is made callable and `edgeinfer.compile(...)` works whichever is reached first.
class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return compile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
