"""``health()``: fake sysfs trees for every reader, the decoders, NVML absent and faked, psutil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeinfer._planning.detect import Roots
from edgeinfer._system import nvml as _health_nvml
from edgeinfer._system import snapshot as _health
from edgeinfer._system.nvml import decode_clock_reasons
from edgeinfer._system.snapshot import HealthSnapshot, health
from edgeinfer._system.thermal import PLAUSIBLE_CELSIUS, parse_millidegrees
from edgeinfer._system.throttle import decode_pi_throttled, parse_get_throttled
from fake_tree import fake_roots, touch


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return fake_roots(tmp_path, "aarch64")


@pytest.fixture
def no_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH holds only an empty folder: no vcgencmd, whatever this machine has."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def by_source(snapshot: HealthSnapshot, source: str) -> dict[str, Any]:
    return {t.name: t for t in snapshot.temperatures if t.source == source}


# --- thermal zones ---------------------------------------------------------------------------


def zone(root: Path, index: int, kind: str, temp: str, trips: tuple[tuple[str, str], ...] = ()):
    folder = root / "class" / "thermal" / f"thermal_zone{index}"
    touch(folder / "type", kind + "\n")
    touch(folder / "temp", temp + "\n")
    for n, (trip_type, trip_temp) in enumerate(trips):
        touch(folder / f"trip_point_{n}_type", trip_type + "\n")
        touch(folder / f"trip_point_{n}_temp", trip_temp + "\n")


def test_thermal_zones_with_trip_points(roots: Roots, no_tools: Path) -> None:
    trips = (("passive", "0"), ("active", "60000"), ("passive", "95000"), ("critical", "105000"))
    zone(roots.sys, 0, "x86_pkg_temp", "45250", trips)
    zone(roots.sys, 1, "CPU-therm", "N/A")
    zone(roots.sys, 2, "GPU-therm", "-256000")  # a Jetson sensor that is offline
    zone(roots.sys, 10, "SOC0-therm", "51500", (("hot", "90000"), ("critical", "bogus")))
    snapshot = health(roots)
    temps = by_source(snapshot, "thermal_zone0") | by_source(snapshot, "thermal_zone10")
    pkg = temps["x86_pkg_temp"]
    assert (pkg.celsius, pkg.high, pkg.critical) == (45.25, 95.0, 105.0)
    assert pkg.trips == (("active", 60.0), ("passive", 95.0), ("critical", 105.0))
    assert pkg.headroom == 49.75
    soc = temps["SOC0-therm"]
    assert (soc.celsius, soc.high, soc.critical) == (51.5, 90.0, None)
    assert "bogus" in (snapshot.reason("temperatures[thermal_zone10].trip_point_1") or "")
    names = [t.source for t in snapshot.temperatures if t.source.startswith("thermal_zone")]
    assert names == ["thermal_zone0", "thermal_zone1", "thermal_zone2", "thermal_zone10"]
    cpu = next(t for t in snapshot.temperatures if t.source == "thermal_zone1")
    gpu = next(t for t in snapshot.temperatures if t.source == "thermal_zone2")
    assert cpu.celsius is None
    assert gpu.celsius is None
    assert "not a millidegree integer" in (snapshot.reason("temperatures[thermal_zone1]") or "")
    assert "implausible" in (snapshot.reason("temperatures[thermal_zone2]") or "")


def test_parse_millidegrees_examples() -> None:
    assert parse_millidegrees("45250\n") == (45.25, None)
    assert parse_millidegrees("-5000") == (-5.0, None)
    for garbage in ("", "abc", "45.2", "1_000", "٣٤٠٠٠", "0x10", "-256000", "9" * 30):
        value, reason = parse_millidegrees(garbage)
        assert value is None
        assert reason


@given(st.text(max_size=40))
def test_parse_millidegrees_never_raises(text: str) -> None:
    value, reason = parse_millidegrees(text)
    assert (value is None) != (reason is None)
    if value is not None:
        assert PLAUSIBLE_CELSIUS[0] <= value <= PLAUSIBLE_CELSIUS[1]


@given(st.integers(min_value=-100_000, max_value=250_000))
def test_parse_millidegrees_reads_every_plausible_integer(milli: int) -> None:
    assert parse_millidegrees(f" {milli}\n") == (milli / 1000.0, None)


# --- Edge TPU, cpufreq, thermal_throttle -----------------------------------------------------


def test_apex_temperature_and_trip_points(roots: Roots, no_tools: Path) -> None:
    apex = roots.sys / "class" / "apex" / "apex_0"
    touch(apex / "temp", "47300\n")
    for n, milli in enumerate(("85000", "90000", "95000")):
        touch(apex / f"trip_point{n}_temp", milli + "\n")
    touch(apex / "hw_temp_warn1", "100000\n")
    touch(apex / "hw_temp_warn1_en", "0\n")
    touch(apex / "hw_temp_warn2", "100000\n")
    touch(apex / "hw_temp_warn2_en", "1\n")
    touch(roots.sys / "class" / "apex" / "apex_1" / "temp", "garbage")
    temps = health(roots).temperatures
    first, second = (t for t in temps if t.source == "apex")
    assert (first.name, first.celsius, first.high, first.critical) == ("apex_0", 47.3, 85.0, 100.0)
    assert first.trips == (
        ("passive", 85.0),
        ("passive", 90.0),
        ("passive", 95.0),
        ("critical", 100.0),
    )
    assert second.name == "apex_1"
    assert second.celsius is None


def test_cpufreq_per_core(roots: Roots, no_tools: Path) -> None:
    cpu_root = roots.sys / "devices" / "system" / "cpu"
    for index, (cur, top, cap) in enumerate([("1200000", "2400000", "2400000")] * 2):
        policy = cpu_root / f"cpu{index}" / "cpufreq"
        touch(policy / "scaling_cur_freq", cur)
        touch(policy / "cpuinfo_max_freq", top)
        touch(policy / "scaling_max_freq", cap)
    touch(cpu_root / "cpu10" / "cpufreq" / "scaling_cur_freq", "600000")
    touch(cpu_root / "cpu10" / "cpufreq" / "cpuinfo_max_freq", "0")
    (cpu_root / "cpufreq").mkdir()  # not a core: ignored
    snapshot = health(roots)
    freqs = snapshot.cpu_frequencies
    assert [f.cpu for f in freqs] == [0, 1, 10]
    assert (freqs[0].current_mhz, freqs[0].max_mhz, freqs[0].limit_mhz) == (1200.0, 2400.0, 2400.0)
    assert freqs[2].current_mhz == 600.0
    assert freqs[2].max_mhz is None
    assert freqs[2].limit_mhz is None
    assert "0 kHz" in (snapshot.reason("cpu_frequencies[cpu10].max_mhz") or "")
    assert "does not exist" in (snapshot.reason("cpu_frequencies[cpu10].limit_mhz") or "")


def test_thermal_throttle_counters(roots: Roots, no_tools: Path) -> None:
    cpu_root = roots.sys / "devices" / "system" / "cpu"
    touch(cpu_root / "cpu0" / "thermal_throttle" / "core_throttle_count", "12\n")
    touch(cpu_root / "cpu0" / "thermal_throttle" / "package_throttle_count", "3\n")
    touch(cpu_root / "cpu1" / "thermal_throttle" / "core_throttle_count", "0\n")
    snapshot = health(roots)
    first, second = snapshot.cpu_throttle_counts
    assert (first.cpu, first.core, first.package) == (0, 12, 3)
    assert (second.cpu, second.core, second.package) == (1, 0, None)
    assert snapshot.reason("cpu_throttle_counts[cpu1].package")
    assert "12 core, 3 package" in snapshot.summary()


def test_bare_tree_reports_reasons_not_zeros(roots: Roots, no_tools: Path) -> None:
    snapshot = health(roots)
    assert snapshot.temperatures == () or all(t.source == "nvml" for t in snapshot.temperatures)
    assert snapshot.cpu_frequencies == ()
    assert snapshot.cpu_throttle_counts == ()
    for field in ("cpu_frequencies", "cpu_throttle_counts", "raspberry_pi", "jetson"):
        assert snapshot.reason(field), field


# --- Jetson ----------------------------------------------------------------------------------


def test_jetson_devfreq_load_and_power_mode(roots: Roots, no_tools: Path) -> None:
    touch(roots.sys / "firmware" / "devicetree" / "base" / "compatible",
          "nvidia,p3768-0000+p3767-0005\x00nvidia,p3767-0005\x00nvidia,tegra234\x00")  # fmt: skip
    other = roots.sys / "class" / "devfreq" / "15340000.vic"
    touch(other / "device" / "of_node" / "name", "vic\x00")
    gpu = roots.sys / "class" / "devfreq" / "17000000.gpu"
    touch(gpu / "device" / "of_node" / "name", "gpu\x00")
    touch(gpu / "device" / "load", "523\n")
    touch(gpu / "cur_freq", "612000000\n")
    touch(gpu / "max_freq", "1020000000\n")
    root = roots.sys.parent
    touch(root / "var" / "lib" / "nvpmodel" / "status", "pmode:0002 fmode:quiet\n")
    touch(root / "etc" / "nvpmodel.conf",
          "< POWER_MODEL ID=0 NAME=15W >\n< POWER_MODEL ID=2 NAME=MAXN_SUPER >\n")  # fmt: skip
    snapshot = health(roots)
    jetson = snapshot.jetson
    assert jetson is not None
    assert (jetson.gpu_load_percent, jetson.gpu_mhz, jetson.gpu_max_mhz) == (52.3, 612.0, 1020.0)
    assert (jetson.power_mode, jetson.power_mode_id) == ("MAXN_SUPER", 2)
    assert jetson.source is not None
    assert jetson.source.endswith("17000000.gpu/device/load")
    assert "Jetson GPU 52% busy at 612 of 1020 MHz, power mode MAXN_SUPER (2)" in snapshot.summary()


def test_jetson_fixed_gpu0_node_without_devfreq(roots: Roots, no_tools: Path) -> None:
    touch(roots.proc / "device-tree" / "compatible", "nvidia,p3450-0000\x00nvidia,tegra210\x00")
    touch(roots.sys / "devices" / "gpu.0" / "load", "1000\n")
    snapshot = health(roots)
    assert snapshot.jetson is not None
    assert snapshot.jetson.gpu_load_percent == 100.0
    assert snapshot.jetson.gpu_mhz is None
    assert snapshot.reason("jetson.gpu_mhz")
    assert snapshot.jetson.power_mode is None
    assert snapshot.reason("jetson.power_mode")


def test_other_arm_board_is_not_a_jetson(roots: Roots, no_tools: Path) -> None:
    touch(roots.proc / "device-tree" / "compatible", "rockchip,rk3588\x00")
    gpu = roots.sys / "class" / "devfreq" / "fb000000.gpu"
    touch(gpu / "device" / "of_node" / "name", "gpu\x00")
    touch(gpu / "device" / "load", "10\n")
    snapshot = health(roots)
    assert snapshot.jetson is None
    assert "nvidia,tegra" in (snapshot.reason("jetson") or "")


# --- Raspberry Pi ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "now", "since"),
    [
        (0x0, (), ()),
        (0x50005, ("under_voltage", "throttled"), ("under_voltage", "throttled")),
        (0x80008, ("soft_temperature_limit",), ("soft_temperature_limit",)),
        (0xE0000, (), ("arm_frequency_capped", "throttled", "soft_temperature_limit")),
    ],
)
def test_decode_pi_throttled(value: int, now: tuple[str, ...], since: tuple[str, ...]) -> None:
    flags = decode_pi_throttled(value)
    assert flags.raw == value
    assert flags.now() == now
    assert flags.since_boot() == since


def test_parse_get_throttled() -> None:
    assert parse_get_throttled("throttled=0x50005\n") == 0x50005
    assert parse_get_throttled("throttled=0x0") == 0
    assert parse_get_throttled("VCHI initialization failed") is None
    assert parse_get_throttled("throttled=0xzz") is None


def fake_vcgencmd(folder: Path, body: str) -> None:
    script = folder / "vcgencmd"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)


@pytest.mark.skipif(sys.platform == "win32", reason="shell script stands in for vcgencmd")
def test_vcgencmd_on_path(roots: Roots, no_tools: Path) -> None:
    fake_vcgencmd(no_tools, 'test "$1" = get_throttled && echo "throttled=0x50005"')
    snapshot = health(roots)
    pi = snapshot.raspberry_pi
    assert pi is not None
    assert pi.under_voltage
    assert pi.throttled
    assert pi.under_voltage_occurred
    assert not pi.soft_temperature_limit
    assert snapshot.reason("raspberry_pi") is None
    assert "Raspberry Pi (0x50005): now under_voltage, throttled" in snapshot.summary()


@pytest.mark.skipif(sys.platform == "win32", reason="shell script stands in for vcgencmd")
def test_vcgencmd_failure_is_a_reason(roots: Roots, no_tools: Path) -> None:
    fake_vcgencmd(no_tools, 'echo "VCHI initialization failed" >&2; exit 255')
    snapshot = health(roots)
    assert snapshot.raspberry_pi is None
    assert "VCHI initialization failed" in (snapshot.reason("raspberry_pi") or "")


def test_no_vcgencmd_is_a_reason(roots: Roots, no_tools: Path) -> None:
    snapshot = health(roots)
    assert snapshot.raspberry_pi is None
    assert "vcgencmd" in (snapshot.reason("raspberry_pi") or "")


# --- NVML ------------------------------------------------------------------------------------


def test_nvml_absent_is_none_with_reason(
    roots: Roots, no_tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    snapshot = health(roots)
    assert snapshot.gpus is None
    assert "pynvml" in (snapshot.reason("gpus") or "")


class NVMLError(Exception):
    pass


def fake_nvml(*, init_error: str | None = None, unsupported: set[str] | None = None) -> Any:
    unsupported = unsupported or set()

    def call(name: str, value: Any) -> Any:
        def method(*_: Any) -> Any:
            if name in unsupported:
                raise NVMLError("Not Supported")
            return value

        return method

    def init() -> None:
        if init_error:
            raise NVMLError(init_error)

    return SimpleNamespace(
        nvmlInit=init,
        nvmlDeviceGetCount=call("count", 1),
        nvmlDeviceGetHandleByIndex=call("handle", object()),
        nvmlDeviceGetName=call("name", b"NVIDIA Jetson-less GPU"),
        nvmlDeviceGetTemperature=call("temp", 71),
        nvmlDeviceGetTemperatureThreshold=call("threshold", 90),
        nvmlDeviceGetUtilizationRates=call("util", SimpleNamespace(gpu=97, memory=40)),
        nvmlDeviceGetMemoryInfo=call(
            "memory", SimpleNamespace(used=2 * 1024**3, total=8 * 1024**3)
        ),
        nvmlDeviceGetCurrentClocksThrottleReasons=call("reasons", 0x20 | 0x4),
        NVML_TEMPERATURE_GPU=0,
    )


def test_nvml_fake_device(roots: Roots, no_tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    snapshot = health(roots)
    assert snapshot.gpus is not None
    (gpu,) = snapshot.gpus
    assert (gpu.name, gpu.celsius, gpu.utilization_percent) == (
        "NVIDIA Jetson-less GPU",
        71.0,
        97.0,
    )
    assert (gpu.memory_used, gpu.memory_total) == (2 * 1024**3, 8 * 1024**3)
    assert gpu.clock_reasons == ("sw_power_cap", "sw_thermal_slowdown")
    assert gpu.throttled
    (temp,) = by_source(snapshot, "nvml").values()
    assert (temp.name, temp.celsius, temp.high, temp.critical) == (
        "gpu:0 NVIDIA Jetson-less GPU", 71.0, 90.0, 90.0,
    )  # fmt: skip
    assert "clocks held by sw_power_cap, sw_thermal_slowdown" in snapshot.summary()


def test_nvml_unsupported_values_and_failed_init(
    roots: Roots, no_tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(unsupported={"util", "reasons"}))
    snapshot = health(roots)
    assert snapshot.gpus is not None
    assert snapshot.gpus[0].utilization_percent is None
    assert snapshot.gpus[0].throttled is None
    assert snapshot.reason("gpus[0].utilization_percent") == "NVML: Not Supported"
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(init_error="Driver Not Loaded"))
    snapshot = health(roots)
    assert snapshot.gpus is None
    assert "Driver Not Loaded" in (snapshot.reason("gpus") or "")


def test_decode_clock_reasons() -> None:
    assert decode_clock_reasons(0) == ()
    assert decode_clock_reasons(0x1) == ("gpu_idle",)
    assert decode_clock_reasons(0x40 | 0x80) == ("hw_thermal_slowdown", "hw_power_brake_slowdown")
    assert decode_clock_reasons(0x1000 | 0x8) == ("hw_slowdown", "unknown_0x1000")


# --- psutil, the whole snapshot, never raising -----------------------------------------------


def test_psutil_values_are_sane_here() -> None:
    snapshot = health()
    cores = os.cpu_count() or 1
    assert snapshot.cpu_percent is not None
    assert 0 <= snapshot.cpu_percent <= 100 * cores
    assert snapshot.cpu_percent_per_core is not None
    assert all(0 <= c <= 100 for c in snapshot.cpu_percent_per_core)
    assert snapshot.memory_total
    assert snapshot.memory_available is not None
    assert 0 < snapshot.memory_available <= snapshot.memory_total
    assert snapshot.process_rss is not None
    assert snapshot.process_rss > 0
    assert snapshot.time > 1.6e9
    assert snapshot.machine
    assert "CPU" in snapshot.summary()
    assert "memory" in snapshot.summary()


def test_first_call_in_a_thread_primes_then_measures_since_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    real_sleep = _health.time.sleep
    monkeypatch.setattr(_health.time, "sleep", lambda s: slept.append(s) or real_sleep(s))
    results: list[HealthSnapshot] = []
    worker = threading.Thread(target=lambda: results.extend([health(), health()]))
    worker.start()
    worker.join()
    first, second = results
    assert slept == [_health.PRIME_SECONDS]  # the first call primes; the second does not sleep
    assert first.cpu_interval is not None
    assert first.cpu_interval >= _health.PRIME_SECONDS
    assert second.cpu_interval is not None
    assert second.cpu_percent is not None
    blocking = health(interval=0.05)
    assert slept[-1] == 0.05
    assert blocking.cpu_interval is not None
    assert blocking.cpu_interval >= 0.05


def test_every_unknown_top_level_value_has_a_reason(roots: Roots, no_tools: Path) -> None:
    for snapshot in (health(), health(roots)):
        for field in fields(snapshot):
            if getattr(snapshot, field.name) is None:
                assert snapshot.reason(field.name), field.name


def test_to_dict_round_trips_through_json(roots: Roots, no_tools: Path) -> None:
    zone(roots.sys, 0, "cpu-thermal", "48000", (("critical", "110000"),))
    fake_vcgencmd(no_tools, 'echo "throttled=0xe0000"')
    for snapshot in (health(), health(roots)):
        data = snapshot.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert isinstance(data["unavailable"], list)
        assert isinstance(data["temperatures"], list)
    assert data["temperatures"][0]["trips"] == [["critical", 110.0]]
    assert data["raspberry_pi"]["throttled_occurred"] is True


def test_a_failing_reader_becomes_a_reason(
    roots: Roots, no_tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("boom")

    for name in ("read_thermal_zones", "read_jetson", "read_throttle_counts", "read_nvml"):
        monkeypatch.setattr(_health, name, explode)
    monkeypatch.setattr(_health, "_memory", explode)
    snapshot = health(roots)
    assert snapshot.jetson is None
    assert snapshot.gpus is None
    assert snapshot.memory_total is None
    assert snapshot.memory_available is None
    assert "RuntimeError: boom" in (snapshot.reason("jetson") or "")
    assert "boom" in (snapshot.reason("memory_available") or "")
    assert "memory unknown" in snapshot.summary()


def test_nvml_is_initialised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    module = fake_nvml()
    module.nvmlInit = lambda: calls.append(1)
    monkeypatch.setitem(sys.modules, "pynvml", module)
    _health_nvml.read_nvml([])
    _health_nvml.read_nvml([])
    assert calls == [1]


def test_only_health_imports_psutil() -> None:
    code = (
        "import sys, edgeinfer\n"
        "a = 'psutil' in sys.modules\n"
        "import edgeinfer._system.snapshot as h\n"
        "b = 'psutil' in sys.modules\n"
        "h.health(interval=0.01)\n"
        "print(a, b, 'psutil' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]
