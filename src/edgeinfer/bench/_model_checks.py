"""The MODEL files checked before the first run: a format edgeinfer knows, not a text file, a
TFLite file with its identifier, an ONNX file that parses (edgeinfer's own scan, no runtime) and
whose inputs fit ``--shape`` and ``--inputs``. A ``UsageError`` (exit 64) otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer.bench._rules import UsageError

__all__ = ["check_models"]

_TEXT_FORMATS = ("openvino",)  # formats whose files are text (an .xml graph)


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
