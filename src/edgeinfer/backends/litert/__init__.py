"""The ``litert`` backend (TFLite): ``runtime.py`` finds the interpreter package, ``pool.py``
shares interpreters between threads, ``io.py`` maps tensors and quantisation."""

from edgeinfer.backends.litert.backend import LiteRtBackend

__all__ = ["LiteRtBackend"]
