"""ONNX backend node tests through ``edgeinfer.load``, against the raw runtimes on the same cases.

The node test data (``onnx/backend/test/data/node/<case>/model.onnx`` and
``test_data_set_0/{input,output}_*.pb``) ships in the onnx 1.18.0 wheel (later wheels dropped
it). ``node_data_dir()`` fetches that wheel once with pip into edgeinfer's cache folder
(``$EDGEINFER_CACHE``, else the user cache folder: see ``edgeinfer.backend``) and extracts only the
node folder. Each case then runs in four modes, each in a worker process so that a crash (SIGFPE,
SIGSEGV) or a hang costs one case, not the run:

- ``ort``: ``onnxruntime.InferenceSession`` on the CPU, the test's inputs, outputs by position;
- ``edgeinfer-ort``: ``edgeinfer.load(model, backend="onnxruntime")`` with default arguments,
  ``model.run(inputs by name)``, outputs compared by name;
- ``openvino``: ``Core().read_model`` + ``compile_model("CPU", INFERENCE_PRECISION_HINT=f32)``;
- ``edgeinfer-openvino``: ``edgeinfer.load(model, backend="openvino", precision="fp32")``.

Outputs are compared like onnx's backend test runner: same shape, same dtype, strings equal,
``assert_allclose`` with the case's ``rtol``/``atol`` (1e-3/1e-7 unless its data.json says).

``synthetic_dir()`` adds hand-built cases in the same layout for behaviour the node tests do not
reach. For the report, each case edgeinfer loses is run again with ``warmup=0`` (modes
``edgeinfer-ort/warmup=0``, ``edgeinfer-openvino/warmup=0``) to tell warm-up failures apart.

Run from the command line to write the report::

    PYTHONPATH=src python tests/conformance.py --report CONFORMANCE_REPORT.md
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fnmatch
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

ONNX_VERSION = "1.18.0"
# Any platform's wheel carries the same data: pin one so the download is the same everywhere.
WHEEL_PLATFORM = "manylinux_2_17_x86_64"
WHEEL_PYTHON = "3.11"
NODE_PREFIX = "onnx/backend/test/data/node/"
MODES = ("ort", "edgeinfer-ort", "openvino", "edgeinfer-openvino")
# edgeinfer mode -> the raw runtime it is held against
RAW_OF = {"edgeinfer-ort": "ort", "edgeinfer-openvino": "openvino"}
CASE_TIMEOUT = 60.0
RTOL, ATOL = 1e-3, 1e-7  # onnx.backend.test.loader's defaults
_MESSAGE_LIMIT = 500


class DataUnavailable(Exception):
    """The node test data could not be fetched (no registry, no pip): the tests skip with this."""


@dataclass(frozen=True)
class Outcome:
    """One case in one mode: ``status`` is pass, fail, crash or timeout; ``stage`` where it
    failed (load, run, compare, data, worker); ``message`` a short reason."""

    case: str
    mode: str
    status: str
    stage: str = ""
    message: str = ""


# --- the data ---------------------------------------------------------------------------------
def cache_root() -> Path:
    """edgeinfer's own cache folder (``$EDGEINFER_CACHE`` or the user cache folder)."""
    from edgeinfer.backend import cache_dir

    return cache_dir() / "onnx-node-tests" / ONNX_VERSION


def node_data_dir(root: Path | None = None) -> Path:
    """The folder of node test cases, fetched and extracted on first use."""
    root = cache_root() if root is None else root
    node = root / "node"
    if (root / "complete").is_file() and node.is_dir():
        return node
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as scratch:
        wheel = _download_wheel(Path(scratch))
        staged = Path(scratch) / "node"
        _extract_node_data(wheel, staged)
        if node.exists():  # a previous run stopped half way
            shutil.rmtree(node)
        os.replace(staged, node)
    (root / "complete").write_text(f"onnx {ONNX_VERSION} node test data\n")
    return node


