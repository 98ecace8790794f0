"""The generated documentation: the site and pydoc's page.

``mkdocs build --strict`` (material theme, the API reference generated from the docstrings by
mkdocstrings) must pass with no warning: no broken link or anchor, no page left out of the nav, no
docstring mkdocstrings cannot render. ``nox -s docs`` runs the same build. Skipped, with the
reason, where mkdocs and its plugins are not installed (they come with the ``test`` extra).

``python -m pydoc edgeinfer`` lists the public functions only (the lazy-loading machinery,
``__getattr__`` and ``__dir__``, stays out of it), and ``python -m edgeinfer --version`` answers.
"""

from __future__ import annotations

import importlib.util
import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEEDED = {
    "mkdocs": "mkdocs",
    "material": "mkdocs-material",
    "mkdocstrings_handlers.python": "mkdocstrings[python]",
}


def _missing() -> list[str]:
    missing = []
    for module, distribution in NEEDED.items():
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # the parent package of a dotted name is missing
            found = None
        if found is None:
            missing.append(distribution)
    return missing


def test_site_builds_strict(tmp_path: Path) -> None:
    missing = _missing()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[test]' brings them)")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    assert (site / "index.html").is_file()
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "Open a model on the best backend" in reference  # load()'s docstring, rendered


def test_pydoc_lists_public_functions_only() -> None:
    import edgeinfer

    page = pydoc.render_doc(edgeinfer, renderer=pydoc.plaintext)
    functions = page.split("\nFUNCTIONS\n", 1)[1].split("\nVERSION\n", 1)[0]
    listed = set(re.findall(r"^    (\w+)\(", functions, re.M))
    assert listed, "pydoc lists no function"
    assert not {name for name in listed if name.startswith("_")}
    assert listed <= set(edgeinfer.__all__)
    assert {"load", "backends", "devices", "health"} <= listed


def test_version_flag() -> None:
    import edgeinfer

    result = subprocess.run(
        [sys.executable, "-m", "edgeinfer", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == f"edgeinfer {edgeinfer.__version__}"
