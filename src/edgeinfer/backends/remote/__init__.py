"""The ``remote`` backend: see ``backend.py``; ``config.py`` holds its options and privacy rules,
``client.py`` the wire (tritonclient), ``errors.py`` HTTP and network failures -> errors,
``specs.py`` TensorSpecs from a model's metadata."""

from edgeinfer.backends.remote.backend import RemoteBackend

__all__ = ["RemoteBackend"]
