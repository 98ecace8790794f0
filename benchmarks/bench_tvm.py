"""Apache TVM on MobileNetV2 (224, fp32, batch 1): compile and tune time, and what tuning buys,
against ONNX Runtime on the same file, in one process.

Arms, interleaved (``_common.interleave``: blocks of calls, the order cycling through every
permutation so drift hits all arms alike), all on the CPU with every physical core:

- ``ort``: a raw ``onnxruntime.InferenceSession`` (CPU provider, ``intra_op_num_threads`` = the
  physical cores);
- ``tvm``: ``edgeinfer.load(path, backend="tvm")``, untuned: what ``tvm.compile`` gives;
- ``tvm raw``: the same compiled module through TVM's own ``relax.VirtualMachine``, no
  edgeinfer: edgeinfer's cost on top of TVM is ``tvm / tvm raw``;
- ``tvm tuned N``: ``options={"tvm": {"tune": N}}`` (MetaSchedule) for each N of ``--trials``
  (default 64; ``--trials 64,256`` tunes twice; 0 leaves tuning out).

Reported: compile and tune seconds (from the sidecar), each arm's median per call, the ratios,
and the largest relative difference of each TVM arm's logits from ONNX Runtime's. The module
cache is a temporary folder, so every run compiles and tunes from scratch. ``RESULT`` lines:
edgeinfer's overhead on TVM (target <= 1.05) and tuned against untuned (reported, no target).
Always exits 0.

    python benchmarks/bench_tvm.py [--quick] [--trials N[,N...]]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import (
    MOBILENET,
    build_models,
    environment,
    example_input,
    format_duration,
    interleave,
    ratio_line,
    result_line,
    timer_overhead_ns,
)


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))


def _raw_vm(module: Path) -> Any:
    import tvm

    vm = tvm.relax.VirtualMachine(tvm.runtime.load_module(str(module)), tvm.cpu())
    main = vm["main"]
    return lambda x: main(tvm.runtime.tensor(x)).numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing (and 16 trials)")
    parser.add_argument("--trials", default=None, help="MetaSchedule trials, N or N,M (64)")
    args = parser.parse_args()
    budgets = [int(t) for t in (args.trials or ("16" if args.quick else "64")).split(",")]
    budgets = [t for t in budgets if t > 0]
    seconds = 8.0 if args.quick else 30.0

    import onnxruntime as ort

    import edgeinfer
    from edgeinfer.backends.tvm.sidecar import read_sidecar
    from edgeinfer.backends.tvm.targets import physical_cores

    cores = physical_cores()
    print(environment())
    print(f"threads: {cores} (the physical cores) for every arm; MetaSchedule trials: {budgets}")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["EDGEINFER_CACHE"] = str(Path(folder) / "cache")
        path = build_models(Path(folder), (MOBILENET,))[MOBILENET]
        x = example_input(MOBILENET)
        options = ort.SessionOptions()
        options.intra_op_num_threads = cores
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        expected = session.run(None, {name: x})[0]

        started = time.perf_counter()
        untuned = edgeinfer.load(path, backend="tvm", threads=cores, fallback=False)
        load_s = time.perf_counter() - started
        module = Path(untuned.details["module"])
        compiled = read_sidecar(module)
        print(
            f"\nuntuned: compiled in {compiled.compile_seconds:.1f} s (load {load_s:.1f} s), "
            f"module {module.stat().st_size / 1e6:.1f} MB, target {compiled.target}; threads "
            f"{untuned.details['threads']}"
        )
        raw = _raw_vm(module)
        arms: dict[str, Any] = {
            "ort": (lambda v: session.run(None, {name: v}), (x,)),
            "tvm": (lambda v: untuned.run({name: v}), (x,)),
            "tvm raw": (raw, (x,)),
        }
        errors = {
            "tvm": _relative(untuned.run({name: x})["logits"], expected),
            "tvm raw": _relative(raw(x), expected),
        }
        tuned: dict[str, Any] = {}
        for trials in budgets:
            started = time.perf_counter()
            model = edgeinfer.load(
                path, backend="tvm", threads=cores, options={"tvm": {"tune": trials}}
            )
            made = read_sidecar(Path(model.details["module"]))
            took = time.perf_counter() - started
            print(
                f"tuned {trials}: {made.tune_trials} trials in {made.tune_seconds:.0f} s, "
                f"compiled in {made.compile_seconds:.1f} s (load {took:.0f} s); threads "
                f"{model.details['threads']}"
            )
            arm = f"tvm tuned {trials}"
            tuned[arm] = model
            arms[arm] = (lambda v, m=model: m.run({name: v}), (x,))
            errors[arm] = _relative(model.run({name: x})["logits"], expected)

        outcome = interleave("mobilenet", arms, 2, seconds, 4, timer_overhead_ns())
        print(f"\n{outcome.rounds} rounds, {outcome.calls} calls per arm")
        for arm in arms:
            detail = "" if arm == "ort" else f"  max rel. diff from ort {errors[arm]:.1e}"
            print(f"  {arm:<10} p50 {format_duration(outcome.medians[arm])}{detail}")
        print(ratio_line(outcome, "tvm", "tvm raw", "edgeinfer on tvm / raw tvm", 1.05))
        print(ratio_line(outcome, "tvm", "ort", "tvm untuned / onnxruntime", None))
        for arm in tuned:
            print(ratio_line(outcome, arm, "ort", f"{arm} / onnxruntime", None))
            print(ratio_line(outcome, arm, "tvm", f"{arm} / untuned", None))
        print()
        print(result_line("tvm", "overhead mobilenet", outcome.ratio("tvm", "tvm raw"), 1.05,
                          f"untuned p50 {format_duration(outcome.medians['tvm'])}"))  # fmt: skip
        for arm, model in tuned.items():
            print(
                f"CONCLUSION tvm | {arm}: tuned/untuned {outcome.ratio(arm, 'tvm'):.3f}, "
                f"tuned/onnxruntime {outcome.ratio(arm, 'ort'):.3f}"
            )
            model.close()
        untuned.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
