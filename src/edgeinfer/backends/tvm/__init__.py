"""The ``tvm`` backend: see ``backend.py``; ``compiler.py`` turns ONNX into a module (tuned or
not), ``targets.py`` picks and checks targets, ``sidecar.py`` and ``cache.py`` say what a module
is and where it is kept, ``progress.py`` draws tuning."""

from edgeinfer.backends.tvm.backend import TvmBackend

__all__ = ["TvmBackend"]
