"""Measured selection through the bench: ``--select fastest`` and ``--save-selection``.

Both call ``edgeinfer.load(model, select="fastest", refresh=True)`` with the load settings the
arguments give (``--device`` as the chain, ``--backend`` pins, ``--threads``, ``--option``, one
``--precision``, ``--float-io``, ``--max-error``, ``--select-budget``): the call an application
makes, so the cache it fills is the one that application hits. A workload name selects among
the backends of its fp32 ONNX file; a folder of variants among every file and backend;
``--save-selection`` also takes a folder of model folders (each of them one model).

``--select fastest`` adds, per model, which candidate was chosen, every trial's figures, and the
bench's own row of the chosen candidate against the fastest row among the candidates the
selection found eligible (``ratio``, by p50: the figure the selection ranks by).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer._errors import EdgeInferError, ModelError
from edgeinfer.bench._record import error_text

__all__ = [
    "attach_rows",
    "load_settings",
    "placement_tables",
    "run_selection",
    "save_selection",
    "selection_lines",
]


def load_settings(args: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``load`` for these command-line arguments."""
    devices = [d for d in args.device or ["auto"] if d != "all"] or ["auto"]
    precision = args.precision[0] if args.precision and len(args.precision) == 1 else None
    found: dict[str, Any] = {
        "device": devices[0] if len(devices) == 1 else devices,
        "backend": args.backend or None,
        "threads": args.threads,
        "precision": precision,
        "float_io": bool(args.float_io),
        "options": dict(options) or None,
        "max_error": args.max_error,
        "select_budget": args.select_budget,
    }
    return found


def _model_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists():
        return path
    from edgeinfer.bench._matrix import workloads_module

    return Path(workloads_module().ensure(text, "onnx", "fp32"))


def selection_models(texts: Sequence[str]) -> list[Path]:
    """The models behind MODEL arguments; a folder holding no model file but folders that do
    is a folder of models, each subfolder one."""
    from edgeinfer._planning.sources import resolve_model_files

    found: list[Path] = []
    for text in texts:
        path = _model_path(text)
        try:
            resolve_model_files(path)
        except ModelError:
            children = [c for c in sorted(path.iterdir()) if c.is_dir()] if path.is_dir() else []
            models = [c for c in children if _is_model(c)]
            if not models:
                raise
            found.extend(models)
            continue
        found.append(path)
    return found


def _is_model(path: Path) -> bool:
    from edgeinfer._planning.sources import resolve_model_files

    try:
        resolve_model_files(path)
    except (ModelError, OSError):
        return False
    return True


def select_one(
    path: Path, settings: Mapping[str, Any], refresh: bool = True, name: str | None = None
) -> dict[str, Any]:
    """``load(path, select="fastest")``: the choice and every trial, or the error."""
    from edgeinfer._model.load import load

    entry: dict[str, Any] = {
        "model": name or (path.stem if path.is_file() else path.name),
        "path": str(path),
        "chosen": None,
        "cached": None,
        "seconds": None,
        "reference": None,
        "max_error": None,
        "trials": [],
        "notes": [],
        "error": None,
    }
    started = time.perf_counter()
    try:
        with load(path, select="fastest", refresh=refresh, **settings) as model:
            selection = model.selection
            entry["notes"] = list(model.notes)
            entry["chosen"] = {
                "backend": model.backend,
                "device": model.device,
                "file": model.path,
            }
    except EdgeInferError as error:
        entry["error"] = error_text(error)
        return entry
    entry["seconds"] = round(time.perf_counter() - started, 3)
    if selection is not None:
        entry.update(
            cached=selection.cached,
            reference=selection.reference,
            max_error=selection.max_error,
            trials=[trial.to_dict() for trial in selection.trials],
        )
    return entry


