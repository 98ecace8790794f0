"""The ``mnn`` backend: see ``backend.py``; ``config.py`` maps device, threads and precision to
MNN's session configuration, ``session.py`` moves arrays in and out of MNN tensors."""

from edgeinfer.backends.mnn.backend import MnnBackend

__all__ = ["MnnBackend"]
