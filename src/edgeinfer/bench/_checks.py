"""Every argument checked before the first run: a ``UsageError`` (one line, exit 64) instead of
a traceback, or results lost, after minutes of measuring.

In order, cheapest first: flags that cannot go together; output paths (``--json``, ``--csv``,
``--plot``, ``--profile-ops``: the folder exists and a file can be created there, tried for
real so that a read-only file system or a missing permission shows, even for root);
``--compare`` (read and parsed now, once); ``--inputs`` files (read now); ``--option`` backend
names; and the MODEL files (a format edgeinfer knows, not a text file, an ONNX file that parses,
its inputs matching ``--shape`` and ``--inputs``). What only a runtime can tell (an option key a
backend does not know, a shape a TFLite model refuses) fails that run, with the runtime's words.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.bench._args import options_of
from edgeinfer.bench._rules import UsageError

__all__ = ["Checked", "check_arguments", "check_models", "check_outputs"]

_TEXT_FORMATS = ("openvino",)  # formats whose files are text (an .xml graph)
_SELECT_ONLY = (("max_error", "--max-error"), ("select_budget", "--select-budget"))


@dataclass(slots=True)
class Checked:
    """What the checks read once, for the runs: the ``--compare`` document, the ``--inputs``
    queries, the ``--option`` values as ``load(options=...)``, the profile folder."""

    compare: dict[str, Any] | None = None
    inputs: tuple[dict[str | None, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    profile_ops: Path | None = None


def _combinations(args: argparse.Namespace) -> None:
    if args.json == "-" and args.csv == "-":
        raise UsageError("--json - and --csv - cannot both write to standard output")
    if args.runs is not None and args.min_queries is not None:
        raise UsageError(
            "--runs N is the exact query count; --min-queries applies to runs timed by "
            "--duration: give one of them"
        )
    if args.concurrency > 1 and args.harness == "loadgen":
        raise UsageError(
            "--concurrency needs the built-in loop (LoadGen here serves one query at a time): "
            "drop --harness loadgen"
        )
    if args.warmup is not None and args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0 seconds, got {args.warmup:g}")
    selecting = args.select or args.save_selection
    for name, flag in _SELECT_ONLY:
        if getattr(args, name) is not None and not selecting:
            raise UsageError(f"{flag} applies to --select fastest and --save-selection only")
    if args.float_io and not selecting:
        raise UsageError("--float-io applies to --select fastest and --save-selection only")
    if args.save_selection:
        extra = [
            flag
            for flag, value in (
                ("--select", args.select),
                ("--json", args.json),
                ("--csv", args.csv),
                ("--compare", args.compare),
                ("--plot", args.plot),
                ("--profile-ops", args.profile_ops),
                ("--list", args.list),
            )
            if value
        ]
        if extra:
            raise UsageError(
                f"--save-selection only fills the selection cache; drop {', '.join(extra)}"
            )
        if not args.models:
            raise UsageError("--save-selection needs MODEL paths (files or folders)")
    shapes = args.shape or []
    names = [name for name, _ in shapes]
    if None in names and len(names) > 1:
        raise UsageError("--shape without a NAME is for a model with one input; name each input")
    repeated = sorted({name for name in names if name is not None and names.count(name) > 1})
    if repeated:
        raise UsageError(f"--shape gives {repeated[0]} twice")


def _try_create(flag: str, text: str, path: Path) -> None:
    """Open ``path`` for writing as the run will at its end (a new file is removed again)."""
    existed = path.exists()
    try:
        with path.open("ab" if existed else "xb"):
            pass
    except OSError as error:
        raise UsageError(f"{flag} {text}: cannot write there ({error.strerror or error})") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()


def _output_file(flag: str, text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"{flag} {text}: is a folder; give a file name")
    folder = path.parent
    if not folder.exists():
        raise UsageError(f"{flag} {text}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{flag} {text}: {folder} is not a folder")
    _try_create(flag, text, path)
    return path.resolve()


def _profile_folder(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"--profile-ops {text}: is a file; give a folder for the traces")
    if not path.exists() and not path.parent.is_dir():
        raise UsageError(f"--profile-ops {text}: the folder {path.parent} does not exist")
    probe = (path if path.exists() else path.parent) / ".edgeinfer-bench-probe"
    _try_create("--profile-ops", text, probe)
    return path


def check_outputs(args: argparse.Namespace) -> Path | None:
    """The output paths and the flags' combinations; returns the profile folder (not created
    yet). Imports nothing heavy: a bad path is refused in well under a second."""
    _combinations(args)
    written: dict[Path, str] = {}
    for flag, text in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot)):
        if not text or (text == "-" and flag != "--plot"):
            continue
        path = _output_file(flag, text)
        if path in written:
            raise UsageError(f"{written[path]} and {flag} both write {text}")
        written[path] = flag
    if args.plot:
        if Path(args.plot).suffix.lower() != ".png":
            raise UsageError(f"--plot {args.plot}: the plot is a PNG; name it *.png")
        try:
            found = importlib.util.find_spec("matplotlib") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError("--plot needs matplotlib: pip install matplotlib")
    return _profile_folder(args.profile_ops) if args.profile_ops else None


def _compare_file(text: str) -> dict[str, Any]:
    from edgeinfer.bench._compare import load_results

    path = Path(text).expanduser()
    if not path.is_file():
        missing = "is a folder" if path.is_dir() else "no such file"
        raise UsageError(f"--compare {text}: {missing}")
    try:
        return load_results(path)
    except UnicodeDecodeError:
        raise UsageError(f"--compare {text}: not a JSON file (not text)") from None
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        raise UsageError(f"--compare {text}: {error}") from None
    except OSError as error:
        raise UsageError(f"--compare {text}: cannot read it ({error.strerror})") from None


def _input_file(text: str) -> dict[str | None, Any]:
    import zipfile

    import numpy as np

    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy"):
        raise UsageError(
            f"--inputs {text}: give a .npz (one array per input name) or a .npy (the only input)"
        )
    if not path.is_file():
        raise UsageError(f"--inputs {text}: no such file")
    found: dict[str | None, Any]
    try:
        if suffix == ".npy":
            found = {None: np.asarray(np.load(path, allow_pickle=False))}
        else:
            with np.load(path, allow_pickle=False) as loaded:
                found = {name: np.asarray(loaded[name]) for name in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(f"--inputs {text}: not a numpy file ({error})") from None
    if not found:
        raise UsageError(f"--inputs {text}: holds no arrays")
    for name, array in found.items():
        if array.dtype.kind not in "biuf":
            shown = "the array" if name is None else f"array {name!r}"
            raise UsageError(f"--inputs {text}: {shown} holds {array.dtype}, not numbers")
    return found


def _options(args: argparse.Namespace) -> dict[str, Any]:
    try:
        options = options_of(args.option)
    except argparse.ArgumentTypeError as error:
        raise UsageError(str(error)) from None
    if not options:
        return {}
    from edgeinfer._planning.registry import names

    known = names()
    for backend in options:
        if backend not in known:
            raise UsageError(
                f"--option {backend}.…: no backend {backend!r} (known: {', '.join(known)})"
            )
        if args.backend and backend not in args.backend:
            raise UsageError(
                f"--option {backend}.…: {backend} is not among --backend {','.join(args.backend)}"
            )
    return options


def check_arguments(args: argparse.Namespace) -> Checked:
    """Everything but the models: see the module docstring. Raises ``UsageError``."""
    profile = check_outputs(args)
    checked = Checked(profile_ops=profile)
    if args.compare:
        checked.compare = _compare_file(args.compare)
    checked.inputs = tuple(_input_file(text) for text in args.inputs or ())
    checked.options = _options(args)
    return checked


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_file(path: Path, fmt: str) -> Any:
    """Refuse a file that cannot be a ``fmt`` model; an ONNX file's facts, else ``None``."""
    from edgeinfer._errors import ModelError
    from edgeinfer._kit.onnx_scan import check_onnx_file

    if path.is_dir():
        return None
    with path.open("rb") as handle:
        head = handle.read(4096)
    if fmt not in _TEXT_FORMATS and _looks_like_text(head):
        raise UsageError(
            f"{path} is a text file, not an {fmt} model"
            if fmt[0] in "aeiou"
            else f"{path} is a text file, not a {fmt} model"
        )
    if fmt.startswith("tflite") and head[4:8] != b"TFL3":
        raise UsageError(f"{path} is not a TFLite model (no TFL3 file identifier)")
    if fmt == "onnx":
        try:
            return check_onnx_file(path)
        except ModelError as error:
            raise UsageError(str(error)) from None
    return None


