"""The ``edgetpu`` backend: LiteRT with the libedgetpu delegate; ``probe.py`` says why a delegate
cannot load."""

from edgeinfer.backends.edgetpu.backend import EdgeTpuBackend

__all__ = ["EdgeTpuBackend"]
