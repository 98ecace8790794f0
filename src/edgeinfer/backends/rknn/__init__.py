"""The ``rknn`` backend: see ``backend.py``; ``probe.py`` says whether this board's Rockchip NPU
can be used and why not, ``container.py`` reads a ``.rknn`` file's inputs and outputs."""

from edgeinfer.backends.rknn.backend import RknnBackend

__all__ = ["RknnBackend"]
