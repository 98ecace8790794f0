"""The ``edgetpu`` backend: LiteRT with the libedgetpu delegate. ``library.py`` finds libedgetpu,
``diagnosis.py`` says why a delegate cannot load, ``pairing.py`` whether the libedgetpu build fits
the interpreter, ``first_invoke.py`` runs the first invoke in a child process."""

from edgeinfer.backends.edgetpu.backend import EdgeTpuBackend

__all__ = ["EdgeTpuBackend"]
