"""The round trip of the ``remote`` backend on loopback: JSON tensors against the binary tensor
data extension, and both against running the same model locally.

A server (``python -m edgeinfer.serve``, KServe's ModelServer, one intra-op thread) serves the
one-op model and MobileNetV2 on 127.0.0.1; this process loads each three ways: ``onnxruntime``
locally (one thread), ``remote`` with binary tensors (the default), ``remote`` with JSON. The
arms are timed in interleaved rounds (``_common.interleave``). Server and client share this
machine's cores, so the remote figures include the server's own work and its Python layers
(FastAPI, KServe's decoding) as well as the wire.

Measured here (x86-64, 2 cores, KServe 0.21): one-op 1.30 ms binary vs 1.48 ms JSON (local 9 us);
MobileNetV2 (588 KiB input) 267 ms binary vs 728 ms JSON (local 22 ms). Most of the binary figure
is KServe's server side: its REST decoder turns binary input tensors into Python lists
(``InferRequest.from_bytes`` calls ``set_data_from_numpy(..., binary_data=False)``, one
``.item()`` per element); KServe's own trace puts ``predict`` at 25-33 ms of a 245 ms handler.

Target: binary / JSON <= 1.0 on each model (the binary extension is never slower). Needs
``pip install 'edgeinfer[serve]'``; prints SKIP and exits 0 without it.

    python benchmarks/bench_remote_roundtrip.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import edgeinfer
from _common import (
    ONE_OP,
    build_models,
    environment,
    example_input,
    format_duration,
    interleave,
    ratio_line,
    result_line,
    timer_overhead_ns,
)

BENCH = "bench_remote_roundtrip"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 20 s)")
    quick = parser.parse_args().quick
    missing = [
        name for name in ("kserve", "tritonclient") if importlib.util.find_spec(name) is None
    ]
    if missing:
        print(f"SKIP {BENCH}: {', '.join(missing)} not installed (pip install 'edgeinfer[serve]')")
        return 0
    from oip_server import serving  # tests/oip_server.py: the server the tests use

    print(f"{BENCH}: {environment()}, tritonclient {edgeinfer.backends()[-1].version}")
    timer = timer_overhead_ns()
    with tempfile.TemporaryDirectory() as folder:
        files = build_models(Path(folder))
        with serving(list(files.values()), Path(folder)) as server:
            for name, path in files.items():
                served = path.stem
                x = example_input(name)
                payload = x.nbytes
                with (
                    edgeinfer.load(path, backend="onnxruntime", threads=1) as local,
                    edgeinfer.load(server.url(served)) as binary,
                    edgeinfer.load(server.url(served), options={"remote": {"binary": False}}) as js,
                ):
                    arms = {"local": (local.run, (x,)), "binary": (binary.run, (x,)),
                            "json": (js.run, (x,))}  # fmt: skip
                    block = 20 if name == ONE_OP else 3
                    seconds = (
                        (4.0 if quick else 12.0) if name == ONE_OP else (6.0 if quick else 20.0)
                    )
                    outcome = interleave(name, arms, block, seconds, 5, timer)
                size = f"{payload / 1024:.1f} KiB float32"
                print(f"\n{name}: input {size}, {outcome.calls} calls per arm")
                for arm in arms:
                    print(f"  {arm:<8} median {format_duration(outcome.medians[arm])}")
                print(ratio_line(outcome, "binary", "json", "remote binary / remote JSON", 1.0))
                print(ratio_line(outcome, "binary", "local", "remote binary / local", None))
                extra = outcome.medians["binary"] - outcome.medians["local"]
                print(
                    result_line(
                        BENCH,
                        f"{name} binary vs JSON",
                        outcome.ratio("binary", "json"),
                        1.0,
                        f"binary {format_duration(outcome.medians['binary'])}, JSON "
                        f"{format_duration(outcome.medians['json'])}, local "
                        f"{format_duration(outcome.medians['local'])}",
                    )
                )
                print(
                    f"CONCLUSION {BENCH} | {name}: the loopback round trip adds "
                    f"{format_duration(extra)} per call over running it here (binary tensors)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
