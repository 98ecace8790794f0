"""Every argument checked before the first run: a ``UsageError`` (one line, exit 64) instead of
a traceback, or results lost, after minutes of measuring.

In order, cheapest first: flags that cannot go together; output paths (``--json``, ``--csv``,
``--plot``, ``--profile-ops``: the folder exists and a file can be created there, tried for
real so that a read-only file system or a missing permission shows, even for root);
``--compare`` (read and parsed now, once); ``--inputs`` files (read now); ``--option`` backend
names. The MODEL files are checked in ``_model_checks``. What only a runtime can tell (an option
key a backend does not know, a shape a TFLite model refuses) fails that run, in its own words.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.bench._rules import UsageError
from edgeinfer.bench._syntax import options_of

__all__ = ["Checked", "check_arguments", "check_outputs"]

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
    if args.shape and args.inputs:
        raise UsageError("--inputs arrays carry their own shapes: drop --shape")
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
