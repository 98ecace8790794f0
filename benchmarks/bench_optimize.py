"""What ``edgeinfer.optimize`` gains here, and what calibration data does to int8 accuracy.

Part 1: the reference workloads (MobileNetV2 and DS-CNN, random He-initialised weights) as float
ONNX on ONNX Runtime and float TFLite on LiteRT, ``precision="auto"``, calibrated on 64
standard-normal inputs (the workloads' own input distribution). Printed: the optimiser's table
for each (size, p50, speedup, accuracy against the float original on the held-back quarter).

Part 2: a real, trained classifier, PaddleOCR's text-direction model (``ch_ppocr_mobile_v2.0_cls``
from the rapidocr-onnxruntime 1.4.4 wheel, fetched from PyPI into edgeinfer's cache): int8 made
three times, calibrated on 64 samples of (a) rendered text lines, half of them upside down, the
kind of input the model serves ("real-like"), (b) standard-normal noise, (c) uniform noise in
[0, 1]; each variant then compared with the float model on 96 *other* rendered text lines.

Always exits 0. ``--quick``: shorter timing, part 1 on DS-CNN only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import edgeinfer
from edgeinfer.bench._workloads import ensure, reference_inputs
from edgeinfer.optimize._accuracy import compare
from edgeinfer.optimize._table import print_report

WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "edge", "inference",
         "model", "quantise", "calibrate", "sample", "held", "back", "accuracy", "budget",
         "latency")  # fmt: skip


def part1(folder: Path, seconds: float, names: list[str]) -> None:
    for name in names:
        for fmt in ("onnx", "tflite"):
            model = ensure(name, fmt, "fp32")
            data = np.concatenate(reference_inputs(name, fmt, 64, seed=3))
            report = edgeinfer.optimize(
                model, "auto", calibration=data, out=folder / f"{name}-{fmt}", keep_all=True,
                measure_seconds=seconds,
            )  # fmt: skip
            print_report(report, plain=True)
            print()


def _render(rng: np.random.Generator, flip: bool) -> np.ndarray:
    """One text line as the model takes it: [1, 3, 48, 192], (x / 255 - 0.5) / 0.5."""
    from PIL import Image, ImageDraw, ImageFont

    text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
    try:
        font = ImageFont.load_default(size=int(rng.integers(22, 34)))
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    paper = tuple(int(v) for v in rng.integers(180, 256, 3))
    image = Image.new("RGB", (400, 48), paper)
    draw = ImageDraw.Draw(image)
    ink = tuple(int(v) for v in rng.integers(0, 80, 3))
    draw.text((int(rng.integers(2, 12)), int(rng.integers(2, 10))), text, fill=ink, font=font)
    image = image.crop((0, 0, int(min(400, draw.textlength(text, font=font) + 16)), 48))
    if flip:
        image = image.rotate(180)
    width = min(192, int(np.ceil(48 * image.width / image.height)))
    image = image.resize((width, 48), Image.Resampling.BILINEAR)
    values = (np.asarray(image, np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    padded = np.zeros((3, 48, 192), np.float32)
    padded[:, :, :width] = values
    return padded[None]


def part2(folder: Path, seconds: float) -> None:
    from published_models import PublishedModel, fetch

    model = fetch(
        PublishedModel(
            "rapidocr-onnxruntime",
            "1.4.4",
            "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        )
    )
    rng = np.random.default_rng(0)
    lines = [_render(rng, i % 2 == 1) for i in range(160)]
    evaluation = lines[64:]
    with edgeinfer.load(model, backend="onnxruntime") as original:
        reference = [original.run(x) for x in evaluation]
    sets = {
        "rendered text": np.concatenate(lines[:64]),
        "normal noise": rng.standard_normal((64, 3, 48, 192)).astype(np.float32),
        "uniform [0,1]": rng.uniform(0, 1, (64, 3, 48, 192)).astype(np.float32),
    }
    print(f"{'calibrated on':15} {'recipe':18} {'own held-back':>22}   {'96 other text lines':>28}")
    for label, data in sets.items():
        report = edgeinfer.optimize(
            model, "int8", calibration=data, out=folder / f"cls-{label[:4]}", keep_all=True,
            max_accuracy_drop=1.0, measure_seconds=seconds,
        )  # fmt: skip
        for variant in report.variants[1:]:
            if variant.file is None or variant.accuracy is None:
                continue
            with edgeinfer.load(Path(report.out or "") / variant.file) as quantised:
                found = compare(reference, [quantised.run(x) for x in evaluation])
            own = variant.accuracy
            print(
                f"{label:15} {variant.recipe:18} top-1 {own.top1:6.1%} cos {own.cosine:.3f}"
                f"   top-1 {found.top1:6.1%} cos {found.cosine:.3f} "
                f"max abs {found.max_abs_error:.2f}"
            )
    print("CONCLUSION: calibrate on what the model serves; measure accuracy on it too")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 10.0
    names = ["ds_cnn"] if args.quick else ["mobilenet_v2", "ds_cnn"]
    with tempfile.TemporaryDirectory(prefix="edgeinfer-optimize-") as folder:
        part1(Path(folder), seconds, names)
        try:
            part2(Path(folder), seconds / 5)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # no Pillow; the wheel not fetched (pytest's Skipped)
            print(f"part 2 skipped: {type(error).__name__}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