def _match_shapes(
    path: Path, facts: Any, shapes: Sequence[tuple[str | None, tuple[int, ...]]]
) -> None:
    inputs = {value.name: value for value in facts.inputs}
    shown = ", ".join(inputs) or "none"
    for name, dims in shapes:
        if name is None:
            if len(inputs) != 1:
                sizes = "x".join(map(str, dims))
                raise UsageError(
                    f"--shape {sizes}: {path.name} has {len(inputs)} inputs ({shown}); name "
                    f"one, e.g. {next(iter(inputs), 'x')}:{sizes}"
                )
            name = next(iter(inputs))
        if name not in inputs:
            raise UsageError(
                f"--shape {name}: {path.name} has no input {name!r} (its inputs: {shown})"
            )
        declared = inputs[name].dims
        if declared is None:
            continue
        if len(declared) != len(dims):
            raise UsageError(
                f"--shape {name}: {path.name} declares {len(declared)} dimensions for {name}, "
                f"the shape gives {len(dims)}"
            )
        for axis, (want, given) in enumerate(zip(declared, dims, strict=True)):
            if isinstance(want, int) and want > 0 and want != given:
                raise UsageError(
                    f"--shape {name}: dimension {axis} of {name} is fixed at {want} in "
                    f"{path.name}, the shape gives {given}"
                )


def _match_inputs(path: Path, facts: Any, queries: Iterable[Mapping[str | None, Any]]) -> None:
    names = [value.name for value in facts.inputs]
    for query in queries:
        if None in query:
            if len(names) != 1:
                raise UsageError(
                    f"--inputs: a .npy holds one array and {path.name} has {len(names)} inputs "
                    f"({', '.join(names)}); give a .npz with one array per input name"
                )
            continue
        missing = [name for name in names if name not in query]
        unknown = [name for name in query if name not in names]
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"lacks {', '.join(map(str, missing))}")
            if unknown:
                problems.append(f"names {', '.join(map(str, unknown))}, which it does not take")
            raise UsageError(
                f"--inputs: the .npz {' and '.join(problems)} ({path.name} takes "
                f"{', '.join(names)})"
            )


def check_models(
    files: Iterable[tuple[Path, str]],
    shapes: Sequence[tuple[str | None, tuple[int, ...]]],
    queries: Sequence[Mapping[str | None, Any]],
) -> None:
    """Each MODEL file is a model of its format; ONNX inputs fit ``--shape`` and ``--inputs``."""
    for path, fmt in files:
        facts = _check_file(path, fmt)
        if facts is not None:
            _match_shapes(path, facts, shapes)
            _match_inputs(path, facts, queries)