def _download_wheel(into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"onnx=={ONNX_VERSION}",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        WHEEL_PLATFORM,
        "--python-version",
        WHEEL_PYTHON,
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(into),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DataUnavailable(f"pip download onnx=={ONNX_VERSION} failed: {error}") from error
    wheels = sorted(into.glob("onnx-*.whl"))
    if done.returncode != 0 or not wheels:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise DataUnavailable(
            f"pip download onnx=={ONNX_VERSION} (for its node test data) failed: {reason}"
        )
    return wheels[0]


def _extract_node_data(wheel: Path, into: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(NODE_PREFIX)]
        if not members:
            raise DataUnavailable(f"{wheel.name} holds no {NODE_PREFIX} folder")
        for member in members:
            relative = PurePosixPath(member.filename[len(NODE_PREFIX) :])
            if member.is_dir() or not relative.parts:
                continue
            if relative.is_absolute() or ".." in relative.parts:
                raise DataUnavailable(f"{wheel.name}: unsafe path {member.filename!r}")
            target = into.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)


def synthetic_dir(root: Path | None = None) -> Path:
    """Hand-built cases in the node tests' layout, for behaviour the node tests do not reach:

    - ``synthetic_unnamed_dims``: two inputs whose dynamic dimension is spelt ``"?"`` (as some
      exporters write unnamed dimensions), given different sizes; the sizes are unrelated.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder = (cache_root() if root is None else root) / "synthetic"
    case = folder / "synthetic_unnamed_dims"
    if (case / "model.onnx").is_file():
        return folder
    data = case / "test_data_set_0"
    data.mkdir(parents=True, exist_ok=True)
    graph = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
        "unnamed_dims",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["?"]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["?"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    a, b = np.arange(2, dtype=np.float32), np.arange(3, dtype=np.float32)
    for index, value in enumerate((a, b)):
        (data / f"input_{index}.pb").write_bytes(numpy_helper.from_array(value).SerializeToString())
    (data / "output_0.pb").write_bytes(
        numpy_helper.from_array(np.concatenate([a, b])).SerializeToString()
    )
    onnx.save(model, str(case / "model.onnx"))
    return folder


def case_names(node: Path, patterns: Sequence[str] = ()) -> list[str]:
    """The cases under ``node`` (those with a model and a first data set), optionally filtered
    by shell patterns."""
    names = sorted(
        path.name
        for path in node.iterdir()
        if (path / "model.onnx").is_file() and (path / "test_data_set_0").is_dir()
    )
    if patterns:
        names = [name for name in names if any(fnmatch.fnmatch(name, p) for p in patterns)]
    return names


@dataclass
class Case:
    """One node test: its model, its inputs by graph input name, its expected outputs in graph
    output order, and the tolerances."""

    path: Path
    inputs: dict[str, Any]
    outputs: list[tuple[str, Any]]
    rtol: float = RTOL
    atol: float = ATOL


def _read_value(file: Path, type_proto: Any) -> Any:
    import onnx
    from onnx import numpy_helper

    data = file.read_bytes()
    if type_proto.HasField("sequence_type"):
        sequence = onnx.SequenceProto()
        sequence.ParseFromString(data)
        return numpy_helper.to_list(sequence)
    if type_proto.HasField("optional_type"):
        optional = onnx.OptionalProto()
        optional.ParseFromString(data)
        return numpy_helper.to_optional(optional)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return numpy_helper.to_array(tensor)


def load_case(folder: Path) -> Case:
    """Read a case like ``onnx.backend.test.runner`` does: input_i belongs to graph input i."""
    import onnx

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    data = folder / "test_data_set_0"
    graph = model.graph
    count_in = len(list(data.glob("input_*.pb")))
    count_out = len(list(data.glob("output_*.pb")))
    inputs = {
        graph.input[i].name: _read_value(data / f"input_{i}.pb", graph.input[i].type)
        for i in range(count_in)
    }
    outputs = [
        (graph.output[i].name, _read_value(data / f"output_{i}.pb", graph.output[i].type))
        for i in range(count_out)
    ]
    rtol, atol = RTOL, ATOL
    if (folder / "data.json").is_file():
        settings = json.loads((folder / "data.json").read_text())
        rtol, atol = settings.get("rtol", rtol), settings.get("atol", atol)
    return Case(folder / "model.onnx", inputs, outputs, rtol, atol)


# --- comparing ----------------------------------------------------------------------------------
def mismatch(expected: Any, actual: Any, rtol: float, atol: float) -> str | None:
    """Why ``actual`` differs from ``expected`` (onnx's backend test rules), or None."""
    import numpy as np

    if expected is None or actual is None:
        return None if expected is None and actual is None else f"got {_kind(actual)}"
    if isinstance(expected, list):
        if not isinstance(actual, (list, tuple)):
            return f"expected a sequence, got {_kind(actual)}"
        if len(actual) != len(expected):
            return f"sequence of {len(actual)}, expected {len(expected)}"
        for item, (want, got) in enumerate(zip(expected, actual, strict=True)):
            why = mismatch(want, got, rtol, atol)
            if why:
                return f"item {item}: {why}"
        return None
    if not isinstance(actual, np.ndarray):
        return f"expected an array, got {_kind(actual)}"
    if actual.shape != expected.shape:
        return f"shape {list(actual.shape)}, expected {list(expected.shape)}"
    if expected.dtype == object:
        return None if np.array_equal(actual, expected) else "strings differ"
    if actual.dtype != expected.dtype:
        return f"dtype {actual.dtype}, expected {expected.dtype}"
    try:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    except AssertionError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next((line for line in lines if line.startswith("Mismatched")), lines[0])
        return f"values differ ({detail})"
    except TypeError as error:  # dtypes numpy cannot compare with floats
        return None if np.array_equal(actual, expected) else f"values differ ({error})"
    return None


def _kind(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}{'' if shape is None else list(shape)}"


def _short(error: BaseException) -> str:
    """``Type: message`` on one line, without the runtimes' source locations and noise."""
    text = f"{type(error).__name__}: {error}"
    text = re.sub(r"Exception from \S+:\d+:\s*", "", text)  # OpenVINO's C++ call stack
    text = re.sub(r"While validating node '.*?' with friendly_name '[^']*':", "", text, flags=re.S)
    text = re.sub(r"\[ONNXRuntimeError\] : \d+ : ", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _load_error(error: BaseException) -> BaseException:
    """The candidate's own error behind ``NoBackendAvailable`` (edgeinfer chains it)."""
    cause = error.__cause__
    if type(error).__name__ == "NoBackendAvailable" and cause is not None:
        return cause
    return error


def _compare_all(
    case: Case, produced: Callable[[int, str], Any], by_name: bool
) -> tuple[str, str, str]:
    for index, (name, want) in enumerate(case.outputs):
        try:
            got = produced(index, name)
        except LookupError as error:
            return "fail", "compare", str(error)
        why = mismatch(want, got, case.rtol, case.atol)
        if why:
            label = f"output {name!r}" if by_name else f"output {index} ({name!r})"
            return "fail", "compare", f"{label}: {why}"
    return "pass", "", ""


# --- the four modes (run inside a worker) ------------------------------------------------------
def _raw_ort(case: Case) -> tuple[str, str, str]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(case.path), providers=["CPUExecutionProvider"])
    except Exception as error:
        return "fail", "load", _short(error)
    try:
        results = session.run(None, dict(case.inputs))
    except Exception as error:
        return "fail", "run", _short(error)

    def produced(index: int, name: str) -> Any:
        if index >= len(results):
            raise LookupError(f"{len(results)} outputs, expected {len(case.outputs)}")
        return results[index]

    return _compare_all(case, produced, by_name=False)


_OV_CORE: Any = None


def _raw_openvino(case: Case) -> tuple[str, str, str]:
    global _OV_CORE
    import openvino

    if _OV_CORE is None:
        _OV_CORE = openvino.Core()
    try:
        model = _OV_CORE.read_model(str(case.path))
        compiled = _OV_CORE.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    except Exception as error:
        return "fail", "load", _short(error)
    try:
        results = compiled.create_infer_request().infer(dict(case.inputs)).to_tuple()
    except Exception as error:
        return "fail", "run", _short(error)

    def produced(index: int, name: str) -> Any:
        if index >= len(results):
            raise LookupError(f"{len(results)} outputs, expected {len(case.outputs)}")
        return results[index]

    return _compare_all(case, produced, by_name=False)


def _through_edgeinfer(case: Case, backend: str, **arguments: Any) -> tuple[str, str, str]:
    import edgeinfer

    try:
        model = edgeinfer.load(case.path, backend=backend, **arguments)
    except Exception as error:
        return "fail", "load", _short(_load_error(error))
    try:
        results = model.run(dict(case.inputs))
    except Exception as error:
        return "fail", "run", _short(error)
    finally:
        with contextlib.suppress(Exception):
            model.close()

    def produced(index: int, name: str) -> Any:
        if name not in results:
            raise LookupError(f"output {name!r} missing; got {sorted(results)}")
        return results[name]

    return _compare_all(case, produced, by_name=True)


RUNNERS: dict[str, Callable[[Case], tuple[str, str, str]]] = {
    "ort": _raw_ort,
    "edgeinfer-ort": lambda case: _through_edgeinfer(case, "onnxruntime"),
    "openvino": _raw_openvino,
    "edgeinfer-openvino": lambda case: _through_edgeinfer(case, "openvino", precision="fp32"),
    # Diagnostics for the report: does the case pass when load() skips its warm-up run?
    "edgeinfer-ort/warmup=0": lambda case: _through_edgeinfer(case, "onnxruntime", warmup=0),
    "edgeinfer-openvino/warmup=0": lambda case: _through_edgeinfer(
        case, "openvino", precision="fp32", warmup=0
    ),
}


def run_one(node: Path, name: str, mode: str) -> Outcome:
    """One case in one mode, in this process."""
    try:
        case = load_case(node / name)
    except Exception as error:
        return Outcome(name, mode, "fail", "data", _short(error))
    try:
        status, stage, message = RUNNERS[mode](case)
    except Exception as error:  # the runtime is not installed, or a bug here
        return Outcome(name, mode, "fail", "harness", _short(error))
    return Outcome(name, mode, status, stage, message)


def _worker_main(node: Path) -> None:
    """Answer one JSON line per request line ``{"case":..., "mode":...}`` on the real stdout;
    native libraries' prints go to stderr."""
    import logging
    import warnings

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    for line in sys.stdin:
        request = json.loads(line)
        outcome = run_one(node, request["case"], request["mode"])
        answers.write(json.dumps(asdict(outcome)) + "\n")


# --- the pool of workers ----------------------------------------------------------------------
def _child_environment() -> dict[str, str]:
    """The worker imports the same edgeinfer as this process (a worktree's src, not another)."""
    import edgeinfer

    source = str(Path(edgeinfer.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


class _Worker:
    """A worker process and the lines it answers (read by a thread, so waits can time out)."""

    def __init__(self, node: Path, env: Mapping[str, str], stderr: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(node)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(env),
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, case: str, mode: str, timeout: float) -> Outcome:
        """The outcome; crash or timeout when the worker died or hung (it is then stopped)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"case": case, "mode": mode}) + "\n")
            self.process.stdin.flush()
            line = self.lines.get(timeout=timeout)
        except (BrokenPipeError, OSError):
            line = None
        except queue.Empty:
            self.stop()
            return Outcome(case, mode, "timeout", "worker", f"no answer in {timeout:.0f} s")
        if line is None:
            return Outcome(case, mode, "crash", "worker", self.died_of())
        return Outcome(**json.loads(line))

    def died_of(self) -> str:
        code = self.process.wait()
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
        return f"worker exited with status {code}"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.stop()


def run_cases(
    node: Path,
    cases: Iterable[str],
    modes: Sequence[str] = MODES,
    jobs: int = 2,
    timeout: float = CASE_TIMEOUT,
    progress: Callable[[Outcome], None] | None = None,
    stderr: Any = subprocess.DEVNULL,
) -> dict[tuple[str, str], Outcome]:
    """Every case in every mode, ``jobs`` worker processes at a time. A worker that crashes or
    hangs costs the case and mode it was running (crash / timeout) and is replaced."""
    todo: queue.Queue[str] = queue.Queue()
    for case in cases:
        todo.put(case)
    results: dict[tuple[str, str], Outcome] = {}
    lock = threading.Lock()
    env = _child_environment()

    def slot() -> None:
        worker: _Worker | None = None
        try:
            while True:
                try:
                    case = todo.get_nowait()
                except queue.Empty:
                    return
                for mode in modes:
                    if worker is None:
                        worker = _Worker(node, env, stderr)
                    outcome = worker.ask(case, mode, timeout)
                    if outcome.stage == "worker":  # it died or was stopped: a fresh one
                        worker = None
                    with lock:
                        results[case, mode] = outcome
                        if progress is not None:
                            progress(outcome)
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=slot) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- reading the results ----------------------------------------------------------------------
Results = Mapping[tuple[str, str], Outcome]


def passed(results: Results, mode: str) -> set[str]:
    return {
        case for (case, m), outcome in results.items() if m == mode and outcome.status == "pass"
    }


def crashed(results: Results, mode: str) -> set[str]:
    return {
        case
        for (case, m), outcome in results.items()
        if m == mode and outcome.status in ("crash", "timeout")
    }


def lost(results: Results, mode: str, excluded: Iterable[str] = ()) -> list[Outcome]:
    """The cases the raw runtime passes and edgeinfer's ``mode`` does not."""
    skip = set(excluded)
    keep = passed(results, RAW_OF[mode]) - passed(results, mode) - skip
    return sorted(
        (results[case, mode] for case in keep if (case, mode) in results),
        key=lambda outcome: outcome.case,
    )


def new_crashes(results: Results, mode: str, excluded: Iterable[str] = ()) -> set[str]:
    """Cases that crash or hang through edgeinfer but not on the raw runtime."""
    return crashed(results, mode) - crashed(results, RAW_OF[mode]) - set(excluded)


@dataclass(frozen=True)
class Category:
    """A failure pattern (over ``"stage: message"``) with its cause as far as it is known."""

    title: str
    pattern: str
    cause: str


CATEGORIES = (
    Category(
        "Warm-up feeds 0-d (scalar) inputs with shape (1,)",
        r"model input \(shape=\[\]\) and the tensor \(shape=\(1\)\)",
        "`_inputs.generated_inputs` builds each input's shape from `spec.shape or (1,)`: a 0-d "
        "spec has shape `()`, which is falsy, so scalars are generated as `(1,)`. OpenVINO "
        "checks ranks and refuses, the warm-up raises InferenceError and load() fails "
        "(ONNX Runtime happens to accept `(1,)` for a 0-d input, so the ORT path hides it).",
    ),
    Category(
        "OpenVINO input names are internal aliases, not the ONNX names",
        r"^run: InvalidInput: missing input\(s\) .*unknown input\(s\)",
        "`backends/openvino._spec` names each port with `port.get_any_name()` on the *compiled* "
        "model. After compilation a port carries several tensor names (the ONNX graph input and "
        "the names of tensors merged into it, e.g. `{'attn_mask', 'Attention_..._AttnBias'}`) "
        "and get_any_name() returns an alias, so `model.inputs` lists the alias and run() "
        "refuses the ONNX name. The read (uncompiled) model's ports still have only the ONNX "
        "names, and the Parameter's friendly name is the ONNX name.",
    ),
    Category(
        "OpenVINO output names are internal aliases, not the ONNX names",
        r"^compare: output '[^']*' missing; got",
        "Same cause as the inputs: the compiled Result port's get_any_name() returns the name of "
        "the tensor that produces the output inside an expanded function (e.g. "
        "`ReduceL2_..._sqrt` instead of `reduced`), so the result dict is keyed by the alias.",
    ),
    Category(
        "Sequence and optional types refused at load",
        r"has type (seq|optional)\(",
        "`backends/ort._spec` maps only `tensor(...)` types (`_DTYPES`) and raises "
        "ModelIncompatible for `seq(...)`/`optional(...)` inputs or outputs, although "
        "onnxruntime runs them (lists of arrays, None for an empty optional).",
    ),
    Category(
        "Read-only 0-d inputs refused by OpenVINO",
        r"array is not writeable",
        "`backends/openvino.run` calls `request.infer(..., share_inputs=True)`; for a read-only "
        "0-d numpy array OpenVINO raises `array is not writeable` (read-only arrays with "
        "dimensions are accepted). Arrays from `onnx.numpy_helper.to_array` are read-only.",
    ),
    Category(
        "Warm-up on generated inputs: INVALID_ARGUMENT from a model with static inputs",
        r"^load: InferenceError: warm-up failed:",
        "`_load._warm_up` runs the model on `generated_inputs` (normal floats, zeros for "
        "integers, empty strings) and forgives only InvalidInput on models with dynamic inputs. "
        "Here the zeros are operator arguments (Slice steps/axes, Unsqueeze axes, Expand shape, "
        "OneHot depth, Range delta) and the inputs are static, so the refusal is `warm-up "
        "failed` and load() fails although the real inputs run.",
    ),
    Category(
        "Warm-up on generated inputs: the operator rejects the generated values",
        r"^load: InferenceError: (onnxruntime|openvino) failed to run",
        "Same warm-up, but the runtime's error is not InvalidArgument (ORT `FAIL`, OpenVINO "
        "RuntimeError), so it becomes InferenceError and is never forgiven, dynamic inputs or "
        "not: zeros as divisors (Mod, Div), as Resize scales/sizes, Reshape shapes, Split sizes, "
        "TopK k, Col2Im/AffineGrid sizes, NonMaxSuppression thresholds (random normals outside "
        "[0, 1]), Dropout ratio, empty strings to Cast.",
    ),
    Category(
        "Unnamed dynamic dimensions ('?') tied together",
        r"dynamic dimension '\?' must have one size",
        "onnxruntime reports a dimension whose dim_param is `?` (how some exporters spell an "
        "unnamed dimension) as the string `'?'`; `backends/ort` keeps it in `dim_names()` and "
        "`_inputs.InputChecker` then requires every `'?'` dimension of every input to have one "
        "size. Only the synthetic case shows it (the node tests have no `?` dims).",
    ),
    Category(
        "Process killed by a signal (through edgeinfer only)",
        r"^worker: killed by",
        "A native crash. When the case passes with warmup=0 the crash is in the load-time "
        "warm-up on generated inputs (OpenVINO's Col2Im divides by the zero sizes: SIGFPE); "
        "`isolate=True` would turn it into a DeviceError, but the default load crashes the "
        "caller.",
    ),
    Category("Timeout (through edgeinfer only)", r"^worker: no answer", "A hang."),
)


def category(outcome: Outcome) -> Category:
    text = f"{outcome.stage}: {outcome.message}"
    for found in CATEGORIES:
        if re.search(found.pattern, text):
            return found
    generic = re.sub(r"'[^']*'|\b\d+\b", "…", text)[:120]
    return Category(f"Other: {generic}", "", "Not classified yet.")


def detail(outcome: Outcome) -> str:
    """The operator and the gist of the runtime's message, to sub-group a category."""
    message = outcome.message
    ort = re.search(r"running (\w+) node\. Name:'[^']*' Status Message: (.*)", message)
    if ort:
        gist = re.sub(r"^\S+\.(h|cc):\d+ ", "", ort.group(2))
        gist = re.sub(r"^.* was false\. ", "", gist)
        gist = re.sub(r"^(\S+ )?\w+ \S+\.(h|cc):\d+ \S+ ", "", gist)
        return f"{ort.group(1)}: {gist[:140]}"
    ov = re.search(r"\[CPU\] (\w+) node with name '[^']*' (.*)", message) or re.search(
        r"Node \S+ of type (\w+) (.*)", message
    )
    if ov:
        gist = re.sub(r"Check '.*?' failed at \S+:\d+: ", "", ov.group(2))
        gist = re.sub(r"\[CPU\] \w+ node with name '[^']*' ", "", gist)
        return f"{ov.group(1)}: {gist[:140]}"
    kind = re.search(r"has type ((seq|optional)\(\S*?\));", message)
    if kind:
        return re.sub(r"tensor\(\w+\)", "tensor", kind.group(1))
    return ""


def _case_list(outcomes: Iterable[Outcome]) -> str:
    return ", ".join(f"`{outcome.case}`" for outcome in outcomes)


def _warmup_line(results: Results, mode: str, members: Sequence[Outcome]) -> str:
    diagnosis = f"{mode}/warmup=0"
    seen = [results[m.case, diagnosis] for m in members if (m.case, diagnosis) in results]
    if not seen:
        return ""
    fine = [outcome for outcome in seen if outcome.status == "pass"]
    rest = collections.Counter(
        category(outcome).title if outcome.status != "pass" else "" for outcome in seen
    )
    rest.pop("", None)
    others = "; ".join(f"{title} ({count})" for title, count in rest.most_common())
    return f"With `warmup=0`: {len(fine)} of {len(seen)} pass" + (
        f"; the others fail with: {others}." if others else "."
    )


def write_report(
    results: Results,
    path: Path,
    seconds: float,
    excluded: Mapping[str, str] | None = None,
    synthetic: Iterable[str] = (),
) -> None:
    """The markdown report: counts per mode, then every case edgeinfer loses, by cause."""
    excluded = dict(excluded or {})
    made_up = set(synthetic)
    modes = [mode for mode in MODES if any(m == mode for _, m in results)]
    cases = sorted({case for case, _ in results} - made_up)
    lines = [
        "# Conformance: ONNX backend node tests through edgeinfer.load",
        "",
        f"{len(cases)} node test cases from onnx {ONNX_VERSION} plus {len(made_up)} synthetic; "
        f"{_versions()}; {os.cpu_count()} CPUs; the run took {seconds:.0f} s. Written by "
        "`tests/conformance.py`. Each case runs, in a worker process, as:",
        "",
        "- `ort`: `onnxruntime.InferenceSession(model, providers=['CPUExecutionProvider'])`, "
        "outputs compared by position;",
        "- `edgeinfer-ort`: `edgeinfer.load(model, backend='onnxruntime')` (all defaults), "
        "`model.run(inputs by name)`, outputs compared by name;",
        "- `openvino`: `Core().read_model` + `compile_model('CPU', "
        "{'INFERENCE_PRECISION_HINT': 'f32'})`, outputs by position;",
        "- `edgeinfer-openvino`: `edgeinfer.load(model, backend='openvino', precision='fp32')`.",
        "",
        "Comparison as in onnx's backend test runner: same shape and dtype, strings equal, "
        f"`assert_allclose(rtol={RTOL}, atol={ATOL})`. A case is *lost* when the raw runtime "
        "passes it and edgeinfer does not. Each lost case is rerun with `warmup=0` to tell "
        "warm-up failures from the rest.",
        "",
        "| mode | pass | fail | crash | timeout |",
        "|---|---|---|---|---|",
    ]
    for mode in modes:
        counts = collections.Counter(
            outcome.status for (_, m), outcome in results.items() if m == mode
        )
        lines.append(
            f"| {mode} | {counts['pass']} | {counts['fail']} | {counts['crash']} | "
            f"{counts['timeout']} |"
        )
    by_mode = {mode: lost(results, mode, excluded) for mode in RAW_OF if mode in modes}
    titles: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for mode, outcomes in by_mode.items():
        for title, count in collections.Counter(category(o).title for o in outcomes).items():
            titles[title][mode] = count
    lines += ["", "## Lost cases by cause", "", "| cause | " + " | ".join(by_mode) + " |"]
    lines.append("|---|" + "---|" * len(by_mode))
    for title, counts in sorted(titles.items(), key=lambda item: -sum(item[1].values())):
        lines.append(f"| {title} | " + " | ".join(str(counts.get(m, 0)) for m in by_mode) + " |")
    lines.append("| **total** | " + " | ".join(str(len(o)) for o in by_mode.values()) + " |")
    for mode, outcomes in by_mode.items():
        raw = RAW_OF[mode]
        gained = sorted(passed(results, mode) - passed(results, raw))
        crash_new = sorted(new_crashes(results, mode, excluded))
        lines += [
            "",
            f"## {mode} against raw {raw}: {len(outcomes)} lost",
            "",
            f"Raw {raw} passes {len(passed(results, raw))}, {mode} passes "
            f"{len(passed(results, mode))}. Crashes or timeouts only through edgeinfer: "
            f"{len(crash_new)}{' (' + ', '.join(crash_new) + ')' if crash_new else ''}. "
            f"Passing only through edgeinfer: {len(gained)}"
            f"{' (' + ', '.join(gained) + ')' if gained else ''}.",
        ]
        groups: dict[str, list[Outcome]] = collections.defaultdict(list)
        for outcome in outcomes:
            groups[category(outcome).title].append(outcome)
        for title, members in sorted(groups.items(), key=lambda item: -len(item[1])):
            found = category(members[0])
            lines += ["", f"### {title}: {len(members)}", "", f"Cause: {found.cause}"]
            warm = _warmup_line(results, mode, members)
            if warm:
                lines += ["", warm]
            details: dict[str, list[Outcome]] = collections.defaultdict(list)
            for outcome in members:
                details[detail(outcome)].append(outcome)
            ordered = sorted(details.values(), key=lambda group: -len(group))
            examples = [group[0] for group in ordered[:2]] if len(ordered) > 1 else members[:2]
            lines += ["", "Examples:", ""]
            for example in examples:
                lines.append(f"- `{example.case}`: {example.stage}: {example.message}")
            lines.append("")
            if len(details) == 1 and "" in details:
                lines.append(f"Cases: {_case_list(members)}")
                continue
            lines.append("Cases, by operator / message:")
            lines.append("")
            for gist, group in sorted(details.items(), key=lambda item: (-len(item[1]), item[0])):
                lines.append(f"- {gist or 'other'} ({len(group)}): {_case_list(group)}")
    if made_up:
        lines += ["", "## Synthetic cases", ""]
        for case in sorted(made_up):
            row = ", ".join(
                f"{mode}: {results[case, mode].status}"
                + (f" ({results[case, mode].message})" if results[case, mode].message else "")
                for mode in modes
                if (case, mode) in results
            )
            lines.append(f"- `{case}`: {row}")
    if excluded:
        lines += ["", "## Excluded cases", ""]
        lines += [f"- `{case}`: {reason}" for case, reason in sorted(excluded.items())]
    lines += ["", "## Crashes and timeouts, every mode", ""]
    for mode in modes:
        bad = sorted(
            (o for (_, m), o in results.items() if m == mode and o.status in ("crash", "timeout")),
            key=lambda outcome: outcome.case,
        )
        text = ", ".join(f"`{o.case}` ({o.status}: {o.message})" for o in bad) or "none"
        lines.append(f"- {mode}: {text}")
    path.write_text("\n".join(lines) + "\n")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("onnxruntime", "openvino", "onnx", "numpy"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found) + f", Python {sys.version.split()[0]}"


def run_all(
    modes: Sequence[str] = MODES,
    patterns: Sequence[str] = (),
    jobs: int | None = None,
    timeout: float = CASE_TIMEOUT,
    diagnose: bool = True,
) -> tuple[dict[tuple[str, str], Outcome], list[str]]:
    """Fetch the data, run the node cases and the synthetic ones in ``modes``; with ``diagnose``
    rerun each lost case with ``warmup=0``. Returns the outcomes and the synthetic case names.
    Raises DataUnavailable."""
    jobs = jobs or os.cpu_count() or 2
    node = node_data_dir()
    results = run_cases(node, case_names(node, patterns), modes, jobs, timeout)
    made_up = synthetic_dir()
    synthetic = [] if patterns else case_names(made_up)
    results.update(run_cases(made_up, synthetic, modes, jobs, timeout))
    if diagnose:
        for mode in RAW_OF:
            diagnosis = f"{mode}/warmup=0"
            again = [o.case for o in lost(results, mode) if o.case not in synthetic]
            results.update(run_cases(node, again, [diagnosis], jobs, timeout))
            again = [o.case for o in lost(results, mode) if o.case in synthetic]
            results.update(run_cases(made_up, again, [diagnosis], jobs, timeout))
    return results, synthetic


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, default=Path("CONFORMANCE_REPORT.md"))
    parser.add_argument("--json", type=Path, help="also save every outcome here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=CASE_TIMEOUT)
    parser.add_argument("--mode", action="append", choices=MODES, help="default: all four")
    parser.add_argument("cases", nargs="*", help="shell patterns of case names (default: all)")
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker_main(args.worker)
        return 0
    started = time.perf_counter()
    try:
        results, synthetic = run_all(args.mode or MODES, args.cases, args.jobs, args.timeout)
    except DataUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(o) for o in results.values()], indent=0))
    write_report(results, args.report, seconds, synthetic=synthetic)
    counts = collections.Counter(o.status for o in results.values())
    print(f"{len(results)} outcomes in {seconds:.0f} s: {dict(counts)}; report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
