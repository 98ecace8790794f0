"""The ``openvino`` backend: ``config.py`` maps devices, threads and precision to
``compile_model``."""

from edgeinfer.backends.openvino.backend import OpenVinoBackend

__all__ = ["OpenVinoBackend"]
