"""``python -m edgeinfer.compile MODEL --backend tvm [--tune N] [--target JSON] [--shape
NAME:1x3x224x224] [--out PATH]``.

Exit status: 0 compiled; 1 the model cannot be compiled here (incompatible model, runtime
missing); 64 bad arguments (an existing ``--out`` without ``--overwrite`` too).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from edgeinfer._errors import ConfigurationError, EdgeInferError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main", "parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 64


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 64 (EX_USAGE), like edgeinfer's other commands."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _target(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text  # a bare kind ('llvm'); the backend refuses anything else with the reason
    return value


def _shape(text: str) -> tuple[str, list[int]]:
    name, _, dims = text.rpartition(":")
    try:
        sizes = [int(d) for d in dims.lower().split("x")]
    except ValueError:
        sizes = []
    if not name or not sizes or any(d <= 0 for d in sizes):
        raise argparse.ArgumentTypeError(f"expected NAME:1x3x224x224, got {text!r}")
    return name, sizes


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m edgeinfer.compile",
        description="Compile a model ahead of time, so a device loads it without compiling.",
    )
    p.add_argument("model", type=Path, help="the model to compile (ONNX for tvm)")
    p.add_argument("--backend", default="tvm", help="the backend to compile for (default: tvm)")
    p.add_argument("--device", default="cpu", help="cpu (default) or gpu[:N]")
    p.add_argument(
        "--out", type=Path, help="the file to write (default: MODEL's stem + .tvm.so beside it)"
    )
    p.add_argument(
        "--target",
        type=_target,
        help='a TVM target as JSON, e.g. \'{"kind": "llvm", "mcpu": "cortex-a76"}\' '
        "(default: this machine's CPU, or its GPU with --device gpu)",
    )
    p.add_argument("--tune", type=int, default=0, metavar="TRIALS",
                   help="MetaSchedule tuning trials (default 0: untuned)")  # fmt: skip
    p.add_argument("--shape", action="append", type=_shape, default=[], metavar="NAME:1x3x224x224",
                   help="fix an input's dynamic sizes (repeat per input)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the written path")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.tune < 0:
        parser().error(f"--tune must be 0 or more trials, got {args.tune}")
    if not args.model.is_file():
        parser().error(f"model file not found: {args.model}")
    if args.out is not None and args.out.exists() and not args.overwrite:
        parser().error(f"{args.out} exists; pass --overwrite to replace it")
    if not args.quiet:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    options: dict[str, Any] = {"tune": args.tune}
    if args.shape:
        options["shapes"] = dict(args.shape)
    if args.target is not None:
        options["target"] = args.target
    from edgeinfer.compile._api import compile_model

    started = time.perf_counter()
    try:
        written = compile_model(
            args.model, args.backend, out=args.out, device=args.device, options=options
        )
    except ConfigurationError as error:
        print(f"python -m edgeinfer.compile: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except EdgeInferError as error:
        print(f"python -m edgeinfer.compile: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.quiet:
        print(written)
    else:
        seconds = time.perf_counter() - started
        print(f"compiled {args.model.name} for {args.backend} in {seconds:.1f} s: {written}")
        print(f"load it with edgeinfer.load({str(written)!r})")
    return EXIT_OK
