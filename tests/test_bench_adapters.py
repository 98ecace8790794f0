"""The bench's optional adapters: MLCommons LoadGen (real, when installed), energy from sysfs
(RAPL and Jetson INA3221 on fake trees) and the latency CDF plot."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edgeinfer.bench import _energy, _loadgen
from edgeinfer.bench._energy import EnergyMeter
from edgeinfer.bench._loadgen import loadgen_available, run_loadgen

HAVE_LOADGEN = importlib.util.find_spec("mlperf_loadgen") is not None
needs_loadgen = pytest.mark.skipif(not HAVE_LOADGEN, reason="pip install mlcommons-loadgen")

# --- LoadGen -------------------------------------------------------------------------------------


def test_loadgen_available_reports_version_or_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    ok, text = loadgen_available()
    assert ok == HAVE_LOADGEN
    assert text.startswith("mlperf_loadgen ") if ok else "pip install mlcommons-loadgen" in text
    monkeypatch.setattr(_loadgen.importlib.util, "find_spec", lambda name: None)
    ok, text = loadgen_available()
    assert not ok
    assert "pip install mlcommons-loadgen" in text


def test_run_loadgen_rejects_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="single-stream"):
        run_loadgen(lambda: None, "server", 0.1, 1)


@pytest.fixture
def quiet_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty working folder and an empty temporary folder, both checked after the test."""
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return work, temp


