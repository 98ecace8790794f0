"""Run every edgeinfer benchmark in sequence, then print their RESULT and CONCLUSION lines as one
summary.

Each benchmark runs in its own interpreter, so none inherits another's imports or warm caches.
Exits 0 when every script ran (a MISS against a target is a result, not a failure), 1 when a
script crashed.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_run_overhead.py",
    "bench_import_time.py",
    "bench_load_time.py",
    "bench_litert_overhead.py",
    "bench_litert_threads.py",
    "bench_cli_vs_raw.py",
    "bench_recorder.py",
    "bench_isolation.py",
    "bench_remote_roundtrip.py",
    "bench_selection.py",
)
# Lines a script prints that the summary repeats: verdicts against targets, and conclusions.
SUMMARY_PREFIXES = ("RESULT ", "CONCLUSION ")


def run_script(script: str, quick: bool) -> tuple[int, list[str]]:
    """Run one script, echoing its output; its exit status and its summary lines."""
    command = [sys.executable, str(BENCH_DIR / script), *(["--quick"] if quick else [])]
    results: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith(SUMMARY_PREFIXES):
                results.append(line.rstrip("\n"))
    return process.returncode, results


def main(argv: list[str] | None = None) -> int:
    """Run the scripts; 0 when all ran, 1 when one crashed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="each script's short run (~15 s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary: list[str] = []
    failed: list[str] = []
    for script in SCRIPTS:
        print(f"\n===== {script} {'--quick' if args.quick else ''}".rstrip(), flush=True)
        status, results = run_script(script, args.quick)
        summary.extend(results)
        if status != 0:
            failed.append(f"{script} exited with status {status}")
    print(f"\n===== summary ({time.perf_counter() - started:.0f} s)")
    for line in summary:
        print(line.removeprefix("RESULT "))
    for line in failed:
        print(f"FAILED: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
