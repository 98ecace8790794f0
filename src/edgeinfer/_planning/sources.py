"""What ``load()`` is given -> the model sources to try, each with its format: a file, a
package folder (a Core ML ``.mlpackage``), a folder of variants of one model (ordered by its
``variants.json`` or by each format's ``variant_rank``), a URL a format serves, or a list of
these in preference order. Formats themselves, and recognising one file, are ``formats.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from edgeinfer._errors import ConfigurationError, ModelError
from edgeinfer._planning.formats import ModelSource, ModelUrl, detect_format, formats

__all__ = [
    "VARIANTS_FILE",
    "resolve_model_files",
    "resolve_model_sources",
    "source_from_text",
]


def _is_package(path: Path) -> bool:
    """True when a folder is itself one model (a Core ML package), not a folder of variants."""
    suffix = path.suffix.lower()
    if any(fmt.folder and suffix in fmt.suffixes for fmt in formats()):
        return True
    return (path / "Manifest.json").is_file()


VARIANTS_FILE = "variants.json"  # {"order": ["model.int8.onnx", "model.onnx"]}: a folder's say


def _stated_order(folder: Path) -> list[str] | None:
    """The preference order a folder states in ``variants.json`` (``edgeinfer.optimize`` writes
    one: the optimised variant first, the float original as its fallback), or ``None``."""
    import json

    manifest = folder / VARIANTS_FILE
    if not manifest.is_file():
        return None
    try:
        order = json.loads(manifest.read_text(encoding="utf-8")).get("order")
    except (ValueError, OSError, AttributeError) as error:
        raise ModelError(f"{manifest} is not valid: {error}") from error
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise ModelError(f"{manifest}: 'order' must be a list of file names in the folder")
    return order


def _folder_variants(folder: Path) -> list[tuple[Path, str]]:
    stated = _stated_order(folder)
    if stated is not None:
        missing = [name for name in stated if not (folder / name).exists()]
        if missing:
            raise ModelError(f"{folder / VARIANTS_FILE} names missing files: {missing}")
        return [(folder / name, detect_format(folder / name)) for name in stated]
    known = {suffix for fmt in formats() for suffix in fmt.suffixes}
    found: list[tuple[Path, str]] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.suffix.lower() not in known:
            continue
        try:
            found.append((child, detect_format(child)))
        except ModelError:
            continue  # e.g. an unrelated .xml; a variant that is wanted fails loudly when opened
    if not found:
        raise ModelError(
            f"folder {folder} holds no model file (looked for {', '.join(sorted(known))})"
        )
    rank = {fmt.name: fmt.variant_rank for fmt in formats()}
    return sorted(found, key=lambda item: rank[item[1]])


def _url_format(url: ModelUrl) -> str:
    """The format whose ``schemes`` include the URL's scheme."""
    for fmt in formats():
        if url.scheme in fmt.schemes:
            return fmt.name
    known = sorted({scheme for fmt in formats() for scheme in fmt.schemes})
    raise ConfigurationError(
        f"no model format is served from {url.scheme}:// URLs ({url}); URLs with "
        f"{', '.join(known) or 'no'} scheme(s) name served models, anything else is a local path"
    )


def _as_url(item: str | Path | ModelUrl) -> ModelUrl | None:
    if isinstance(item, ModelUrl):
        return item
    if isinstance(item, str) and "://" in item:
        return ModelUrl(item.strip())
    return None


def source_from_text(text: str) -> ModelSource:
    """A source from its ``str()``: a ``ModelUrl`` for a URL, else a ``Path``."""
    return ModelUrl(text) if "://" in text else Path(text)


def resolve_model_sources(
    path: str | Path | ModelUrl | Sequence[str | Path | ModelUrl],
) -> list[tuple[ModelSource, str]]:
    """Turn ``load()``'s ``path`` into ``(source, format)`` pairs in preference order: files,
    and ``ModelUrl``s for URLs whose scheme a format serves."""
    given: object = path
    if isinstance(given, (str, Path, ModelUrl)):
        items: Sequence[str | Path | ModelUrl] = [given]
    elif isinstance(given, (list, tuple)):
        items = given
    else:
        raise ConfigurationError(
            f"path must be a file, a folder, a URL or a list of these, got {type(path).__name__}"
        )
    if not items:
        raise ConfigurationError("path is an empty list: give at least one model file")
    files: list[tuple[ModelSource, str]] = []
    for item in items:
        if not isinstance(item, (str, Path, ModelUrl)):
            raise ConfigurationError(f"model paths must be str or Path, got {type(item).__name__}")
        url = _as_url(item)
        if url is not None:
            files.append((url, _url_format(url)))
            continue
        candidate = Path(cast(str | Path, item)).expanduser()
        if candidate.is_dir() and not _is_package(candidate):
            files.extend(_folder_variants(candidate))
        else:
            files.append((candidate, detect_format(candidate)))
    return files


def resolve_model_files(path: str | Path | Sequence[str | Path]) -> list[tuple[Path, str]]:
    """``resolve_model_sources`` where only files will do (``ConfigurationError`` for a URL)."""
    files: list[tuple[Path, str]] = []
    for source, fmt in resolve_model_sources(path):
        if not isinstance(source, Path):
            raise ConfigurationError(f"{source} is a URL; a model file is needed here")
        files.append((source, fmt))
    return files
