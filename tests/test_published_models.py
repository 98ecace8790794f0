"""edgeinfer on real models that others published, fetched from pinned PyPI wheels at test time.

Nobody on this project wrote these models, so they carry what real exports carry: fully dynamic
detector inputs that reject sizes the network cannot divide, several dynamic dimensions with odd
names (``'?'``, ``p2o.DynamicDimension.1``), recurrent state fed back call after call, a scalar
input, and output names that a runtime may report differently. Each model is checked the same way:

- ``edgeinfer.load(path)`` opens it, also with ``device="cpu"`` and pinned to each backend that
  reads ONNX (onnxruntime, openvino);
- on realistic inputs (synthetic photos, pages, text lines, speech-like audio chunk by chunk) the
  outputs equal a plain ``onnxruntime.InferenceSession``'s bit for bit on backend onnxruntime, and
  within 1e-4 relative on openvino at fp32;
- input and output names are the model's own, the same on both backends;
- an input the model itself refuses raises ``InvalidInput``, every time, and the backend that
  served keeps serving and still gives the plain runtime's results.

The wheels are fetched once into edgeinfer's cache folder (``published_models``); without access
to the package index the tests are skipped, saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeinfer
from published_models import PublishedModel, fetch

ort = pytest.importorskip("onnxruntime")

Feeds = dict[str, np.ndarray]
Outputs = dict[str, np.ndarray]
Run = Callable[[Feeds], Outputs]

# fp32 OpenVINO against onnxruntime: relative 1e-4, and an absolute floor of 1e-4 of the
# output's own scale for the elements near zero (a detector's box corners are hundreds of
# pixels while its class scores are near 0).
RTOL = 1e-4
ATOL_OF_SCALE = 1e-4
# Failures in a row after which a FallbackPolicy (the default one) demotes a backend: an invalid
# input is sent one time more than that.
DEMOTION_THRESHOLD = edgeinfer.FallbackPolicy().threshold

RAPIDOCR = ("rapidocr-onnxruntime", "1.4.4")
SILERO = ("silero-vad", "6.2.3")
MODELS = {
    # YOLOv8n (Ultralytics export), images [batch, 3, height, width] all dynamic; H, W must be
    # multiples of 32 (the neck concatenates upsampled and skipped feature maps).
    "yolov8n": PublishedModel(
        "nudenet",
        "3.4.2",
        "nudenet/320n.onnx",
        "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
    ),
    # PP-OCRv4 text detector (DBNet): x [N, 3, H, W] all dynamic, H, W multiples of 32.
    "ppocr-det": PublishedModel(
        *RAPIDOCR,
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    # PP-OCRv4 text recogniser (SVTR-LCNet + CTC): x [batch, 3, '?', width], 48 high in practice.
    "ppocr-rec": PublishedModel(
        *RAPIDOCR,
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    ),
    # PP-OCR text direction classifier: x [None, 3, '?', '?']: two dynamic dims that share the
    # name '?' and are independent (48 x 192 in practice).
    "ppocr-cls": PublishedModel(
        *RAPIDOCR,
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
    # Silero VAD v6, opset 18 without If: input [batch, sequence], sr (a scalar int64),
    # state [2, batch, 128] fed back from stateN.
    "silero-vad": PublishedModel(
        *SILERO,
        "silero_vad/data/silero_vad_op18_ifless.onnx",
        "7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28",
    ),
    # Silero VAD v6, the 16 kHz export made for OpenVINO: static input [1, 576] and state
    # [2, 1, 128]; its output 'output' is produced inside an If branch.
    "silero-vad-16k-static": PublishedModel(
        *SILERO,
        "silero_vad/data/silero_vad_openvino_16k.onnx",
        "7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87",
    ),
}


# --- realistic inputs -------------------------------------------------------------------------
def _photo(height: int, width: int, seed: int) -> np.ndarray:
    """An RGB uint8 'photo': a lit gradient background, skin- and cloth-coloured blobs, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[...] = 90 + 80 * (y / height)[..., None] * np.array([0.9, 1.0, 1.1], np.float32)
    image += 25 * np.sin(x / width * 3.1 + y / height * 1.7)[..., None]
    colours = np.array([[224, 172, 138], [198, 134, 66], [141, 85, 36], [40, 60, 140]], np.float32)
    for colour in colours[rng.integers(0, len(colours), 6)]:
        cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
        ry, rx = rng.uniform(0.08, 0.3) * height, rng.uniform(0.05, 0.2) * width
        inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
        shade = 1.0 - 0.25 * ((x - cx) / rx)[inside, None]
        image[inside] = colour * shade
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _glyphs(canvas: np.ndarray, top: int, left: int, height: int, right: int, rng: Any) -> None:
    """Dark strokes in character cells along one line of text, drawn into ``canvas``."""
    x = left
    while x + height < right:
        cell = int(height * rng.uniform(0.55, 1.0))
        if rng.random() < 0.15:  # a space between words
            x += cell // 2
            continue
        ink = rng.integers(0, 70)
        stroke = max(2, height // 9)
        for _ in range(rng.integers(2, 5)):
            if rng.random() < 0.5:  # vertical stroke
                sx = x + rng.integers(0, cell - stroke)
                sy, ey = sorted(top + rng.integers(0, height, 2))
                canvas[sy : max(ey, sy + height // 2), sx : sx + stroke] = ink
            else:  # horizontal stroke
                sy = top + rng.integers(0, height - stroke)
                canvas[sy : sy + stroke, x : x + cell - 1] = ink
        x += cell + stroke


def _page(height: int, width: int, seed: int) -> np.ndarray:
    """An RGB uint8 scanned page: off-white paper, lines of dark glyphs, scanner noise."""
    rng = np.random.default_rng(seed)
    gray = np.full((height, width), 235, np.uint8)
    top = 24
    while top + 40 < height:
        line = int(rng.integers(14, 30))
        _glyphs(gray, top, 24, line, int(width * rng.uniform(0.5, 0.95)), rng)
        top += line + int(rng.integers(10, 30))
    page = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    page += rng.normal(0, 3, page.shape)
    return np.clip(page, 0, 255).astype(np.uint8)


def _text_line(width: int, seed: int, height: int = 48) -> np.ndarray:
    """An RGB uint8 crop of one line of text, as the OCR recogniser and classifier get it."""
    rng = np.random.default_rng(seed)
    gray = np.full((height, width), 240, np.uint8)
    _glyphs(gray, 8, 4, height - 16, width - 4, rng)
    line = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    line += rng.normal(0, 3, line.shape)
    return np.clip(line, 0, 255).astype(np.uint8)


def _nchw(images: Sequence[np.ndarray], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    batch = np.stack(images).astype(np.float32) / 255.0
    batch = (batch - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def _speech(chunks: int, seed: int) -> np.ndarray:
    """16 kHz float32 audio: quiet room noise, then voiced speech-like sound, then noise."""
    rng = np.random.default_rng(seed)
    rate, total = 16000, chunks * 512
    t = np.arange(total) / rate
    f0 = 130 + 25 * np.sin(2 * np.pi * 1.5 * t)  # a gliding pitch
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    envelope = np.zeros(total)
    speech_from, speech_to = total // 4, 3 * total // 4
    envelope[speech_from:speech_to] = 0.3 * syllables[speech_from:speech_to]
    audio = envelope * voiced + rng.normal(0, 0.003, total)
    audio[speech_to:] += rng.normal(0, 0.05, total - speech_to)
    return audio.astype(np.float32)


# --- the cases ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A published model, how to drive it on realistic input, and an input it refuses."""

    model: PublishedModel
    drive: Callable[[Run], list[Outputs]]  # runs a realistic sequence of calls through ``run``
    invalid: Callable[[], Feeds]
    invalid_why: str


def _stateless(*feeds: Callable[[], Feeds]) -> Callable[[Run], list[Outputs]]:
    def drive(run: Run) -> list[Outputs]:
        return [run(make()) for make in feeds]

    return drive


def _vad(with_sr: bool, chunks: int = 24) -> Callable[[Run], list[Outputs]]:
    """Silero's own loop: 512 new samples after the previous chunk's last 64, state fed back."""

    def drive(run: Run) -> list[Outputs]:
        audio = _speech(chunks, seed=7)
        context = np.zeros(64, np.float32)
        state = np.zeros((2, 1, 128), np.float32)
        outputs = []
        for start in range(0, len(audio), 512):
            chunk = audio[start : start + 512]
            feeds = {"input": np.concatenate([context, chunk])[None, :], "state": state}
            if with_sr:
                feeds["sr"] = np.array(16000, np.int64)
            out = run(feeds)
            outputs.append(out)
            state, context = out["stateN"], chunk[-64:]
        return outputs

    return drive


def _vad_empty(with_sr: bool) -> Callable[[], Feeds]:
    def feeds() -> Feeds:
        made = {"input": np.zeros((1, 0), np.float32), "state": np.zeros((2, 1, 128), np.float32)}
        if with_sr:
            made["sr"] = np.array(16000, np.int64)
        return made

    return feeds


CASES = {
    "yolov8n": Case(
        MODELS["yolov8n"],
        _stateless(
            lambda: {"images": _nchw([_photo(320, 320, 1)], (0, 0, 0), (1, 1, 1))},
            lambda: {"images": _nchw([_photo(480, 640, 2)], (0, 0, 0), (1, 1, 1))},
        ),
        lambda: {"images": _nchw([_photo(320, 321, 3)], (0, 0, 0), (1, 1, 1))},
        "width 321 is not a multiple of 32",
    ),
    "ppocr-det": Case(
        MODELS["ppocr-det"],
        _stateless(
            lambda: {"x": _nchw([_page(640, 640, 1)], *_IMAGENET)},
            lambda: {"x": _nchw([_page(736, 544, 2)], *_IMAGENET)},
        ),
        lambda: {"x": _nchw([_page(320, 321, 3)], *_IMAGENET)},
        "width 321 is not a multiple of 32",
    ),
    "ppocr-rec": Case(
        MODELS["ppocr-rec"],
        _stateless(
            lambda: {"x": _nchw([_text_line(320, 1)], *_HALF)},
            lambda: {"x": _nchw([_text_line(160, seed) for seed in range(4)], *_HALF)},
        ),
        lambda: {"x": np.zeros((1, 3, 48, 0), np.float32)},
        "an empty (0 wide) text line",
    ),
    "ppocr-cls": Case(
        MODELS["ppocr-cls"],
        _stateless(
            lambda: {"x": _nchw([_text_line(192, 1)], *_HALF)},
            lambda: {"x": _nchw([_text_line(192, seed)[::-1, ::-1] for seed in range(6)], *_HALF)},
        ),
        lambda: {"x": np.zeros((1, 3, 48, 0), np.float32)},
        "an empty (0 wide) text line",
    ),
    "silero-vad": Case(MODELS["silero-vad"], _vad(True), _vad_empty(True), "an empty audio chunk"),
    "silero-vad-16k-static": Case(
        MODELS["silero-vad-16k-static"], _vad(False), _vad_empty(False), "an empty audio chunk"
    ),
}

ONNX_BACKENDS = [
    pytest.param("onnxruntime", marks=pytest.mark.backend("onnxruntime")),
    pytest.param("openvino", marks=pytest.mark.backend("openvino")),
]


@dataclass(frozen=True)
class Published:
    key: str
    path: Path
    case: Case


@pytest.fixture(scope="module", params=sorted(CASES))
def published(request: pytest.FixtureRequest) -> Published:
    case = CASES[request.param]
    return Published(request.param, fetch(case.model), case)


@functools.cache
def _session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def raw_run(path: Path) -> Run:
    """A plain onnxruntime session on the CPU, as a user would write it."""
    session = _session(path)
    names = [output.name for output in session.get_outputs()]

    def run(feeds: Feeds) -> Outputs:
        return dict(zip(names, session.run(names, feeds), strict=True))

    return run


def raw_names(path: Path) -> tuple[list[str], list[str]]:
    session = _session(path)
    return [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]


def _load(path: Path, backend: str | None = None, **kwargs: Any) -> edgeinfer.Model:
    if backend == "openvino":
        kwargs.setdefault("precision", "fp32")
    return edgeinfer.load(path, backend=backend, **kwargs)


def assert_same_outputs(got: list[Outputs], want: list[Outputs], *, exact: bool) -> None:
    assert len(got) == len(want)
    for call, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        assert list(mine) == list(theirs), (
            f"call {call}: output names {list(mine)} != {list(theirs)}"
        )
        for name, expected in theirs.items():
            actual = mine[name]
            where = f"call {call}, output {name!r}"
            assert actual.shape == expected.shape, where
            assert actual.dtype == expected.dtype, where
            if exact:
                np.testing.assert_array_equal(actual, expected, err_msg=where)
            else:
                scale = float(np.max(np.abs(expected))) if expected.size else 0.0
                np.testing.assert_allclose(
                    actual, expected, rtol=RTOL, atol=ATOL_OF_SCALE * scale, err_msg=where
                )


# --- opening ----------------------------------------------------------------------------------
def test_default_load_opens_it(published: Published) -> None:
    with edgeinfer.load(published.path) as model:
        inputs, outputs = raw_names(published.path)
        assert [spec.name for spec in model.inputs] == inputs
        assert [spec.name for spec in model.outputs] == outputs


def test_load_on_the_cpu_opens_it(published: Published) -> None:
    with edgeinfer.load(published.path, device="cpu") as model:
        assert model.device.startswith("cpu")


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_pinned_backend_opens_it(published: Published, backend: str) -> None:
    with _load(published.path, backend) as model:
        assert model.backend == backend


# --- results ------------------------------------------------------------------------------------
@pytest.mark.backend("onnxruntime")
def test_onnxruntime_gives_the_plain_sessions_results_bit_for_bit(published: Published) -> None:
    want = published.case.drive(raw_run(published.path))
    with _load(published.path, "onnxruntime") as model:
        got = published.case.drive(model.run)
    assert_same_outputs(got, want, exact=True)


@pytest.mark.backend("openvino")
def test_openvino_fp32_gives_onnxruntimes_results_within_1e4(published: Published) -> None:
    want = published.case.drive(raw_run(published.path))
    with _load(published.path, "openvino") as model:
        got = published.case.drive(model.run)
    assert_same_outputs(got, want, exact=False)


def test_default_load_gives_the_plain_sessions_results(published: Published) -> None:
    want = published.case.drive(raw_run(published.path))
    with edgeinfer.load(published.path) as model:
        got = published.case.drive(model.run)
        exact = model.backend == "onnxruntime"
    assert_same_outputs(got, want, exact=exact)


@pytest.mark.backend("onnxruntime")
@pytest.mark.backend("openvino")
def test_names_are_the_models_own_on_both_backends(published: Published) -> None:
    inputs, outputs = raw_names(published.path)
    for backend in ("onnxruntime", "openvino"):
        with _load(published.path, backend) as model:
            got_inputs = [spec.name for spec in model.inputs]
            got_outputs = [spec.name for spec in model.outputs]
            assert got_inputs == inputs, f"{backend}: inputs {got_inputs} != {inputs}"
            assert got_outputs == outputs, f"{backend}: outputs {got_outputs} != {outputs}"
            first = list(published.case.drive(model.run)[0])
            assert first == outputs, f"{backend}: run() returned {first}, not {outputs}"


# --- inputs the model refuses -------------------------------------------------------------------
@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(None, id="default"),
        *ONNX_BACKENDS,
    ],
)
def test_an_input_the_model_refuses_is_invalid_input_and_changes_nothing(
    published: Published, backend: str | None
) -> None:
    want = published.case.drive(raw_run(published.path))
    with _load(published.path, backend) as model:
        serving = model.backend
        for attempt in range(DEMOTION_THRESHOLD + 1):
            with pytest.raises(edgeinfer.InvalidInput):
                model.run(published.case.invalid())
            assert model.backend == serving, (
                f"after {published.case.invalid_why} (attempt {attempt + 1}) the model moved from "
                f"{serving} to {model.backend}: {[e.describe() for e in model.history]}"
            )
        # recorded, but nobody was demoted and no call moved to another candidate
        kinds = {event.kind for event in model.history}
        assert kinds <= {"input-refused"}, [event.describe() for event in model.history]
        assert all(state.failures == 0 for state in model.candidates)
        got = published.case.drive(model.run)
    assert_same_outputs(got, want, exact=serving == "onnxruntime")


# --- the fetch itself ---------------------------------------------------------------------------
def test_fetch_skips_with_the_reason_when_the_index_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "no-pip.conf"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        fetch(MODELS["ppocr-cls"])
    reason = str(skipped.value)
    assert "rapidocr-onnxruntime==1.4.4" in reason
    assert "pip exited" in reason
    assert not (tmp_path / "published" / "rapidocr-onnxruntime-1.4.4").exists()
