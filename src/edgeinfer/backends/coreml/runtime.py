"""Whether Core ML can run here, importing coremltools quietly, and its errors in edgeinfer's terms.

Core ML prediction needs macOS and coremltools' native binding ``libcoremlpython`` (shipped in
the macOS wheels only). Everything else coremltools does, including reading a model's
specification, also works on Linux and Windows.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import logging
import platform
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgeinfer.backend import (
    Availability,
    BackendUnavailable,
    EdgeInferError,
    ModelError,
    ModelIncompatible,
    captured_native_stderr,
    installed_version,
    translate_errors,
    translated,
)
from edgeinfer.backends.coreml.errors import (
    CANNOT_PREDICT_HERE,
    LOAD_RULES,
    run_rules,
    unloaded_rules,
)

__all__ = [
    "HINT",
    "availability",
    "decide_availability",
    "import_coremltools",
    "load_error",
    "quietly",
    "read_spec",
    "run_error",
    "unloaded_error",
]

HINT = "pip install coremltools (what edgeinfer's 'coreml' extra installs)"
OFF_MAC_HINT = (
    "run this model on a Mac, or put an ONNX or TFLite variant of it beside it for this machine"
)
_log = logging.getLogger("edgeinfer")
_lock = threading.Lock()  # the warnings filters and the coremltools logger are process-wide


# --- availability -------------------------------------------------------------------------------
def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def decide_availability(
    system: str, machine: str, mac_version: str, tools: str | None, binding: bool
) -> Availability:
    """The availability for a machine described by these facts (pure, for tests).

    ``tools`` is the installed coremltools version (``None``: not installed), ``binding`` whether
    its native Core ML binding ``libcoremlpython`` is present.
    """
    if system != "Darwin":
        where = " ".join(part for part in (system or "an unknown OS", machine) if part)
        if tools is None:
            reason = (
                f"Core ML runs only on macOS; this is {where} (and coremltools is not installed)"
            )
        else:
            reason = (
                f"Core ML prediction runs only on macOS; this is {where}. coremltools {tools} is "
                "installed, so edgeinfer.backends.coreml.read_specs() still reads a model's inputs "
                "and outputs here"
            )
        return Availability(False, reason, OFF_MAC_HINT, tools)
    if tools is None:
        return Availability(False, "coremltools is not installed", HINT)
    if _version_tuple(mac_version) < (10, 13):
        return Availability(
            False,
            f"Core ML needs macOS 10.13 or later; this is macOS {mac_version or '(unknown)'}",
            "upgrade macOS",
            tools,
        )
    if not binding:
        return Availability(
            False,
            f"coremltools {tools} is installed without libcoremlpython, its binding to Core ML "
            f"(no macOS wheel for Python {platform.python_version()}?), so it cannot predict",
            "install a coremltools release with a macOS wheel for this Python: "
            "pip install --force-reinstall coremltools",
            tools,
        )
    return Availability(
        True, f"coremltools {tools} on macOS {mac_version} ({machine})", None, tools
    )


def _installed() -> tuple[str | None, bool]:
    """coremltools' version (``None`` when absent) and whether its binding is there; no import."""
    spec = importlib.util.find_spec("coremltools")
    if spec is None:
        return None, False
    found = installed_version("coremltools") or "(unknown version)"
    folders = spec.submodule_search_locations or ()
    binding = any(
        child.name.startswith("libcoremlpython")
        for folder in folders
        if Path(folder).is_dir()
        for child in Path(folder).iterdir()
    )
    return found, binding


@functools.lru_cache(maxsize=1)
def availability() -> Availability:
    """Whether Core ML can predict here. Cached; imports nothing; never raises."""
    try:
        tools, binding = _installed()
        mac_version = platform.mac_ver()[0] if platform.system() == "Darwin" else ""
        return decide_availability(
            platform.system(), platform.machine(), mac_version, tools, binding
        )
    except Exception as error:  # a broken installation must not break edgeinfer.backends()
        return Availability(False, f"cannot tell whether Core ML works here: {error}", HINT)


def mac_version() -> tuple[int, ...]:
    """This macOS's version as a tuple, ``()`` elsewhere."""
    return _version_tuple(platform.mac_ver()[0]) if platform.system() == "Darwin" else ()


