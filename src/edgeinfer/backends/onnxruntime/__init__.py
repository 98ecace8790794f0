"""The ``onnxruntime`` backend: see ``backend.py``; ``config.py`` maps devices and options to a
session, ``profile.py`` reads onnxruntime's per-node profiler."""

from edgeinfer.backends.onnxruntime.backend import OnnxRuntimeBackend

__all__ = ["OnnxRuntimeBackend"]
