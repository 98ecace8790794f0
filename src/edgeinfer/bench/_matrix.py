"""What to run: models x backends x devices, and why the rest does not run.

A model is a reference workload name (every variant ``variants()`` allows here: ONNX and TFLite,
fp32, fp16, int8) or a path ``edgeinfer.load`` accepts (a file, or a folder of variants: each file
in it is benched). Each model runs on every available backend that reads its format, on each
requested device. Workload variants run fp32 first, ONNX first, so that the reference of parity
(the first fp32 run of a model) is ONNX Runtime's when it is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer._errors import ConfigurationError, UnknownBackend
from edgeinfer._planning.devices import parse_device
from edgeinfer._planning.registry import backend_infos, offered_unasked
from edgeinfer._planning.sources import resolve_model_files
from edgeinfer._types import BackendInfo
from edgeinfer.bench._rules import DEFAULT_BUDGET_S, DEFAULT_MIN_QUERIES, default_duration

__all__ = [
    "CONVERTS",
    "DEFAULT_BUDGET_S",
    "DEFAULT_MIN_QUERIES",
    "Plan",
    "RunSpec",
    "Target",
    "build_plan",
    "default_duration",
    "model_files",
    "workloads_module",
]

_PRECISION_WORDS: tuple[tuple[str, str], ...] = (
    ("int8", "int8"),
    ("quant", "int8"),
    ("fp16", "fp16"),
    ("float16", "fp16"),
    ("bf16", "bf16"),
)
# The backends that convert an fp32 model to another precision when loaded with precision=...:
# OpenVINO's INFERENCE_PRECISION_HINT, TensorRT's builder flags (int8 there needs a model that is
# already quantised, so it is not a conversion). Every other backend runs the file's own
# precision, so for it --precision only chooses among files.
CONVERTS: dict[str, tuple[str, ...]] = {
    "openvino": ("fp16", "bf16"),
    "tensorrt": ("fp16", "bf16"),
}


@dataclass(frozen=True, slots=True)
class Target:
    """One model file to bench (a workload variant is built on first use, so ``path`` may be
    ``None`` until then). ``group``: runs of one group share inputs and a parity reference."""

    name: str
    group: str
    format: str
    precision: str
    workload: str | None = None
    path: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.format} {self.precision}"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run: a target on one backend, on one requested device; ``convert``: the precision
    the backend converts the (fp32) file to at load, ``None`` to run the file as it is."""

    target: Target
    backend: str
    device: str
    convert: str | None = None

    @property
    def precision(self) -> str:
        """The precision this run computes in (as asked: the backend reports what it did)."""
        return self.convert or self.target.precision

    @property
    def label(self) -> str:
        t = self.target
        return f"{t.name} {t.format} {self.precision}" + (" (converted)" if self.convert else "")

    @property
    def id(self) -> str:
        t = self.target
        return f"{t.name}/{t.format}/{self.precision}/{self.backend}/{self.device}"


@dataclass(slots=True)
class Plan:
    """The runs, the backends that are not available here (why, and the fix), and the
    model/backend/device combinations that do not run (why)."""

    runs: list[RunSpec] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def workloads_module() -> Any:
    """``edgeinfer.bench._workloads``, imported on first use."""
    return importlib.import_module("edgeinfer.bench._workloads")


def path_precision(path: Path) -> str:
    """A model file's precision as its name tells it (``*_int8.tflite``), else fp32."""
    name = path.name.lower()
    for word, precision in _PRECISION_WORDS:
        if word in name:
            return precision
    return "fp32"


def _workload_targets(name: str) -> list[Target]:
    found = workloads_module().variants(name)
    # fp32 first, then ONNX first: the first fp32 run is the parity reference.
    ordered = sorted(found, key=lambda v: (v[1] != "fp32", v[0] != "onnx"))
    return [Target(name, name, fmt, precision, workload=name) for fmt, precision in ordered]


def model_files(text: str) -> list[tuple[Path, str]]:
    """The files behind a MODEL path, with their formats (``ModelError`` when none is one)."""
    return resolve_model_files(Path(text).expanduser())


def _path_targets(text: str, file_precision: str | None) -> list[Target]:
    given = Path(text).expanduser()
    name = given.stem if given.is_file() else given.name
    targets = [
        Target(name, str(given), fmt, file_precision or path_precision(file), path=file)
        for file, fmt in model_files(text)
    ]
    # fp32 first (a stable sort keeps the folder's own order otherwise): the parity reference.
    return sorted(targets, key=lambda t: t.precision != "fp32")


def targets_of(models: Sequence[str], file_precision: str | None = None) -> list[Target]:
    """The model files behind the ``MODEL`` arguments (all workloads when none are given)."""
    if not models:
        models = list(workloads_module().WORKLOADS)
    targets: list[Target] = []
    for text in models:
        if Path(text).expanduser().exists():
            targets.extend(_path_targets(text, file_precision))
            continue
        known = workloads_module().WORKLOADS
        if text not in known:
            raise ConfigurationError(
                f"{text!r} is neither a model file or folder nor a reference workload "
                f"({', '.join(known)})"
            )
        targets.extend(_workload_targets(text))
    return targets


