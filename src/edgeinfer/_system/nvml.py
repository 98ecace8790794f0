"""NVIDIA GPUs through NVML (``pynvml``, from the nvidia-ml-py package), imported only when asked.

NVML is initialised once per process and left open (``nvmlInit`` can take a noticeable time;
``nvmlShutdown`` is refcounted and optional). The clock-reason bits are NVML's
``nvmlClocksEventReason*`` (formerly ``nvmlClocksThrottleReason*``) constants from ``nvml.h``.
Jetsons have no NVML before Thor: their GPU is read from sysfs (``_health_jetson``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeinfer._system.sysfs import Notes
from edgeinfer._system.thermal import Temperature
from edgeinfer._types import _ToDict

__all__ = ["CLOCK_REASONS", "THROTTLING_REASONS", "GpuHealth", "decode_clock_reasons", "read_nvml"]

CLOCK_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
# The reasons that mean "slower than it could be because of power or heat".
THROTTLING_REASONS = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
    }
)
_KNOWN_BITS = sum(bit for bit, _ in CLOCK_REASONS)
_lock = threading.Lock()
_initialised: list[Any] = []  # the pynvml module NVML was initialised through


@dataclass(frozen=True, slots=True)
class GpuHealth(_ToDict):
    """One NVIDIA GPU as NVML sees it; memory in bytes, ``clock_reasons`` decoded.

    ``clock_reasons`` lists why the clocks are below their maximum (``gpu_idle`` is normal);
    its temperature, with the slowdown and shutdown limits, is also in the snapshot's
    ``temperatures`` (source ``nvml``).
    """

    index: int
    name: str | None
    celsius: float | None
    utilization_percent: float | None
    memory_used: int | None
    memory_total: int | None
    clock_reasons: tuple[str, ...] | None

    @property
    def throttled(self) -> bool | None:
        """True when power or heat hold the clocks down; ``None`` when unknown."""
        if self.clock_reasons is None:
            return None
        return any(reason in THROTTLING_REASONS for reason in self.clock_reasons)


def decode_clock_reasons(mask: int) -> tuple[str, ...]:
    """NVML's clock event/throttle reason bit mask -> names; unknown bits kept as hex."""
    names = [name for bit, name in CLOCK_REASONS if mask & bit]
    if mask & ~_KNOWN_BITS:
        names.append(f"unknown_{mask & ~_KNOWN_BITS:#x}")
    return tuple(names)


def _nvml() -> Any:
    module = importlib.import_module("pynvml")
    with _lock:
        if not any(done is module for done in _initialised):
            module.nvmlInit()
            _initialised[:] = [module]
    return module


def _why(error: BaseException) -> str:
    return f"NVML: {error}" if str(error) else f"NVML: {type(error).__name__}"


def _ask(notes: Notes, field: str, call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as e:
        notes.append((field, _why(e)))
        return None


def _device(nv: Any, index: int, notes: Notes) -> tuple[GpuHealth, Temperature]:
    field = f"gpus[{index}]"
    handle = nv.nvmlDeviceGetHandleByIndex(index)
    name = _ask(notes, f"{field}.name", nv.nvmlDeviceGetName, handle)
    name = name.decode(errors="replace") if isinstance(name, bytes) else name
    sensor = getattr(nv, "NVML_TEMPERATURE_GPU", 0)
    celsius = _ask(notes, f"{field}.celsius", nv.nvmlDeviceGetTemperature, handle, sensor)
    limits = [
        _ask([], field, nv.nvmlDeviceGetTemperatureThreshold, handle, getattr(nv, const, code))
        for const, code in (
            ("NVML_TEMPERATURE_THRESHOLD_SLOWDOWN", 1),
            ("NVML_TEMPERATURE_THRESHOLD_SHUTDOWN", 0),
        )
    ]
    rates = _ask(notes, f"{field}.utilization_percent", nv.nvmlDeviceGetUtilizationRates, handle)
    memory = _ask(notes, f"{field}.memory_used", nv.nvmlDeviceGetMemoryInfo, handle)
    reasons_call = (  # the Event name since NVML 12.2, the Throttle one before
        getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        or nv.nvmlDeviceGetCurrentClocksThrottleReasons
    )
    mask = _ask(notes, f"{field}.clock_reasons", reasons_call, handle)
    if memory is None:
        notes.append((f"{field}.memory_total", "NVML gave no memory information"))
    gpu = GpuHealth(
        index,
        name,
        None if celsius is None else float(celsius),
        None if rates is None else float(rates.gpu),
        None if memory is None else int(memory.used),
        None if memory is None else int(memory.total),
        None if mask is None else decode_clock_reasons(int(mask)),
    )
    slowdown, shutdown = (None if v is None or v <= 0 else float(v) for v in limits)
    label = f"gpu:{index}" + (f" {name}" if name else "")
    return gpu, Temperature(label, "nvml", gpu.celsius, slowdown, shutdown)


def read_nvml(notes: Notes) -> tuple[tuple[GpuHealth, ...] | None, list[Temperature]]:
    """Every NVML GPU and its temperature; ``(None, [])`` with the reason when NVML is absent."""
    try:
        nv = _nvml()
    except ImportError:
        notes.append(("gpus", "pynvml is not installed (pip install nvidia-ml-py)"))
        return None, []
    except Exception as e:
        notes.append(("gpus", f"{_why(e)} (no NVIDIA driver, or not an NVIDIA GPU)"))
        return None, []
    try:
        count = int(nv.nvmlDeviceGetCount())
    except Exception as e:
        notes.append(("gpus", _why(e)))
        return None, []
    gpus, temperatures = [], []
    for index in range(count):
        try:
            gpu, temperature = _device(nv, index, notes)
        except Exception as e:
            notes.append((f"gpus[{index}]", _why(e)))
            continue
        gpus.append(gpu)
        temperatures.append(temperature)
    return tuple(gpus), temperatures
