"""The ``ncnn`` backend: see ``backend.py``; ``param.py`` reads a ``.param`` file's inputs and
outputs, ``config.py`` maps precision and device to NCNN's options."""

from edgeinfer.backends.ncnn.backend import NcnnBackend

__all__ = ["NcnnBackend"]
