"""A folder of images as calibration samples, preprocessed the way the model expects them.

Decoding needs Pillow (optional: ``pip install pillow``). The model must have one image input:
4-D, channels (1 or 3) first (NCHW) or last (NHWC). Each image is converted to RGB (or gray for
one channel), resized to the input's height and width (``fit="crop"``: the shorter side to the
target, then the centre cut out, the usual ImageNet evaluation; ``"stretch"``: straight to the
target size), then ``value = (pixel * scale - mean) / std`` per channel, as float32 in the
input's layout. A uint8 input gets the raw pixels. Files are read in sorted order, recursively;
above ``max_samples`` an evenly spaced subset is taken, so class folders all get their share.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeinfer._errors import BackendUnavailable, ConfigurationError, InvalidInput
from edgeinfer._types import TensorSpec, _ToDict

__all__ = ["IMAGE_SUFFIXES", "ImagePreprocessing", "image_samples"]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)


@dataclass(frozen=True, slots=True)
class ImagePreprocessing(_ToDict):
    """How a folder of images becomes model inputs; ``None`` fields are read from the model.

    ``size``: (height, width), needed when the input's are dynamic. ``layout``: ``"NCHW"`` or
    ``"NHWC"``. ``scale``, ``mean``, ``std``: ``value = (pixel * scale - mean) / std``, with
    one value or one per channel (ImageNet: ``scale=1/255, mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225)``). ``fit``: ``"crop"`` or ``"stretch"``. ``bgr``: channels in
    BGR order (models trained with OpenCV).
    """

    size: tuple[int, int] | None = None
    layout: str | None = None
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    fit: str = "crop"
    bgr: bool = False

    def __post_init__(self) -> None:
        if self.layout not in (None, "NCHW", "NHWC"):
            raise ConfigurationError(f"layout must be 'NCHW' or 'NHWC', got {self.layout!r}")
        if self.fit not in ("crop", "stretch"):
            raise ConfigurationError(f"fit must be 'crop' or 'stretch', got {self.fit!r}")
        if self.size is not None and (
            len(self.size) != 2 or not all(isinstance(d, int) and d > 0 for d in self.size)
        ):
            raise ConfigurationError(f"size must be (height, width), got {self.size!r}")
        if any(s == 0 for s in self.std):
            raise ConfigurationError("std must not hold a zero")


def _layout(spec: TensorSpec, asked: str | None) -> str:
    shape = spec.shape
    if shape is None or len(shape) != 4:
        raise InvalidInput(
            f"input {spec.name!r} is not an image batch (4-D, NCHW or NHWC), its shape is "
            f"{None if shape is None else list(shape)}: give calibration arrays instead"
        )
    if asked is not None:
        return asked
    first, last = shape[1] in (1, 3), shape[3] in (1, 3)
    if first and not last:
        return "NCHW"
    if last and not first:
        return "NHWC"
    raise ConfigurationError(
        f"cannot tell the layout of input {spec.name!r} {list(shape)}: give "
        "ImagePreprocessing(layout='NCHW' or 'NHWC') (--layout)"
    )


def _pillow() -> object:
    if importlib.util.find_spec("PIL") is None:
        raise BackendUnavailable(
            "pillow",
            "reading calibration images needs Pillow, which is not installed here; or give "
            "calibration arrays instead of a folder",
            "pip install pillow",
        )
    from PIL import Image

    return Image


def _target(spec: TensorSpec, layout: str, size: tuple[int, int] | None) -> tuple[int, int, int]:
    shape = spec.shape or ()
    h, w, c = (shape[2], shape[3], shape[1]) if layout == "NCHW" else shape[1:4]
    channels = c if c is not None else 3
    if channels not in (1, 3):
        raise InvalidInput(f"input {spec.name!r} has {channels} channels; images give 1 or 3")
    if size is not None:
        return size[0], size[1], channels
    if h is None or w is None:
        raise ConfigurationError(
            f"input {spec.name!r} has a dynamic height or width {list(shape)}: give "
            "ImagePreprocessing(size=(height, width)) (--size HxW)"
        )
    return h, w, channels


def _per_channel(values: Sequence[float], channels: int, what: str) -> np.ndarray:
    if len(values) not in (1, channels):
        raise ConfigurationError(f"{what} needs 1 or {channels} values, got {len(values)}")
    return np.asarray(values, dtype=np.float32).reshape(1, 1, -1)


def image_samples(
    folder: Path,
    specs: Sequence[TensorSpec],
    preprocessing: ImagePreprocessing | None,
    max_samples: int,
) -> tuple[list[np.ndarray], str]:
    """One array per image (batch of one, in the input's layout) and a description."""
    if len(specs) != 1:
        raise ConfigurationError(
            f"a folder of images feeds a model with one image input; this model has "
            f"{len(specs)} inputs ({', '.join(s.name for s in specs)}): give arrays instead"
        )
    settings = preprocessing or ImagePreprocessing()
    spec = specs[0]
    layout = _layout(spec, settings.layout)
    height, width, channels = _target(spec, layout, settings.size)
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise ConfigurationError(
            f"no images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    if len(files) > max_samples:  # evenly spaced, so that every class folder gets its share
        picked = [files[int(i * len(files) / max_samples)] for i in range(max_samples)]
    else:
        picked = files
    image_module: object = _pillow()
    mean = _per_channel(settings.mean, channels, "mean")
    std = _per_channel(settings.std, channels, "std")
    arrays = []
    for path in picked:
        pixels = _decode(image_module, path, (height, width), channels, settings)
        if settings.bgr and channels == 3:
            pixels = pixels[..., ::-1]
        if spec.dtype == np.uint8:
            values = pixels.astype(np.uint8)
        else:
            values = ((pixels * settings.scale - mean) / std).astype(spec.dtype)
        batch = values[np.newaxis]  # [1, H, W, C]
        if layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        arrays.append(np.ascontiguousarray(batch))
    shown = f"{len(picked)} of {len(files)}" if len(picked) < len(files) else f"{len(files)}"
    how = f"{layout} {height}x{width}, fit={settings.fit}, scale={settings.scale:.6g}"
    return arrays, f"images: {shown} from {folder} ({how})"


def _decode(
    image_module: object,
    path: Path,
    size: tuple[int, int],
    channels: int,
    settings: ImagePreprocessing,
) -> np.ndarray:
    """The image at ``path`` as float32 [H, W, C] pixels, resized and cropped."""
    pil = image_module  # PIL.Image
    height, width = size
    try:
        with pil.open(path) as opened:  # type: ignore[attr-defined]
            image = opened.convert("L" if channels == 1 else "RGB")
    except Exception as error:
        raise InvalidInput(f"calibration image {path} cannot be read: {error}") from error
    bilinear = pil.Resampling.BILINEAR  # type: ignore[attr-defined]
    if settings.fit == "crop":
        factor = max(height / image.height, width / image.width)
        scaled = (
            max(width, round(image.width * factor)),
            max(height, round(image.height * factor)),
        )
        image = image.resize(scaled, bilinear)
        left, top = (scaled[0] - width) // 2, (scaled[1] - height) // 2
        image = image.crop((left, top, left + width, top + height))
    else:
        image = image.resize((width, height), bilinear)
    pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(height, width, channels)
