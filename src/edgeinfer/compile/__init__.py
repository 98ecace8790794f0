"""``python -m edgeinfer.compile`` and ``edgeinfer.compile_model``: compile a model ahead of time
(today: Apache TVM), so a device loads a ready module instead of compiling at start-up. See
docs/tvm.md.

::

    path = edgeinfer.compile_model("mobilenet.onnx", "tvm", options={"tune": 64})
    model = edgeinfer.load(path)        # mobilenet.tvm.so, with mobilenet.tvm.json beside it

The function is not called ``compile``: ``from edgeinfer import *`` would shadow the builtin.
"""

from __future__ import annotations

from edgeinfer.compile._api import compile_model

__all__ = ["compile_model"]
