"""Conformance: every ONNX backend node test that a raw runtime passes also passes through
``edgeinfer.load(..., backend=<it>)`` with default arguments, and edgeinfer crashes no case
that the raw runtime runs without crashing.

The cases, modes and comparison rules are in ``conformance.py``. The data (onnx 1.18.0's node
tests) is fetched with pip into edgeinfer's cache folder on first use; the tests skip with the
reason when pip cannot reach the package registry. The whole run takes about a minute on two
cores and is part of the default run; ``pytest -m "not conformance"`` or
``EDGEINFER_CONFORMANCE=0`` leaves it out, ``nox -s conformance`` runs only it. A failure names
the report it wrote (every lost case by cause, with ``warmup=0`` reruns); ``python
tests/conformance.py`` writes the same.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import conformance

pytestmark = pytest.mark.conformance

# Cases the comparison leaves out: name -> why. Only for cases where raw and edgeinfer cannot be
# held to the same result (flaky on the raw runtime, or a behaviour edgeinfer refuses on
# purpose); a bug stays in, so that the test shows it.
EXCLUDED: dict[str, str] = {}

# edgeinfer's backend name -> (raw mode, edgeinfer mode, the runtime's module)
BACKENDS = {
    "onnxruntime": ("ort", "edgeinfer-ort", "onnxruntime"),
    "openvino": ("openvino", "edgeinfer-openvino", "openvino"),
}

Results = dict[tuple[str, str], conformance.Outcome]


def _enabled(config: pytest.Config) -> bool:
    if os.environ.get("EDGEINFER_CONFORMANCE", "").strip() == "0":
        return False
    expression = str(config.getoption("markexpr", "") or "")
    return "not conformance" not in expression


@pytest.fixture(scope="session")
def run_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Results, Path]]:
    """Runs the raw and edgeinfer modes of one backend once per session: outcomes and report."""
    if not _enabled(request.config):
        pytest.skip("left out: EDGEINFER_CONFORMANCE=0 or -m 'not conformance'")
    if importlib.util.find_spec("onnx") is None:
        pytest.skip("the onnx package reads the node test data: pip install 'edgeinfer[test]'")
    done: dict[str, tuple[Results, Path]] = {}
    unavailable: list[str] = []  # the data could not be fetched: skip the rest at once

    def run(backend: str) -> tuple[Results, Path]:
        if unavailable:
            pytest.skip(unavailable[0])
        if backend not in done:
            raw, through, module = BACKENDS[backend]
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not installed")
            started = time.perf_counter()
            try:
                results, synthetic = conformance.run_all((raw, through))
            except conformance.DataUnavailable as error:
                unavailable.append(str(error))
                pytest.skip(str(error))
            seconds = time.perf_counter() - started
            report = tmp_path_factory.mktemp("conformance") / f"{backend}.md"
            conformance.write_report(results, report, seconds, EXCLUDED, synthetic)
            done[backend] = results, report
        return done[backend]

    return run


def _listing(outcomes: list[conformance.Outcome], limit: int = 30) -> str:
    lines = [f"  {o.case}: {o.stage}: {o.message[:200]}" for o in outcomes[:limit]]
    if len(outcomes) > limit:
        lines.append(f"  ... and {len(outcomes) - limit} more: see the report")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "backend", [pytest.param(name, marks=pytest.mark.backend(name)) for name in BACKENDS]
)
def test_edgeinfer_passes_what_the_runtime_passes(
    run_backend: Callable[[str], tuple[Results, Path]], backend: str
) -> None:
    results, report = run_backend(backend)
    raw, through, _ = BACKENDS[backend]
    assert conformance.passed(results, raw), f"raw {raw} passed no case: the harness is broken"
    lost = conformance.lost(results, through, EXCLUDED)
    assert not lost, (
        f"{len(lost)} case(s) pass on raw {raw} but not through edgeinfer (report: {report}):\n"
        + _listing(lost)
    )


@pytest.mark.parametrize(
    "backend", [pytest.param(name, marks=pytest.mark.backend(name)) for name in BACKENDS]
)
def test_edgeinfer_crashes_nothing_the_runtime_runs(
    run_backend: Callable[[str], tuple[Results, Path]], backend: str
) -> None:
    results, report = run_backend(backend)
    _, through, _ = BACKENDS[backend]
    crashes = sorted(conformance.new_crashes(results, through, EXCLUDED))
    assert not crashes, (
        f"{len(crashes)} case(s) crash or hang only through edgeinfer (report: {report}):\n"
        + _listing([results[case, through] for case in crashes])
    )


def test_excluded_cases_exist() -> None:
    """Every exclusion names a real case (checked when the data is already fetched)."""
    node = conformance.cache_root() / "node"
    if not EXCLUDED or not node.is_dir():
        pytest.skip("no exclusions, or no node test data fetched yet")
    missing = sorted(set(EXCLUDED) - set(conformance.case_names(node)))
    assert not missing, f"EXCLUDED names cases that do not exist: {missing}"