def _devices(requested: Sequence[str], plan: Plan) -> list[str]:
    """The device strings to run on; an explicit kind this machine lacks is left out, and
    said so in ``plan.skipped`` (an explicit device never silently becomes another)."""
    from edgeinfer._planning.detect import devices as detected

    found_here = detected()
    kinds = {d.kind for d in found_here}
    shown = ", ".join(f"{d.id} ({d.name})" for d in found_here) or "none"
    found: list[str] = []
    for text in requested or ["auto"]:
        if text == "all":
            found.extend(d.id for d in found_here)
            continue
        parsed = parse_device(text)  # raises ConfigurationError with the grammar
        kind = "auto" if parsed is None else parsed.kind
        if kind not in ("auto", "cpu") and kind not in kinds:
            plan.skipped.append(
                {"model": "every model", "reason": f"no {kind} on this machine (found: {shown})"}
            )
            continue
        found.append(text)
    return list(dict.fromkeys(found))


def _unavailable(infos: Sequence[BackendInfo], pins: Sequence[str] | None) -> list[dict[str, Any]]:
    return [
        {"backend": i.name, "reason": i.reason, "hint": i.hint, "formats": list(i.formats)}
        for i in infos
        if not i.available and (pins is None or i.name in pins)
    ]


def _no_reader(target: Target, readers: Sequence[BackendInfo]) -> str:
    if not readers:
        return f"none of the chosen backends reads {target.format}"
    names = ", ".join(info.name for info in readers)
    return f"no available backend reads {target.format} (not available: {names})"


def _wanted(
    target: Target, targets: Sequence[Target], precisions: Sequence[str] | None
) -> list[str]:
    """The precisions ``target`` runs in: its own when asked for (or when nothing is asked);
    for an fp32 file, each asked precision that no file of its group and format has."""
    if precisions is None:
        return [target.precision]
    wanted = [target.precision] if target.precision in precisions else []
    if target.precision == "fp32":
        have = {
            t.precision for t in targets if (t.group, t.format) == (target.group, target.format)
        }
        wanted += [p for p in precisions if p not in have]
    return wanted


def _pairing(info: BackendInfo, device: str) -> str | None:
    kind = "auto" if device == "auto" else device.split(":")[0]
    if kind != "auto" and kind not in info.devices:
        return f"{info.name} does not run on {kind} (it runs on {', '.join(info.devices)})"
    return None


def build_plan(
    models: Sequence[str],
    backends: Sequence[str] | None = None,
    devices: Sequence[str] = ("auto",),
    precisions: Sequence[str] | None = None,
    file_precision: str | None = None,
) -> Plan:
    """The runs for these arguments. Raises ``ConfigurationError`` for an unknown model,
    backend or device string. ``precisions``: a file of an asked precision runs as it is; an
    fp32 file runs converted on the backends in ``CONVERTS`` where no file of that precision
    exists, and the other backends are listed as not run (for them it only filters)."""
    infos = backend_infos()
    names = [info.name for info in infos]
    for name in backends or ():
        if name not in names:
            raise UnknownBackend(name, tuple(names))
    targets = targets_of(models, file_precision)
    formats = {t.format for t in targets}
    # the backends not available that would read one of these models: with why and the fix
    plan = Plan(unavailable=_unavailable([i for i in infos if formats & set(i.formats)], backends))
    wanted = _devices(devices, plan)
    for target in targets:
        runs_in = _wanted(target, targets, precisions)
        if not runs_in:
            continue  # --precision filters it out
        readers = [
            info
            for info in infos
            if target.format in info.formats and (backends is None or info.name in backends)
        ]
        if backends is None:  # what load(device="auto") would offer; the rest only when named
            for info in [i for i in readers if not offered_unasked(i.name, target.format)]:
                readers.remove(info)
                if info.available:
                    reason = (
                        f"{info.name} reads {target.format} only when named: --backend {info.name}"
                    )
                    plan.skipped.append({"model": target.label, "reason": reason})
        usable = [info for info in readers if info.available]
        if not usable:
            plan.skipped.append({"model": target.label, "reason": _no_reader(target, readers)})
        for info in usable:
            for device in wanted:
                why_not = _pairing(info, device)
                if why_not is not None:
                    plan.skipped.append({"model": target.label, "reason": why_not})
                    continue
                for precision in runs_in:
                    if precision == target.precision:
                        plan.runs.append(RunSpec(target, info.name, device))
                    elif precision in CONVERTS.get(info.name, ()):
                        plan.runs.append(RunSpec(target, info.name, device, precision))
                    else:
                        plan.skipped.append(_only_filters(target, info.name, precision))
    return plan


def _only_filters(target: Target, backend: str, precision: str) -> dict[str, str]:
    return {
        "model": f"{target.name} {target.format} {precision}",
        "reason": f"no {target.format} {precision} file, and {backend} runs a file's own "
        f"precision ({target.precision} here): --precision only filters for it",
    }
