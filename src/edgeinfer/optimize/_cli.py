"""``python -m edgeinfer.optimize MODEL --precision int8 --calibration DIR``.

Exit status: 0 an optimised variant was chosen and written; 2 the run finished but the float
original is served (no variant met the budget, or, with ``auto``, none was faster); 1 the
model cannot be optimised here (incompatible model, calibration data that does not fit, a
runtime missing); 64 bad arguments (an existing ``--out`` without ``--overwrite`` too).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from edgeinfer._errors import ConfigurationError, EdgeInferError

__all__ = ["EXIT_FAILED", "EXIT_KEPT_ORIGINAL", "EXIT_OK", "EXIT_USAGE", "main", "parser"]

EXIT_OK, EXIT_FAILED, EXIT_KEPT_ORIGINAL, EXIT_USAGE = 0, 1, 2, 64


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 64 (EX_USAGE): 2 means "original kept" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text}") from error


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, e.g. 224x224: {text}") from error
    return height, width


def _scale(text: str) -> float:
    if "/" in text:
        top, bottom = text.split("/", 1)
        return float(top) / float(bottom)
    return float(text)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m edgeinfer.optimize",
        description="Make int8/fp16 variants of an ONNX or TFLite model, measure size, latency "
        "and accuracy against the float original on held-back calibration samples, and write "
        "a folder edgeinfer.load() serves (the chosen variant first, the original as fallback).",
    )
    p.add_argument("model", type=Path, help="a float .onnx or .tflite file")
    p.add_argument("--precision", choices=("int8", "fp16", "auto"), default="int8")
    p.add_argument(
        "--calibration",
        type=Path,
        metavar="PATH",
        help="a folder of images, or a .npy (batch) / .npz (batches by input name)",
    )
    p.add_argument("--backend", help="measure on this backend (default: what load() picks)")
    p.add_argument("--device", default="cpu", help="measure on this device (default: cpu)")
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        metavar="X",
        help="accuracy budget (default 0.01): 1 - top-1 agreement, or 1 - cosine",
    )
    p.add_argument("--out", type=Path, help="output folder (default: MODEL_STEM.optimized)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--keep-all", action="store_true", help="keep every variant made in --out")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report here")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.25,
        help="share of the samples held back to measure accuracy (default 0.25)",
    )
    p.add_argument("--max-samples", type=int, default=256, help="samples read (default 256)")
    p.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="time spent timing all variants together (default 2)",
    )
    p.add_argument("--threads", type=int, help="intra-op threads of the backend")
    images = p.add_argument_group("image preprocessing (a folder of images)")
    images.add_argument("--size", type=_size, metavar="HxW", help="input size when dynamic")
    images.add_argument("--layout", choices=("NCHW", "NHWC"), help="default: from the model")
    images.add_argument(
        "--scale",
        type=_scale,
        default=1 / 255,
        help="pixel multiplier before mean/std (default 1/255)",
    )
    images.add_argument("--mean", type=_floats, default=(0.0,), help="e.g. 0.485,0.456,0.406")
    images.add_argument("--std", type=_floats, default=(1.0,), help="e.g. 0.229,0.224,0.225")
    images.add_argument(
        "--fit",
        choices=("crop", "stretch"),
        default="crop",
        help="crop: shorter side to size, centre cut (default); stretch",
    )
    images.add_argument("--bgr", action="store_true", help="channels in BGR order")
    p.add_argument("--plain", action="store_true", help="a plain-text table, even on a terminal")
    return p  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from edgeinfer.optimize._api import optimize
    from edgeinfer.optimize._images import ImagePreprocessing
    from edgeinfer.optimize._table import print_report

    try:
        preprocessing = None
        if args.calibration is not None and args.calibration.is_dir():
            preprocessing = ImagePreprocessing(
                args.size, args.layout, args.scale, args.mean, args.std, args.fit, args.bgr
            )
        report = optimize(
            args.model,
            args.precision,
            calibration=args.calibration,
            backend=args.backend,
            device=args.device,
            max_accuracy_drop=args.max_accuracy_drop,
            out=args.out,
            overwrite=args.overwrite,
            preprocessing=preprocessing,
            holdout=args.holdout,
            max_samples=args.max_samples,
            measure_seconds=args.seconds,
            threads=args.threads,
            keep_all=args.keep_all,
        )
    except ConfigurationError as error:
        print(f"edgeinfer.optimize: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (EdgeInferError, FileNotFoundError) as error:
        print(f"edgeinfer.optimize: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print_report(report, plain=args.plain)
    if args.json is not None:
        report.to_json(args.json)
    return EXIT_OK if report.optimized else EXIT_KEPT_ORIGINAL
