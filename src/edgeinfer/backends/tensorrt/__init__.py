"""The ``tensorrt`` backend: engines built (``build.py``), cached (``cache.py``, ``engine.py``) and
run with cuda-python buffers (``io.py``, ``cuda.py``)."""

from edgeinfer.backends.tensorrt.backend import TensorRtBackend

__all__ = ["TensorRtBackend"]
