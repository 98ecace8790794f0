"""The Edge TPU's first invoke, run once in a child process before this process runs it.

A libedgetpu built for another TensorFlow Lite than the interpreter's segfaults (see
``pairing.py``), and a segfault in ``load_delegate``, ``allocate_tensors`` or ``invoke`` takes the
user's whole process with it. So before this process loads the delegate, a child process does
exactly what the backend will do (load the delegate from the same library with the same options,
create the interpreter from the same file, allocate, set zero inputs, invoke once, release) and
reports how far it got. A child that dies (signal, abort) or hangs means: do not do this here.

The child is a fresh interpreter (``sys.executable -c``, no multiprocessing: nothing of the
user's ``__main__`` is re-run) that imports only the runtime and numpy, with this process's
``sys.path``. The outcome is cached for this process per (library, runtime module): what it tests
is that pairing (a libedgetpu built for another TensorFlow Lite fails with any model), and a
second check could not run anyway once this process holds the Edge TPU (one process at a time).
A polite failure (the runtime raised: device busy, a broken file) is not cached.

Cost, paid once per process: a Python start, the runtime's import, the delegate's load and the
model's first invoke (on the Edge TPU that uploads the model's parameters, which this process
then does again) plus, for a USB Accelerator seen for the first time, libedgetpu's firmware
upload. Measured here (2-core x86 VM, a stand-in delegate library): 0.1 to 0.2 s, for a small
CNN and MobileNetV2 alike; not measured on a board (on a Raspberry Pi 4 expect several times
that: starting Python and importing the runtime dominate).
``options={"edgetpu": {"first_invoke_check": False}}`` skips it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RAISED", "Outcome", "checked", "clear_cache", "run_first_invoke"]

RAISED = 3  # the child's exit status when the runtime raised (a polite failure, not a crash)
TIMEOUT_S = 120.0

_CHILD = r"""
import importlib, json, sys
args = json.loads(sys.argv[1])
sys.path[:] = args["path"]
def stage(name):
    sys.stdout.write(name + "\n")
    sys.stdout.flush()
try:
    stage("import")
    import numpy as np
    runtime = importlib.import_module(args["module"])
    stage("load_delegate")
    delegate = runtime.load_delegate(args["library"], args["options"])
    stage("interpreter")
    interpreter = runtime.Interpreter(
        model_path=args["model"], experimental_delegates=[delegate], num_threads=1
    )
    stage("allocate_tensors")
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    stage("invoke")
    interpreter.invoke()
    stage("release")
    del interpreter, delegate
except Exception as error:
    stage("raised " + json.dumps({"type": type(error).__name__, "message": str(error)}))
    sys.exit(args["raised"])
stage("ok")
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the child's first invoke went. ``crashed``: it died or hung (never do it here);
    ``ok``: it completed; neither: the runtime raised (this process will raise the same, politely,
    or the device was only busy), which is not cached."""

    ok: bool
    crashed: bool
    summary: str
    stage: str
    seconds: float


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    if code >= 0xC0000000:  # a Windows NTSTATUS, e.g. 0xC0000005 (access violation)
        return f"exit code {code:#010X}"
    return f"exit code {code}"


def run_first_invoke(
    library: str,
    model: Path,
    module: str,
    options: dict[str, str],
    *,
    timeout: float = TIMEOUT_S,
    python: str | None = None,
) -> Outcome:
    """Run the first invoke of ``model`` with the ``library`` delegate in a child process."""
    args = {
        "path": [entry or os.getcwd() for entry in sys.path],
        "module": module,
        "library": library,
        "options": options,
        "model": str(model),
        "raised": RAISED,
    }
    command = [python or sys.executable, "-X", "faulthandler", "-c", _CHILD, json.dumps(args)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        stages = _text(expired.stdout).split()
        return Outcome(
            False,
            True,
            f"did not finish within {timeout:g} s (stopped in {stages[-1] if stages else 'start'})",
            stages[-1] if stages else "start",
            time.perf_counter() - started,
        )
    seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    last = lines[-1] if lines else "start"
    if done.returncode == 0 and last == "ok":
        return Outcome(
            True, False, f"completed in a child process in {seconds:.2f} s", "ok", seconds
        )
    if done.returncode == RAISED and last.startswith("raised "):
        raised = json.loads(last.removeprefix("raised "))
        stage = lines[-2] if len(lines) > 1 else "start"
        return Outcome(
            False, False, f"{raised['type']} in {stage}: {raised['message']}", stage, seconds
        )
    said = " | ".join(line for line in done.stderr.splitlines()[-6:] if line.strip())
    return Outcome(
        False,
        True,
        f"the child process died with {_exit_status(done.returncode)} in {last}"
        + (f" (it said: {said})" if said else ""),
        last,
        seconds,
    )


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return raw or ""


_cache: dict[tuple[str, str], Outcome] = {}
_cache_lock = threading.Lock()


def checked(
    library: str, model: Path, module: str, options: dict[str, str], timeout: float = TIMEOUT_S
) -> tuple[Outcome, bool]:
    """``run_first_invoke``, cached for this process per (library, runtime module): the outcome
    and whether it came from the cache. Polite failures are not cached."""
    key = (library, module)
    with _cache_lock:  # one check at a time: two children cannot open one Edge TPU anyway
        found = _cache.get(key)
        if found is not None:
            return found, True
        outcome = run_first_invoke(library, model, module, options, timeout=timeout)
        if outcome.ok or outcome.crashed:
            _cache[key] = outcome
        return outcome, False


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
