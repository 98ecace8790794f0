"""Model formats: a registry open to plugins, recognition from bytes and names, and the variants
of one model in a folder.

Built in: ``onnx``, ``tflite``, ``tflite-edgetpu`` (compiled for the Edge TPU), ``tensorrt``
(serialised engine), ``coreml`` (``.mlpackage`` folder or ``.mlmodel``), ``openvino`` (IR ``.xml``
with its ``.bin``), ``ncnn`` (``.param`` with its ``.bin``), ``mnn``, ``executorch`` (``.pte``),
``rknn`` and ``hailo`` (``.hef``, both compiled for an NPU), ``tvm`` (a module compiled by
Apache TVM: a native library with edgeinfer's JSON sidecar beside it), ``oip`` (a model served
over the Open Inference Protocol, named by its ``http(s)://`` URL). A plugin adds its own with
``edgeinfer.register_format``.

A model source is a file (``Path``) or, for a format with URL ``schemes``, a ``ModelUrl``: the URL
as given (``Path`` would fold its ``//``), with the ``name`` and ``str()`` a path has.

Recognition: a *certain* sniffer (a magic number: ``TFL3``, TensorRT's ``ftrt``) beats the file
name; otherwise the suffix decides, and a weak sniffer (ONNX's protobuf heuristic) only names
files whose suffix says nothing. A format may *refine* another (``tflite-edgetpu`` refines
``tflite``): it is checked once its parent is recognised.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edgeinfer._errors import ConfigurationError, ModelError

__all__ = [
    "ModelFormat",
    "ModelSource",
    "ModelUrl",
    "detect_format",
    "format_names",
    "formats",
    "only_runs_on",
    "register_format",
    "unregister_format",
]

Sniffer = Callable[[bytes, Path], bool]
HEAD_BYTES = 4096  # what a sniffer is given of the file's start


@dataclass(frozen=True, slots=True)
class ModelFormat:
    """One model format.

    ``suffixes``: file (or folder) name endings, lower case with the dot. ``sniff(head, path)``:
    True when the first ``HEAD_BYTES`` bytes (or the file itself) are this format. ``certain``:
    the sniffer checks a magic number, so it beats a misleading name. ``refines``: the format
    this one specialises. ``folder``: the model is a folder (a Core ML package), not a file.
    ``companions``: suffixes of files that must sit beside it (IR's ``.bin``). ``only_on``: the
    device kind it is compiled for; under ``device="auto"`` that kind is tried even when
    detection found none, so the backend says precisely why it cannot run. ``variant_rank``:
    among the variants of one model in a folder, lower is offered first (the most specialised).
    ``schemes``: URL schemes (``"https"``) whose URLs name a model of this format; such a model is
    a ``ModelUrl``, never a file, and is planned on the device kind ``only_on`` names.
    """

    name: str
    suffixes: tuple[str, ...] = ()
    sniff: Sniffer | None = None
    certain: bool = False
    refines: str | None = None
    folder: bool = False
    companions: tuple[str, ...] = ()
    only_on: str | None = None
    variant_rank: int = 50
    schemes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelUrl:
    """A model named by a URL rather than a file: ``str()`` is the URL as given, ``name`` its
    last path segment (as a file's name). Raises ``ConfigurationError`` for a URL without a
    scheme or host."""

    url: str

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as error:
            raise ConfigurationError(f"bad model URL {self.url!r}: {error}") from error
        if not parts.scheme or not parts.hostname:
            raise ConfigurationError(
                f"bad model URL {self.url!r}: it needs a scheme and a host, like "
                "'http://127.0.0.1:8080/v2/models/NAME'"
            )
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError(
                "a model URL must not carry credentials (user:password@): explain() and the "
                "logs show the URL; give a token or headers in the backend's options instead"
            )

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def name(self) -> str:
        segments = [part for part in urlsplit(self.url).path.split("/") if part]
        return segments[-1] if segments else str(urlsplit(self.url).hostname)

    def __str__(self) -> str:
        return self.url


ModelSource = Path | ModelUrl


def _onnx(head: bytes, path: Path) -> bool:
    # ModelProto as protobuf serialisers write it: field 1 (ir_version, varint) first.
    return len(head) >= 2 and head[0] == 0x08 and 1 <= head[1] <= 20


def _tflite(head: bytes, path: Path) -> bool:
    return head[4:8] == b"TFL3"  # the flatbuffer file identifier


def _edgetpu(head: bytes, path: Path) -> bool:
    if path.stem.endswith("_edgetpu"):
        return True
    with path.open("rb") as handle:  # the compiler's custom op is named in the first MB
        return b"edgetpu-custom-op" in handle.read(1 << 20)


def _engine(head: bytes, path: Path) -> bool:
    return head[12:16] == b"ftrt"  # TensorRT 8 and later


def _openvino(head: bytes, path: Path) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped.startswith((b"<?xml", b"<net")) and b"<net" in head


def _ncnn(head: bytes, path: Path) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"7767517")  # the .param magic


def _rknn(head: bytes, path: Path) -> bool:
    return head[:4] == b"RKNN" or head[4:8] == b"RKNN"  # container, or bare flatbuffer


def _hef(head: bytes, path: Path) -> bool:
    return head[:4] in (b"\x01HEF", b"FEH\x01")  # HailoRT's HEADER_MAGIC 0x01484546


def _tvm(head: bytes, path: Path) -> bool:
    # A native library is TVM's when the sidecar that edgeinfer writes beside it says so.
    try:
        with path.with_suffix(".json").open("rb") as handle:
            return b"edgeinfer-tvm-module" in handle.read(4096)
    except OSError:
        return False


# NCNN is the fastest CPU runtime on ARM boards (Raspberry Pi...): there its files come before
# ONNX among the variants of a folder; elsewhere after ONNX. Read once, at import.
_ARM = platform.machine().lower() in ("aarch64", "arm64", "armv7l", "armv8l", "armv7")

_BUILTIN = (
    ModelFormat("tflite-edgetpu", sniff=_edgetpu, refines="tflite", only_on="edgetpu",
                variant_rank=0),
    ModelFormat("tensorrt", (".engine", ".plan", ".trt"), _engine, True, only_on="gpu",
                variant_rank=10),
    ModelFormat("coreml", (".mlpackage", ".mlmodel", ".mlmodelc"), folder=True, variant_rank=20),
    ModelFormat("openvino", (".xml",), _openvino, True, companions=(".bin",), variant_rank=30),
    ModelFormat("onnx", (".onnx",), _onnx, variant_rank=40),
    ModelFormat("tflite", (".tflite",), _tflite, True, variant_rank=60),
    ModelFormat("ncnn", (".param",), _ncnn, True, companions=(".bin",),
                variant_rank=35 if _ARM else 45),
    ModelFormat("mnn", (".mnn",), variant_rank=50),
    ModelFormat("executorch", (".pte",), variant_rank=55),
    ModelFormat("rknn", (".rknn",), _rknn, True, only_on="npu", variant_rank=5),
    ModelFormat("hailo", (".hef",), _hef, True, only_on="npu", variant_rank=5),
    ModelFormat("tvm", (".so", ".dylib", ".dll"), _tvm, variant_rank=25),
    ModelFormat("oip", only_on="remote", schemes=("http", "https")),
)  # fmt: skip

_formats: dict[str, ModelFormat] = {fmt.name: fmt for fmt in _BUILTIN}
_lock = threading.Lock()


def formats() -> tuple[ModelFormat, ...]:
    """Every registered format, built-ins first."""
    return tuple(_formats.values())


def format_names() -> tuple[str, ...]:
    return tuple(_formats)


def _suffix(text: str) -> str:
    if not isinstance(text, str) or not text.startswith(".") or len(text) < 2:
        raise ConfigurationError(f"a format suffix must look like '.ext', got {text!r}")
    return text.lower()


def _scheme(text: str) -> str:
    if not isinstance(text, str) or not text.isascii() or not text.isalpha():
        raise ConfigurationError(f"a URL scheme must be letters like 'https', got {text!r}")
    return text.lower()


def register_format(
    name: str,
    suffixes: Sequence[str] = (),
    sniff: Sniffer | None = None,
    *,
    certain: bool = False,
    refines: str | None = None,
    folder: bool = False,
    companions: Sequence[str] = (),
    only_on: str | None = None,
    variant_rank: int = 50,
    schemes: Sequence[str] = (),
) -> ModelFormat:
    """Add a model format (see ``ModelFormat`` for the fields); returns it.

    A format needs at least one suffix, a sniffer or a URL scheme. Raises ``ConfigurationError``
    for a name that is taken by a built-in format, a malformed suffix, or an unknown ``refines``.
    Registering a plugin's format again replaces it.
    """
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("-", "").replace("_", "").isalnum()
    ):
        raise ConfigurationError(f"format name must be a non-empty identifier, got {name!r}")
    if any(fmt.name == name for fmt in _BUILTIN):
        raise ConfigurationError(f"format {name!r} is built in and cannot be replaced")
    found = tuple(_suffix(text) for text in suffixes)
    schemes = tuple(_scheme(text) for text in schemes)
    if not found and sniff is None and not schemes:
        raise ConfigurationError(f"format {name!r} needs suffixes, a sniff function or URL schemes")
    if sniff is not None and not callable(sniff):
        raise ConfigurationError(
            f"sniff must be a function (head: bytes, path) -> bool, got {sniff!r}"
        )
    if refines is not None and refines not in _formats:
        raise ConfigurationError(f"format {name!r} refines unknown format {refines!r}")
    fmt = ModelFormat(
        name,
        found,
        sniff,
        certain,
        refines,
        folder,
        tuple(_suffix(text) for text in companions),
        only_on,
        variant_rank,
        schemes,
    )
    with _lock:
        _formats[name] = fmt
    return fmt


def unregister_format(name: str) -> None:
    """Remove a plugin's format (built-in formats stay)."""
    if not any(fmt.name == name for fmt in _BUILTIN):
        with _lock:
            _formats.pop(name, None)


def _safe_sniff(fmt: ModelFormat, head: bytes, path: Path) -> bool:
    if fmt.sniff is None:
        return False
    try:
        return bool(fmt.sniff(head, path))
    except Exception:  # a plugin's sniffer that fails says "not mine"
        return False


def _by_suffix(path: Path) -> list[ModelFormat]:
    suffix = path.suffix.lower()
    return [fmt for fmt in _formats.values() if fmt.refines is None and suffix in fmt.suffixes]


def _refined(parent: ModelFormat, head: bytes, path: Path) -> ModelFormat:
    for fmt in _formats.values():
        if fmt.refines == parent.name and (
            path.suffix.lower() in fmt.suffixes or _safe_sniff(fmt, head, path)
        ):
            return _refined(fmt, head, path)
    return parent


def _recognise(head: bytes, path: Path) -> ModelFormat | None:
    roots = [fmt for fmt in _formats.values() if fmt.refines is None and not fmt.folder]
    for fmt in roots:
        if fmt.certain and _safe_sniff(fmt, head, path):
            return fmt  # bytes beat a misleading name
    named = _by_suffix(path)
    if named:
        agreeing = [fmt for fmt in named if _safe_sniff(fmt, head, path)]
        return (agreeing or named)[0]
    return next((fmt for fmt in roots if _safe_sniff(fmt, head, path)), None)


def detect_format(path: Path) -> str:
    """The format of one model file or package. Raises ``FileNotFoundError`` or ``ModelError``."""
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        for fmt in _formats.values():
            if fmt.folder and (path.suffix.lower() in fmt.suffixes or _safe_sniff(fmt, b"", path)):
                return fmt.name
        if (path / "Manifest.json").is_file():
            return "coreml"
        raise ModelError(f"{path} is a folder but not a model package and holds no model variants")
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        raise ModelError(f"{path} is empty (0 bytes): not a model file")
    found = _recognise(head, path)
    if found is None:
        raise ModelError(
            f"cannot tell the format of {path}: its name ends in {path.suffix or '(nothing)'} and "
            f"its first bytes match no known format; known formats: {', '.join(_formats)}"
        )
    found = _refined(found, head, path)
    for companion in found.companions:
        if not path.with_suffix(companion).is_file():
            raise ModelError(
                f"{found.name} model {path} needs {path.with_suffix(companion).name} beside it "
                "(its weights); it was not found"
            )
    return found.name


def only_runs_on(fmt: str) -> str | None:
    """The device kind format ``fmt`` is compiled for, or ``None``."""
    found = _formats.get(fmt)
    return None if found is None else found.only_on
