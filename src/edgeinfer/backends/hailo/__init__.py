"""The ``hailo`` backend: see ``backend.py``."""

from edgeinfer.backends.hailo.backend import HailoBackend

__all__ = ["HailoBackend"]