def run_selection(models: Sequence[str], settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``--select fastest``: one entry per MODEL (every workload when none is given)."""
    if not models:
        from edgeinfer.bench._matrix import workloads_module

        models = list(workloads_module().WORKLOADS)
    return [
        select_one(_model_path(text), settings, name=None if Path(text).exists() else text)
        for text in models
    ]


def _same_file(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


def _row(runs: Sequence[Mapping[str, Any]], trial: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next(
        (
            r
            for r in runs
            if r["status"] == "ok"
            and r["backend"] == trial["backend"]
            and r["device"] == trial["device"]
            and _same_file(r["path"], trial["file"])
            and not r.get("converted_by")
        ),
        None,
    )


def attach_rows(entry: dict[str, Any], runs: Sequence[Mapping[str, Any]]) -> None:
    """The bench rows of the chosen and of the fastest eligible candidate, and their ratio."""
    chosen = entry.get("chosen")
    entry.update(run_id=None, fastest_run_id=None, ratio=None)
    if not chosen:
        return
    mine = _row(runs, chosen)
    eligible = [r for t in entry["trials"] if t["eligible"] and (r := _row(runs, t)) is not None]
    if mine is None or not eligible:
        return
    best = min(eligible, key=lambda r: r["latency_us"]["p50"])
    entry.update(
        run_id=mine["id"],
        fastest_run_id=best["id"],
        ratio=mine["latency_us"]["p50"] / best["latency_us"]["p50"],
    )


def _trial_line(trial: Mapping[str, Any]) -> str:
    from edgeinfer._model.select import Trial

    fields = {k: trial[k] for k in Trial.__dataclass_fields__ if k in trial}
    return Trial(**fields).describe()


def selection_lines(entry: Mapping[str, Any], runs: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """One model's selection as text: the choice, the bench's comparison, every trial."""
    name = entry["model"]
    if entry["error"]:
        return [f"select='fastest' {name}: failed: {entry['error']}"]
    chosen = entry["chosen"]
    where = f"{chosen['backend']} on {chosen['device']} ({Path(chosen['file']).name})"
    if not entry["trials"]:
        why = "; ".join(entry["notes"]) or "not measured"
        return [f"select='fastest' {name}: {where} ({why})"]
    how = "from the cache" if entry["cached"] else f"measured in {entry['seconds']:.2f} s"
    lines = [f"select='fastest' {name}: chose {where}, {how}"]
    by_id = {r["id"]: r for r in runs}
    if entry.get("ratio") is not None:
        mine, best = by_id[entry["run_id"]], by_id[entry["fastest_run_id"]]
        lines.append(
            f"  bench p50 of the chosen {_us(mine)} = {entry['ratio']:.2f} x the fastest "
            f"eligible row ({best['id']}, {_us(best)})"
        )
    lines.extend(f"  - {_trial_line(trial)}" for trial in entry["trials"])
    return lines


def _us(run: Mapping[str, Any]) -> str:
    from edgeinfer.bench._table import format_latency

    return format_latency(run["latency_us"]["p50"])


def save_selection(models: Sequence[str], settings: Mapping[str, Any]) -> int:
    """``--save-selection``: fill the cache for each model, check a plain load now hits it, and
    print what was chosen. Returns the exit status."""
    from edgeinfer.bench._rules import EXIT_FAILED, EXIT_OK

    status = EXIT_OK
    for path in selection_models(models):
        entry = select_one(path, settings)
        for line in selection_lines(entry):
            print(line)
        if entry["error"] or not entry["trials"]:
            status = EXIT_FAILED
            continue
        again = select_one(path, settings, refresh=False)
        if again["cached"]:
            print(f"  cached: load({str(path)!r}, select='fastest') now takes this choice")
        else:
            print("  NOT cached: the cache folder could not be written (see $EDGEINFER_CACHE)")
            status = EXIT_FAILED
    return status


def placement_tables(models: Sequence[str], settings: Mapping[str, Any]) -> int:
    """``--placement``: load each model as an application would (the arguments' device chain,
    backends, threads and options) and print ``Model.placement()``'s table. Returns the exit
    status: 1 when a model could not be loaded."""
    import edgeinfer
    from edgeinfer.bench._rules import EXIT_FAILED, EXIT_OK

    keep = ("device", "backend", "threads", "precision", "options")
    status = EXIT_OK
    for path in selection_models(models):
        try:
            with edgeinfer.load(path, **{k: settings[k] for k in keep}) as model:
                print(f"{path}: {model.backend} on {model.device}")
                for line in model.placement().table_lines():
                    print(f"  {line}")
        except EdgeInferError as error:
            print(f"{path}: {error_text(error)}")
            status = EXIT_FAILED
    return status
