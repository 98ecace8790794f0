"""The ``executorch`` backend: see ``backend.py``; ``specs.py`` reads a method's metadata."""

from edgeinfer.backends.executorch.backend import ExecuTorchBackend

__all__ = ["ExecuTorchBackend"]
