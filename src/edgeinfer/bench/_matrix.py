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
from edgeinfer._planning.formats import resolve_model_files
from edgeinfer._planning.registry import backend_infos
from edgeinfer._types import BackendInfo

__all__ = [
    "DEFAULT_BUDGET_S",
    "DEFAULT_MIN_QUERIES",
    "Plan",
    "RunSpec",
    "Target",
    "build_plan",
    "default_duration",
    "workloads_module",
]

# The default suite spends about this many seconds measuring, split evenly across its runs, each
# run getting between MIN_DEFAULT_DURATION and MAX_DEFAULT_DURATION seconds.
DEFAULT_BUDGET_S = 36.0
MIN_DEFAULT_DURATION = 1.0
MAX_DEFAULT_DURATION = 10.0
QUICK_DURATION = 0.5
DEFAULT_MIN_QUERIES = 64
QUICK_MIN_QUERIES = 16
_PRECISION_WORDS: tuple[tuple[str, str], ...] = (
    ("int8", "int8"),
    ("quant", "int8"),
    ("fp16", "fp16"),
    ("float16", "fp16"),
    ("bf16", "bf16"),
)


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
    """One run: a target on one backend, on one requested device."""

    target: Target
    backend: str
    device: str

    @property
    def id(self) -> str:
        t = self.target
        return f"{t.name}/{t.format}/{t.precision}/{self.backend}/{self.device}"


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


def default_duration(runs: int, quick: bool) -> float:
    """Seconds of measuring per run when ``--duration`` is not given."""
    if quick:
        return QUICK_DURATION
    share = DEFAULT_BUDGET_S / max(runs, 1)
    return round(min(MAX_DEFAULT_DURATION, max(MIN_DEFAULT_DURATION, share)), 2)


def path_precision(path: Path) -> str:
    """A model file's precision as its name tells it (``*_int8.tflite``), else fp32."""
    name = path.name.lower()
    for word, precision in _PRECISION_WORDS:
        if word in name:
            return precision
    return "fp32"


def _workload_targets(name: str, precisions: Sequence[str] | None) -> list[Target]:
    found = workloads_module().variants(name)
    # fp32 first, then ONNX first: the first fp32 run is the parity reference.
    ordered = sorted(found, key=lambda v: (v[1] != "fp32", v[0] != "onnx"))
    return [
        Target(name, name, fmt, precision, workload=name)
        for fmt, precision in ordered
        if precisions is None or precision in precisions
    ]


def _path_targets(text: str, precisions: Sequence[str] | None) -> list[Target]:
    given = Path(text).expanduser()
    files = resolve_model_files(given)
    name = given.stem if given.is_file() else given.name
    targets = []
    for file, fmt in files:
        declared = precisions[0] if precisions and len(precisions) == 1 else None
        precision = declared or path_precision(file)
        targets.append(Target(name, str(given), fmt, precision, path=file))
    # fp32 first (a stable sort keeps the folder's own order otherwise): the parity reference.
    return sorted(targets, key=lambda t: t.precision != "fp32")


def targets_of(models: Sequence[str], precisions: Sequence[str] | None) -> list[Target]:
    """The model files behind the ``MODEL`` arguments (all workloads when none are given)."""
    if not models:
        models = list(workloads_module().WORKLOADS)
    targets: list[Target] = []
    for text in models:
        if Path(text).expanduser().exists():
            targets.extend(_path_targets(text, precisions))
            continue
        known = workloads_module().WORKLOADS
        if text not in known:
            raise ConfigurationError(
                f"{text!r} is neither a model file or folder nor a reference workload "
                f"({', '.join(known)})"
            )
        targets.extend(_workload_targets(text, precisions))
    return targets


def _devices(requested: Sequence[str]) -> list[str]:
    from edgeinfer._planning.detect import devices as detected

    found: list[str] = []
    for text in requested or ["auto"]:
        if text == "all":
            found.extend(d.id for d in detected())
            continue
        parse_device(text)  # raises ConfigurationError with the grammar
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


def build_plan(
    models: Sequence[str],
    backends: Sequence[str] | None = None,
    devices: Sequence[str] = ("auto",),
    precisions: Sequence[str] | None = None,
) -> Plan:
    """The runs for these arguments. Raises ``ConfigurationError`` for an unknown model,
    backend or device string."""
    infos = backend_infos()
    names = [info.name for info in infos]
    for name in backends or ():
        if name not in names:
            raise UnknownBackend(name, tuple(names))
    plan = Plan(unavailable=_unavailable(infos, backends))
    wanted = _devices(devices)
    for target in targets_of(models, precisions):
        readers = [
            info
            for info in infos
            if target.format in info.formats and (backends is None or info.name in backends)
        ]
        usable = [info for info in readers if info.available]
        if not usable:
            plan.skipped.append({"model": target.label, "reason": _no_reader(target, readers)})
        for info in usable:
            for device in wanted:
                kind = "auto" if device == "auto" else device.split(":")[0]
                if kind != "auto" and kind not in info.devices:
                    plan.skipped.append(
                        {
                            "model": target.label,
                            "reason": f"{info.name} does not run on {kind} "
                            f"(it runs on {', '.join(info.devices)})",
                        }
                    )
                    continue
                plan.runs.append(RunSpec(target, info.name, device))
    return plan
