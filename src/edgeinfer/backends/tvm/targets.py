"""TVM targets: this machine's CPU for LLVM, the GPU runtimes TVM was built with, a user's own
target, and whether a compiled module may run here.

TVM 0.27 takes targets as dicts (``{"kind": "llvm", "mcpu": "znver4"}``); strings such as
``"llvm -mcpu=znver4"`` are refused by TVM itself. The host's CPU name comes from LLVM
(``llvm_get_system_cpu``): code built for it uses every vector extension the CPU has (AVX-512,
NEON, SVE...). A module built for a CPU with an instruction set extension this one lacks would
die of SIGILL at its first call, so ``check_runs_here`` refuses it at load, from the features
recorded in its sidecar.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from edgeinfer.backend import ConfigurationError, DeviceError, DeviceRequest, ModelIncompatible
from edgeinfer.backends.tvm.sidecar import Sidecar

__all__ = [
    "GPU_KINDS",
    "check_runs_here",
    "cpu_features",
    "for_tuning",
    "host_arch",
    "host_target",
    "is_cpu_kind",
    "resolve_target",
]

#: TVM target kinds that run on a GPU, in the order edgeinfer prefers them.
GPU_KINDS = ("cuda", "vulkan", "opencl")
_CPU_KINDS = ("llvm", "c")
# LLVM's feature lists mix instruction set extensions (what code may execute) with tuning flags
# ("fast-gather", "slow-3ops-lea"...) that differ between CPU models of one ISA. Only the former
# decide whether a module runs here.
_ISA = re.compile(
    r"^(sse|ssse|avx|fma|f16c|bmi|popcnt|lzcnt|movbe|aes|pclmul|vpclmulqdq|vaes|gfni|sha|amx|"
    r"adx|cx16|crc32|evex512|vnni|neon|fp-armv8|fullfp16|fp16fml|dotprod|i8mm|bf16|sve|sme|"
    r"crc|crypto|sha2|sha3|lse|rcpc|v\d|zve|zvl|[mafdcv]$|rvv)"
)
GPU_HINT = (
    "TVM runs models on a GPU through its CUDA, Vulkan or OpenCL runtime: the GPU's driver must "
    "be installed, and TVM built with that runtime (the apache-tvm wheel on PyPI has CUDA)"
)


def is_cpu_kind(kind: str) -> bool:
    """Whether a TVM target kind runs on the CPU (``llvm``, ``c``)."""
    return kind in _CPU_KINDS


def host_arch(tvm: Any, target: Mapping[str, Any] | None = None) -> str:
    """The CPU architecture code is built for: the target's ``mtriple``, else this machine's."""
    triple = (target or {}).get("mtriple") or tvm.target.codegen.llvm_get_system_triple()
    return str(triple).split("-", 1)[0]


def host_target(tvm: Any) -> dict[str, Any]:
    """The LLVM target for this machine's CPU (its model, so every vector extension it has)."""
    cpu = str(tvm.target.codegen.llvm_get_system_cpu())
    return {"kind": "llvm", "mcpu": cpu} if cpu and cpu != "generic" else {"kind": "llvm"}