# --- keeping coremltools quiet ------------------------------------------------------------------
class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)  # its DEBUG chatter ("Registering op ...") is dropped
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def quietly(what: str) -> Iterator[list[str]]:
    """Keep what coremltools says during the block from the user: native stderr, ``sys.stderr``,
    Python warnings and its ``coremltools`` logger. Yields a list that holds those lines when the
    block ends; they are also logged at DEBUG on the ``edgeinfer`` logger."""
    said: list[str] = []
    logger = logging.getLogger("coremltools")
    python_stderr = io.StringIO()
    native_lines: list[Callable[[], list[str]]] = []  # read once the native capture has ended
    caught: list[warnings.WarningMessage] = []
    with _lock:
        handlers, propagate = logger.handlers[:], logger.propagate
        logger.handlers, logger.propagate = [_Collect(said)], False
        try:
            with contextlib.ExitStack() as stack:
                native_lines.append(stack.enter_context(captured_native_stderr()).lines)
                stack.enter_context(contextlib.redirect_stderr(python_stderr))
                caught = stack.enter_context(warnings.catch_warnings(record=True))
                warnings.simplefilter("always")
                yield said
        finally:
            logger.handlers, logger.propagate = handlers, propagate
            said.extend(f"{w.category.__name__}: {w.message}" for w in caught)
            said.extend(line for line in python_stderr.getvalue().splitlines() if line.strip())
            for lines in native_lines:
                said.extend(lines())
            for line in said:
                _log.debug("coreml (%s): %s", what, line)


def import_coremltools(backend: str) -> Any:
    """``import coremltools`` with its import-time noise kept from the user (logged at DEBUG).

    Raises ``BackendUnavailable`` (with the cause chained) when it is missing or broken.
    """
    module = sys.modules.get("coremltools")
    if module is not None and not getattr(module.__spec__, "_initializing", False):
        return module  # already imported (a half-imported one is waited for below)
    if importlib.util.find_spec("coremltools") is None:
        raise BackendUnavailable(backend, "coremltools is not installed", HINT)
    try:
        with quietly("import coremltools"):
            return importlib.import_module("coremltools")
    except Exception as error:  # ImportError, a protobuf mismatch, OSError from a .so
        raise BackendUnavailable(
            backend, f"import coremltools failed: {type(error).__name__}: {error}", HINT
        ) from error


# --- errors -------------------------------------------------------------------------------------
def read_spec(ct: Any, path: Path) -> Any:
    """The model's protobuf specification. Raises ``ModelError`` for an unreadable model."""
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    # FileNotFoundError (no manifest), RuntimeError (a bad manifest), DecodeError (protobuf)
    with translate_errors(f"coremltools cannot read {path.name}", default=ModelError):
        spec = ct.utils.load_spec(str(path))
    if spec.WhichOneof("Type") is None:
        raise ModelError(f"{path.name} holds no Core ML model: its specification is empty")
    return spec


def load_error(error: Exception, path: Path, units: str) -> EdgeInferError:
    """The edgeinfer error for an exception raised by ``MLModel(path, compute_units=...)``."""
    message = str(error).strip()
    if CANNOT_PREDICT_HERE.matches(error, message):
        found = BackendUnavailable("coreml", f"coremltools cannot use Core ML here: {message}")
        found.__cause__ = error
        return found
    return translated(
        error, f"Core ML cannot load {path.name} with {units}", LOAD_RULES, ModelError
    )


def unloaded_error(
    model: Any, spec: Any, path: Path, units: str, said: list[str]
) -> EdgeInferError:
    """Why ``MLModel`` came back without its Core ML proxy (coremltools only warns, and would
    raise a bare ``Exception`` at the first ``predict``)."""
    heard = f" [coremltools said: {' | '.join(said)}]" if said else ""
    cause = getattr(model, "_framework_error", None)
    if cause is None:
        binding = getattr(sys.modules.get("coremltools.models.model"), "_MLModelProxy", None)
        if binding is None:
            return BackendUnavailable(
                "coreml", f"coremltools could not load its Core ML binding{heard}", HINT
            )
        newest = binding.maximum_supported_specification_version()
        return ModelIncompatible(
            f"{path.name} has Core ML specification version {spec.specificationVersion}; this "
            f"macOS reads up to {newest}: it needs a newer macOS{heard}"
        )
    what = f"Core ML cannot load {path.name} with {units}{heard}"
    return translated(cause, what, unloaded_rules(units), ModelIncompatible)


def run_error(error: Exception, path: Path, units: str) -> EdgeInferError:
    """The edgeinfer error for an exception raised by ``MLModel.predict``."""
    message = str(error).strip()
    if CANNOT_PREDICT_HERE.matches(error, message):
        what = "Core ML cannot make predictions in this process"
        return translated(error, what, (CANNOT_PREDICT_HERE,))
    return translated(error, f"Core ML failed to run {path.name} ({units})", run_rules(units))
