"""Cold import time of ``edgeinfer`` against ``numpy``, each in fresh interpreters.

``import edgeinfer`` loads its public names on first use (PEP 562), so two figures are reported
against ``import numpy`` (cold): the bare ``import edgeinfer``, and ``import edgeinfer`` followed
by touching ``edgeinfer.load`` and ``edgeinfer.Model`` (the whole API, numpy included), which is
what a program that loads a model pays. Each child process times only those statements with
``time.perf_counter()``; the two alternate, which one goes first swapping every repeat. Then one
``python -X importtime`` run of each lists the modules ``import edgeinfer`` loads beyond what
``import numpy`` loads, by their own ("self") cost: edgeinfer's modules first, then the standard
library and third-party modules they pull in.

Target: ratio <= 1.2. Always exits 0.

    python benchmarks/bench_import_time.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from _common import environment, iqr, result_line, verdict

BENCH = "import_time"
TARGET = 1.2
MODULES = ("numpy", "edgeinfer", "edgeinfer+api")
_STATEMENTS = {
    "numpy": "import numpy",
    "edgeinfer": "import edgeinfer",
    "edgeinfer+api": "import edgeinfer; edgeinfer.load; edgeinfer.Model",
}
_CHILD = "import time; _t = time.perf_counter(); {statement}; print(time.perf_counter() - _t)"


def _child_env() -> dict[str, str]:
    """The environment of the children: no inherited settings that change imports."""
    env = dict(os.environ)
    for key in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP"):
        env.pop(key, None)
    return env


def import_seconds(module: str) -> float:
    """Seconds ``import module`` takes in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD.format(statement=_STATEMENTS[module])],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(),
    )
    return float(completed.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Row:
    """One line of ``-X importtime``: a module, its own cost and its cumulative cost in us."""

    module: str
    self_us: int
    cumulative_us: int


def import_profile(module: str) -> list[Row]:
    """The ``-X importtime`` rows of ``import module`` in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(),
    )
    rows: list[Row] = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append(Row(name.strip(), int(self_us), int(cumulative_us)))
    return rows


def _owner(module: str) -> str:
    top = module.split(".")[0]
    if top == "edgeinfer":
        return "edgeinfer"
    if top in sys.stdlib_module_names:
        return "stdlib"
    return "third-party"


def median_profile(module: str, runs: int) -> list[Row]:
    """``import_profile`` repeated ``runs`` times, each module's costs the median of the runs."""
    profiles = [import_profile(module) for _ in range(runs)]
    rows: list[Row] = []
    for row in profiles[0]:
        same = [r for profile in profiles for r in profile if r.module == row.module]
        rows.append(
            Row(
                row.module,
                int(np.median([r.self_us for r in same])),
                int(np.median([r.cumulative_us for r in same])),
            )
        )
    return rows


def report_profile(top: int, runs: int) -> None:
    """Print the modules edgeinfer's import adds beyond numpy's, costliest first."""
    numpy_modules = {row.module for row in import_profile("numpy")}
    rows = median_profile("edgeinfer", runs)
    total = next((row.cumulative_us for row in rows if row.module == "edgeinfer"), 0)
    extra = [row for row in rows if row.module not in numpy_modules]
    print(
        f"\n-X importtime, median of {runs} run(s), inflated by the tracing: import edgeinfer "
        f"{total} us; the modules it loads that import numpy does not:"
    )
    for owner in ("edgeinfer", "stdlib", "third-party"):
        mine = sorted((r for r in extra if _owner(r.module) == owner), key=lambda r: -r.self_us)
        if not mine:
            continue
        spent = sum(r.self_us for r in mine)
        print(f"  {owner}: {len(mine)} modules, {spent} us self in all")
        for row in mine[:top]:
            print(f"    {row.self_us:>7} us self {row.cumulative_us:>8} us cumul.  {row.module}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (the target is reported, not asserted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 15")
    parser.add_argument("--repeats", type=int, default=None, help="child processes per module")
    parser.add_argument("--top", type=int, default=12, help="modules listed per group")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 15)
    print(f"Cold import time, edgeinfer vs numpy ({environment()})")
    print(f"{repeats} fresh interpreters per module, alternating; {sys.executable}")
    for module in MODULES:
        import_seconds(module)  # untimed: writes any missing bytecode caches
    times: dict[str, list[float]] = {module: [] for module in MODULES}
    for repeat in range(repeats):
        order = MODULES if repeat % 2 == 0 else MODULES[::-1]
        for module in order:
            times[module].append(import_seconds(module))
    medians = {module: float(np.median(values)) for module, values in times.items()}
    for module in MODULES:
        low, high = iqr(times[module])
        print(
            f"  import {module:<10} median {medians[module] * 1e3:7.1f} ms  "
            f"(IQR {low * 1e3:.1f}-{high * 1e3:.1f} ms)"
        )
    api_ratio = medians["edgeinfer+api"] / medians["numpy"]
    print(
        f"  ratio (import edgeinfer + edgeinfer.load)/numpy {api_ratio:.3f}  "
        f"target <= {TARGET:g}: {verdict(api_ratio, TARGET)}"
    )
    ratio = medians["edgeinfer"] / medians["numpy"]
    per_repeat = np.asarray(times["edgeinfer"]) / np.asarray(times["numpy"])
    low, high = iqr(per_repeat)
    extra_ms = (medians["edgeinfer"] - medians["numpy"]) * 1e3
    print(f"  edgeinfer's own share (difference of medians) {extra_ms:.1f} ms")
    print(
        f"  ratio edgeinfer/numpy {ratio:.3f}  (per-repeat ratio: median "
        f"{float(np.median(per_repeat)):.3f}, IQR {low:.3f}-{high:.3f})  "
        f"target <= {TARGET:g}: {verdict(ratio, TARGET)}"
    )
    report_profile(args.top, 1 if args.quick else 5)
    detail = (
        f"edgeinfer {medians['edgeinfer'] * 1e3:.1f} ms, numpy {medians['numpy'] * 1e3:.1f} ms, "
        f"IQR {low:.3f}-{high:.3f}"
    )
    print(result_line(BENCH, "import edgeinfer vs import numpy", ratio, TARGET, detail))
    api_detail = f"edgeinfer+api {medians['edgeinfer+api'] * 1e3:.1f} ms"
    print(result_line(BENCH, "import edgeinfer + API vs numpy", api_ratio, TARGET, api_detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