@needs_loadgen
def test_loadgen_single_stream_leaves_nothing_behind(
    quiet_cwd: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1

    latencies, wall = run_loadgen(call, "single-stream", 0.2, 50)
    assert len(latencies) > 200  # a no-op call: thousands of queries in 0.2 s
    assert calls > len(latencies)  # the untimed calibration calls come first
    assert all(isinstance(ns, int) and ns >= 0 for ns in latencies)
    assert 0.15 < wall < 5.0
    work, temp = quiet_cwd
    assert list(work.iterdir()) == []
    assert list(temp.iterdir()) == []  # LoadGen's log folder is deleted
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


@needs_loadgen
def test_loadgen_offline_serves_every_sample(quiet_cwd: tuple[Path, Path]) -> None:
    def call() -> None:
        time.sleep(0.0005)

    latencies, wall = run_loadgen(call, "offline", 0.2, 20)
    assert len(latencies) >= 20
    assert min(latencies) >= 500_000
    # LoadGen sizes its one query from the measured call time: about 1.1x the duration
    assert 0.1 < wall < 2.0
    assert list(quiet_cwd[0].iterdir()) == []


@needs_loadgen
def test_loadgen_zero_queries_is_one_query(quiet_cwd: tuple[Path, Path]) -> None:
    latencies, _ = run_loadgen(lambda: None, "offline", 0.0, 0)  # LoadGen itself segfaults on 0
    assert len(latencies) >= 1


@needs_loadgen
@pytest.mark.parametrize("scenario", ["single-stream", "offline"])
@pytest.mark.parametrize("error", [ZeroDivisionError, KeyboardInterrupt])
def test_loadgen_reraises_the_calls_error(
    scenario: str,
    error: type[BaseException],
    quiet_cwd: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No calibration calls: every call runs inside LoadGen's test.
    monkeypatch.setattr(_loadgen, "_calibrate", lambda call, budget: 100_000)
    count = 0

    def call() -> None:
        nonlocal count
        count += 1
        if count > 5:
            raise error("model failed")

    # Through LoadGen's C++ an escaping exception would abort the process.
    with pytest.raises(error, match="model failed"):
        run_loadgen(call, scenario, 0.1, 10)
    assert count == 6  # no call after the failure


def test_quiet_captures_native_output(capfd: pytest.CaptureFixture[str]) -> None:
    quiet = _loadgen._Quiet()
    quiet.on()
    os.write(1, b"loadgen says\n")
    os.write(2, b"loadgen warns\n")
    quiet.off()
    quiet.off()  # idempotent
    os.write(1, b"visible\n")
    out, err = capfd.readouterr()
    assert (out, err) == ("visible\n", "")
    assert "loadgen says" in quiet.text()
    assert "loadgen warns" in quiet.text()


# --- energy --------------------------------------------------------------------------------------


def _write(path: Path, text: str | int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")


def _rapl_domain(root: Path, index: str, name: str, energy: int, wrap: int) -> Path:
    folder = root / "class" / "powercap" / f"intel-rapl:{index}"
    _write(folder / "name", name)
    _write(folder / "energy_uj", energy)
    _write(folder / "max_energy_range_uj", wrap)
    return folder / "energy_uj"


def test_rapl_sums_packages_and_handles_wraparound(tmp_path: Path) -> None:
    wrap = 262_143_328_850
    package0 = _rapl_domain(tmp_path, "0", "package-0", wrap - 1_000_000, wrap)
    package1 = _rapl_domain(tmp_path, "1", "package-1", 5_000_000, wrap)
    core = _rapl_domain(tmp_path, "0:0", "core", 0, wrap)  # counted inside package-0
    meter = EnergyMeter(root=tmp_path)
    assert meter.available
    assert meter.reason is None
    assert meter.source == "RAPL package-0+package-1"
    meter.start()
    _write(package0, 500_000)  # wrapped: 1.0 J to the top, then 0.5 J
    _write(package1, 7_500_000)  # 2.5 J
    _write(core, 99_000_000)
    assert meter.stop() == pytest.approx(4.0)


def test_rapl_counts_several_wraps_between_polls(tmp_path: Path) -> None:
    wrap = 10_000_000
    counter = _rapl_domain(tmp_path, "0", "package-0", 9_000_000, wrap)
    meter = EnergyMeter(root=tmp_path)
    meter.start()
    source = meter._source
    assert source is not None
    for value in (2_000_000, 8_000_000, 1_000_000):  # what the 1 s sampling thread would see
        _write(counter, value)
        source.poll()
    _write(counter, 4_000_000)
    # 9 -> 2 (wrap, 3 J), -> 8 (6 J), -> 1 (wrap, 3 J), -> 4 (3 J)
    assert meter.stop() == pytest.approx(15.0)


def test_rapl_leaves_out_psys(tmp_path: Path) -> None:
    _rapl_domain(tmp_path, "0", "package-0", 0, 1 << 32)
    _rapl_domain(tmp_path, "1", "psys", 0, 1 << 32)
    assert EnergyMeter(root=tmp_path).source == "RAPL package-0"


def test_rapl_readable_by_root_only_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _rapl_domain(tmp_path, "0", "package-0", 0, 1 << 32)
    real = _energy._read_text

    def denied(path: Path) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(_energy, "_read_text", denied)
    meter = EnergyMeter(root=tmp_path)
    assert not meter.available
    assert meter.reason is not None
    assert "root only" in meter.reason
    assert "CVE-2020-8694" in meter.reason
    meter.start()
    assert meter.stop() is None


def test_no_source_gives_a_reason_and_never_raises(tmp_path: Path) -> None:
    _write(tmp_path / "firmware" / "devicetree" / "base" / "model", "Raspberry Pi 5 Model B")
    meter = EnergyMeter(root=tmp_path)
    assert not meter.available
    assert meter.source is None
    assert meter.reason is not None
    for words in ("RAPL", "INA3221", "Raspberry Pi"):
        assert words in meter.reason
    assert meter.stop() is None  # never started
    meter.start()
    assert meter.stop() is None


def _ina3221_hwmon(root: Path, rails: dict[int, tuple[str, int, int]]) -> Path:
    """JetPack 5+ layout: channel -> (label, mV, mA)."""
    hwmon = root / "bus" / "i2c" / "drivers" / "ina3221" / "1-0040" / "hwmon" / "hwmon3"
    for channel, (label, millivolts, milliamps) in rails.items():
        _write(hwmon / f"in{channel}_label", label)
        _write(hwmon / f"in{channel}_input", millivolts)
        _write(hwmon / f"curr{channel}_input", milliamps)
    _write(hwmon / "in7_label", "sum of shunt voltages")
    _write(hwmon / "in7_input", 40)
    return hwmon


def _assert_joules(meter: EnergyMeter, watts: float, seconds: float = 0.35) -> None:
    before = time.monotonic()
    meter.start()
    time.sleep(seconds)
    joules = meter.stop()
    elapsed = time.monotonic() - before
    assert joules is not None
    assert watts * (elapsed - 0.1) <= joules <= watts * elapsed


def test_jetson_ina3221_uses_the_input_rail(tmp_path: Path) -> None:
    _ina3221_hwmon(
        tmp_path,
        {1: ("VDD_IN", 5000, 2000), 2: ("VDD_CPU_GPU_CV", 5000, 800), 3: ("NC", 0, 0)},
    )
    meter = EnergyMeter(root=tmp_path)
    assert meter.available
    assert meter.source == "INA3221 VDD_IN"
    _assert_joules(meter, 10.0)  # 5 V x 2 A


def test_jetson_ina3221_sums_rails_without_an_input_rail(tmp_path: Path) -> None:
    _ina3221_hwmon(tmp_path, {1: ("VDD_GPU_SOC", 5000, 1000), 2: ("VDD_CPU_CV", 5000, 600)})
    meter = EnergyMeter(root=tmp_path)
    assert meter.source == "INA3221 VDD_GPU_SOC+VDD_CPU_CV"
    _assert_joules(meter, 8.0)


def test_jetson_ina3221_iio_layout_of_jetpack4(tmp_path: Path) -> None:
    iio = tmp_path / "bus" / "i2c" / "drivers" / "ina3221x" / "6-0040" / "iio:device0"
    _write(iio / "rail_name_0", "POM_5V_IN")
    _write(iio / "in_power0_input", 4000)  # mW
    _write(iio / "rail_name_1", "POM_5V_GPU")
    _write(iio / "in_power1_input", 1000)
    meter = EnergyMeter(root=tmp_path)
    assert meter.source == "INA3221 POM_5V_IN"
    _assert_joules(meter, 4.0)


def test_sensor_vanishing_mid_run_gives_none_and_why(tmp_path: Path) -> None:
    hwmon = _ina3221_hwmon(tmp_path, {1: ("VDD_IN", 5000, 1000)})
    meter = EnergyMeter(root=tmp_path)
    meter.start()
    (hwmon / "curr1_input").unlink()
    assert meter.stop() is None
    assert meter.reason is not None
    assert "stopped being readable" in meter.reason


# --- plot ----------------------------------------------------------------------------------------


def test_plot_cdf_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from edgeinfer.bench._plot import plot_cdf

    runs = [
        {"label": "onnxruntime/cpu", "latencies_us": [7000.0 + i for i in range(200)]},
        {"label": "litert/cpu int8", "latencies_us": [3000.0 * (1 + i / 400) for i in range(300)]},
        {"label": "failed", "latencies_us": []},
    ]
    path = tmp_path / "cdf.png"
    plot_cdf(runs, path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_plot_cdf_without_matplotlib_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeinfer.bench._plot import plot_cdf

    for name in ("matplotlib", "matplotlib.backends.backend_agg", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"--plot needs matplotlib: pip install matplotlib"):
        plot_cdf([{"label": "x", "latencies_us": [1.0]}], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