def for_tuning(target: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` with the ``num-cores`` MetaSchedule needs on a CPU (this machine's physical
    cores, when the target does not say)."""
    found = dict(target)
    if found.get("kind") == "llvm" and "num-cores" not in found:
        found["num-cores"] = physical_cores()
    return found


def physical_cores() -> int:
    """This machine's physical cores (psutil), else its logical CPUs."""
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or failing: the logical count is the best left
        cores = None
    return int(cores or os.cpu_count() or 1)


def cpu_features(tvm: Any, target: Mapping[str, Any]) -> tuple[str, ...]:
    """The instruction set extensions code built for ``target`` may use (() for a GPU target)."""
    if target.get("kind") not in ("llvm",):
        return ()
    features = tvm.target.codegen.llvm_get_cpu_features(tvm.target.Target(dict(target)))
    return tuple(sorted(f for f in features if _ISA.match(f)))


def _gpu_target(tvm: Any, device: DeviceRequest) -> dict[str, Any]:
    index = device.index or 0
    tried = []
    for kind in GPU_KINDS:
        if not tvm.runtime.enabled(kind):
            tried.append(f"{kind}: this TVM build has no {kind} runtime")
            continue
        if not tvm.device(kind, index).exist:
            tried.append(f"{kind}: no device {index}")
            continue
        return {"kind": kind, "host": host_target(tvm)}
    raise DeviceError(f"tvm found no GPU it can run on ({'; '.join(tried)}); {GPU_HINT}")


def _own_target(value: Any, device_kind: str) -> dict[str, Any]:
    if isinstance(value, str):
        if " " in value.strip():
            raise ConfigurationError(
                f"tvm option 'target' {value!r}: TVM 0.27 takes targets as dicts, like "
                "{'kind': 'llvm', 'mcpu': 'cortex-a72'}; a string may only name a kind ('llvm')"
            )
        value = {"kind": value.strip()}
    if not isinstance(value, Mapping) or not isinstance(value.get("kind"), str):
        raise ConfigurationError(
            f"tvm option 'target' must be a TVM target dict with a 'kind', got {value!r}"
        )
    kind = value["kind"]
    wanted = _CPU_KINDS if device_kind == "cpu" else GPU_KINDS
    if kind not in wanted:
        raise ConfigurationError(
            f"tvm option 'target' has kind {kind!r}, which does not run on the {device_kind}; "
            f"for device={device_kind!r} use one of {', '.join(wanted)}"
        )
    return dict(value)


def resolve_target(tvm: Any, device: DeviceRequest, own: Any = None) -> dict[str, Any]:
    """The target to compile for: the caller's own (``options={"tvm": {"target": {...}}}``),
    else this machine's CPU for ``cpu`` and the first GPU runtime that works for ``gpu``."""
    if own is not None:
        target = _own_target(own, device.kind)
        if device.kind == "gpu":
            _gpu_target(tvm, device)  # the GPU must be there to run what is compiled for it
        return target
    if device.kind == "gpu":
        return _gpu_target(tvm, device)
    return host_target(tvm)


def check_runs_here(tvm: Any, sidecar: Sidecar, version: str, device: DeviceRequest) -> None:
    """Refuse (``ModelIncompatible``) a module this machine cannot run: another TVM version,
    another CPU architecture, instruction set extensions this CPU lacks, or a target of another
    kind than the device asked for."""
    how = "recompile it here: python -m edgeinfer.compile MODEL.onnx --backend tvm"
    if sidecar.tvm_version != version:
        raise ModelIncompatible(
            f"the module was built by TVM {sidecar.tvm_version}; this is TVM {version}, and TVM "
            f"modules run only on the version that built them; {how}"
        )
    kind = str(sidecar.target["kind"])  # read_sidecar checked it is a string
    if (device.kind == "cpu") != is_cpu_kind(kind):
        raise ModelIncompatible(
            f"the module was compiled for target kind {kind!r}, not for the {device.kind}; "
            f"load it with device={'cpu' if is_cpu_kind(kind) else 'gpu'!r} or {how}"
        )
    if not is_cpu_kind(kind):
        return
    here = host_arch(tvm)
    if sidecar.host_arch and sidecar.host_arch != here:
        raise ModelIncompatible(
            f"the module was compiled for {sidecar.host_arch} CPUs; this one is {here}; {how}"
        )
    missing = sorted(set(sidecar.features) - set(cpu_features(tvm, host_target(tvm))))
    if missing:
        raise ModelIncompatible(
            f"the module was compiled for a CPU with {', '.join(missing)}, which this CPU "
            f"({host_target(tvm).get('mcpu', 'generic')}) lacks: it would crash on its first "
            f"instruction of those; {how}"
        )
