"""The output folder: a folder of variants ``load()`` understands, written whole or not at all.

Contents: the chosen variant, the float original beside it (with its external data files), the
order in ``variants.json`` (``{"order": [chosen, original]}``, read by ``load()``) and the
report (``report.json``). Everything is written into a hidden staging folder beside ``out`` and
renamed into place at the end, so a failed run leaves no half folder. An existing ``out`` is
refused unless ``overwrite=True``, and even then only a folder that ``edgeinfer.optimize``
wrote (its ``report.json`` says so) or an empty one is replaced: never a folder of someone's
files. The original model is only read.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edgeinfer._errors import ConfigurationError
from edgeinfer._planning.sources import VARIANTS_FILE
from edgeinfer.optimize._report import REPORT_FILE, SCHEMA, OptimizationReport

__all__ = ["check_out", "discard", "remove", "staging_folder", "write_folder"]


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is an output of edgeinfer.optimize (or empty)."""
    if not any(folder.iterdir()):
        return True
    report = folder / REPORT_FILE
    try:
        return bool(json.loads(report.read_text(encoding="utf-8")).get("schema") == SCHEMA)
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out: str | Path | None, model: Path, overwrite: bool) -> Path:
    """The output folder (default ``<model stem>.optimized`` beside the model), checked."""
    target = (
        Path(out).expanduser() if out is not None else model.with_name(f"{model.stem}.optimized")
    )
    target = target.absolute()
    if model.resolve().is_relative_to(target.resolve()):
        raise ConfigurationError(f"out={target} holds the model itself: choose another folder")
    if not target.exists() and not target.is_symlink():
        return target
    if not overwrite:
        raise ConfigurationError(
            f"{target} exists: pass overwrite=True (--overwrite) to replace it, or choose "
            "another out="
        )
    if target.is_symlink() or not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a folder: out must be a folder")
    if not _ours(target):
        raise ConfigurationError(
            f"{target} is not a folder that edgeinfer.optimize wrote (no {REPORT_FILE} of its "
            "own) and is not empty: edgeinfer replaces only its own output; remove it yourself "
            "or choose another out="
        )
    return target


def staging_folder(out: Path) -> Path:
    """A fresh hidden folder beside ``out``, renamed to ``out`` by ``publish``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.partial"
    folder.mkdir()  # with the user's umask, unlike tempfile.mkdtemp's 0700
    return folder


def _copy_original(model: Path, fmt: str, folder: Path) -> str:
    """Copy the model (and, for ONNX, its external data files) into ``folder``; its name."""
    shutil.copy2(model, folder / model.name)
    if fmt == "onnx":
        from edgeinfer._kit.onnx_scan import check_onnx_file

        for location in sorted(set(check_onnx_file(model).external_data)):
            target = folder / location
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(model.parent / location, target)
    return model.name


def _write_order(folder: Path, order: Sequence[str]) -> None:
    text = json.dumps({"order": list(order)}, indent=2) + "\n"
    (folder / VARIANTS_FILE).write_text(text, encoding="utf-8")


def discard(path: Path) -> None:
    """Remove a variant that is not kept (an OpenVINO IR takes its .bin along)."""
    for item in (path, path.with_suffix(".bin") if path.suffix == ".xml" else None):
        if item is not None and item.exists():
            item.unlink()


def remove(staging: Path) -> None:
    """Drop a staging folder after a failure."""
    shutil.rmtree(staging, ignore_errors=True)


def write_folder(
    staging: Path, out: Path, model: Path, fmt: str, draft: OptimizationReport, keep_all: bool
) -> OptimizationReport:
    """Copy the original in, drop the variants not kept (unless ``keep_all``), write the order
    and the report, and put the folder in place of ``out`` (replacing it: checked before)."""
    original_name = _copy_original(model, fmt, staging)
    final = []
    for result in draft.variants:
        if result.recipe == "original":
            result = replace(result, file=original_name)
        elif result.file is not None and not keep_all and result.recipe != draft.chosen:
            discard(staging / result.file)
            result = replace(result, file=None)
        final.append(result)
    kept = next(r for r in final if r.recipe == draft.chosen)
    order = [original_name] if kept.file == original_name else [str(kept.file), original_name]
    _write_order(staging, order)
    report = replace(draft, variants=tuple(final))
    report.to_json(staging / REPORT_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return report
