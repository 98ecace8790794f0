"""Memory: what a model costs through edgeinfer against the raw runtime, in resident memory.

Edge boards have little memory, so edgeinfer's own share is measured: for each case, one fresh
process imports the runtime (and edgeinfer), records its resident set size (RSS, from
/proc/self/statm), opens the model, runs it once from one thread, and records the RSS again.
The raw arm opens the same file with the runtime's own API; the edgeinfer arm with
``edgeinfer.load`` (default arguments: warm-up and golden output included). Each arm runs in
``--repeat`` fresh processes and the median increase is reported; edgeinfer's cost is the
difference of the two medians. Runtimes already imported on both sides, so only the model's
cost is compared.

Cases: MobileNetV2 fp32 ONNX on ONNX Runtime, MobileNetV2 int8 .tflite on LiteRT, and both
loaded side by side (the issue's measurement). Target: at most +5 MB per model over the raw
runtime (moonshot +1 MB). Always exits 0.

    python benchmarks/bench_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import environment, verdict

BENCH = "memory"
TARGET_MB = 5.0

_PRELUDE = """
import json, os, sys
import numpy as np
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import onnxruntime, ai_edge_litert.interpreter
import edgeinfer
import edgeinfer._model.load  # edgeinfer's own modules, imported on both sides
"""

_RAW_ONNX = """
session = onnxruntime.InferenceSession(ONNX, providers=["CPUExecutionProvider"])
session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 224, 224), np.float32)})
keep.append(session)
"""
_RAW_TFLITE = """
interpreter = ai_edge_litert.interpreter.Interpreter(model_path=TFLITE)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
interpreter.invoke()
interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
keep.append(interpreter)
"""
_EDGE_ONNX = """
model = edgeinfer.load(ONNX)
model.run(np.zeros((1, 3, 224, 224), np.float32))
keep.append(model)
"""
_EDGE_TFLITE = """
model = edgeinfer.load(TFLITE)
spec = model.inputs[0]
model.run(np.zeros(spec.shape, spec.dtype))
keep.append(model)
"""
CASES = {
    "mobilenet_v2 onnx (onnxruntime)": (_RAW_ONNX, _EDGE_ONNX),
    "mobilenet_v2 int8 tflite (litert)": (_RAW_TFLITE, _EDGE_TFLITE),
    "both side by side": (_RAW_ONNX + _RAW_TFLITE, _EDGE_ONNX + _EDGE_TFLITE),
}


def _increase(body: str, onnx: Path, tflite: Path) -> float:
    code = (
        _PRELUDE
        + textwrap.dedent(f"""
        ONNX, TFLITE = {str(onnx)!r}, {str(tflite)!r}
        keep = []
        before = rss()
    """)
        + textwrap.dedent(body)
        + "\nprint(json.dumps(rss() - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1]) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 processes per arm instead of 7")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    print(f"Resident memory per model, edgeinfer vs raw runtime ({environment()})")
    print(f"{repeat} fresh processes per arm; MB = 1e6 bytes; the median increase is kept")
    from edgeinfer.bench._workloads import ensure

    with tempfile.TemporaryDirectory(prefix="edgeinfer-memory-"):
        onnx = ensure("mobilenet_v2", "onnx", "fp32")
        tflite = ensure("mobilenet_v2", "tflite", "int8")
        for case, (raw_body, edge_body) in CASES.items():
            raw = statistics.median(_increase(raw_body, onnx, tflite) for _ in range(repeat))
            edge = statistics.median(_increase(edge_body, onnx, tflite) for _ in range(repeat))
            models = 2 if case == "both side by side" else 1
            extra = edge - raw
            print(f"\n[{case}]")
            print(f"  raw runtime   +{raw:7.1f} MB")
            print(f"  edgeinfer     +{edge:7.1f} MB")
            print(f"  edgeinfer's own share {extra:+.1f} MB ({extra / models:+.1f} MB per model)")
            per_model = extra / models
            print(
                f"RESULT {BENCH} | {case} | MB per model {per_model:+.1f} | target <= "
                f"{TARGET_MB:g} | {verdict(per_model, TARGET_MB)} | raw +{raw:.1f} MB, "
                f"edgeinfer +{edge:.1f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
