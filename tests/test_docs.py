"""The documentation runs: every ``python`` block of README.md and docs/*.md, in page order, one
namespace per page, in a folder holding the example models (``python -m edgeinfer.examples``).

Fences (the word after the opening backticks, and what follows it):

- ``python``: run. A block followed by an ``output`` block must print exactly that; in it, a
  line ``...`` matches any number of lines and ``...`` inside a line matches any text (times,
  addresses). Prompts (``>>>``) are refused: a python block is a script a reader can paste.
- ``python hardware=gpu`` (or ``edgetpu``, ``npu``, ``macos``): run only where that exists,
  else skipped with the reason.
- ``python no-run: <why>``: shown, not run; the reason is required (a sketch of a plugin's own
  package, say).
- ``python file=NAME.py``: a module the page's readers save as ``NAME.py``: written into the
  page's folder, which is on ``sys.path`` while the page runs, so later blocks import it (a
  backend registered as ``"NAME:Class"``, say). It is not run itself.
- anything else (``text``, ``sh``, ``toml``): not run.

A fence may be indented (inside a list item); its lines are dedented. Each page runs in a
folder of its own, with ``EDGEINFER_CACHE`` pointing inside it (a measured selection measures,
nothing lands in the user's cache); backends a page registers are unregistered after it, so
pages cannot leak into each other.

A well-kept markdown runner (pytest-markdown-docs, pytest-examples) was considered: neither
checks a separate output block, and the docs keep output apart from code so it can be read; the
rules above are the few this needs, in one small file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)
_HARDWARE = ("gpu", "npu", "edgetpu", "macos")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    info: str
    code: str

    @property
    def kind(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            page,
            text.count("\n", 0, match.start()) + 1,
            match.group(2).strip(),
            textwrap.dedent(match.group(3)),
        )
        for match in _FENCE.finditer(text)
    ]


def _line_matches(pattern: str, line: str) -> bool:
    parts = [re.escape(part) for part in pattern.split("...")]
    return re.fullmatch(".*".join(parts), line, re.S) is not None


def output_matches(expected: str, got: str) -> bool:
    """``expected`` against ``got``, line by line; ``...`` alone matches any lines."""
    want = [line.rstrip() for line in expected.rstrip("\n").split("\n")]
    have = [line.rstrip() for line in got.rstrip("\n").split("\n")] if got.strip() else []

    def match(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(have)
        if want[i] == "...":
            return any(match(i + 1, k) for k in range(j, len(have) + 1))
        return j < len(have) and _line_matches(want[i], have[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _missing_hardware(info: str) -> str | None:
    found = re.search(r"hardware=(\w+)", info)
    if found is None:
        return None
    need = found.group(1)
    if need not in _HARDWARE:
        raise AssertionError(f"unknown hardware={need}; known: {', '.join(_HARDWARE)}")
    if need == "macos":
        return None if sys.platform == "darwin" else "needs macOS"
    import edgeinfer

    kinds = {device.kind for device in edgeinfer.devices()}
    article = "an" if need[0] in "aeiou" else "a"
    return None if need in kinds else f"needs {article} {need}, and this machine has none"


@pytest.fixture(scope="session")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx", reason="the example models are built with onnx")
    from edgeinfer.examples import build

    folder = tmp_path_factory.mktemp("examples")
    build(folder)
    return folder


def _workdir(examples: Path, into: Path) -> None:
    for item in examples.iterdir():
        target = into / item.name
        if item.is_dir():
            shutil.copytree(item, target, copy_function=os.link)
        else:
            os.link(item, target)


def _module_file(block: Block) -> str | None:
    found = re.search(r"\bfile=(\S+)", block.info)
    if found is None:
        return None
    name = found.group(1)
    assert re.fullmatch(r"\w+\.py", name), f"{block.where}: file= names a module, got {name!r}"
    return name


def _run_page(page: Path, examples: Path, folder: Path) -> list[str]:
    """Run the page's blocks; returns why blocks were skipped."""
    from edgeinfer._planning.registry import names, unregister_backend

    _workdir(examples, folder)
    namespace: dict[str, object] = {"__name__": "__main__"}
    skipped: list[str] = []
    found = blocks(page)
    previous = Path.cwd()
    backends_before = set(names())
    modules_before = set(sys.modules)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        for index, block in enumerate(found):
            if block.kind != "python":
                continue
            assert ">>> " not in block.code, f"{block.where}: a python block holds >>> prompts"
            if block.info.startswith("python no-run"):
                assert ":" in block.info, f"{block.where}: 'python no-run' needs ': <why>'"
                skipped.append(f"{block.where}: {block.info}")
                continue
            module = _module_file(block)
            if module is not None:
                (folder / module).write_text(block.code, encoding="utf-8")
                continue
            missing = _missing_hardware(block.info)
            if missing is not None:
                skipped.append(f"{block.where}: {missing}")
                continue
            stdout = io.StringIO()
            try:
                with contextlib.redirect_stdout(stdout):
                    exec(compile(block.code, block.where, "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"{block.where} raised:\n{traceback.format_exc(limit=-3)}\n"
                    f"printed before:\n{stdout.getvalue()}",
                    pytrace=False,
                )
            after = found[index + 1] if index + 1 < len(found) else None
            if after is not None and after.kind == "output":
                got = stdout.getvalue()
                if not output_matches(after.code, got):
                    pytest.fail(
                        f"{block.where} printed other than {after.where} says.\n"
                        f"--- the page says:\n{after.code}--- it printed:\n{got}",
                        pytrace=False,
                    )
    finally:
        os.chdir(previous)
        sys.path.remove(str(folder))
        for name in set(names()) - backends_before:
            unregister_backend(name)
        for name in set(sys.modules) - modules_before:  # the page's own modules, not a runtime's
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(folder)):
                del sys.modules[name]
    return skipped


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_runs(
    page: Path, examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What pages cache (measured selections, engines) goes to a folder of this test, not the
    # user's cache: a page's first measured load then really measures.
    monkeypatch.setenv("EDGEINFER_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    run.mkdir()
    skipped = _run_page(page, examples, run)
    for reason in skipped:
        print(f"not run: {reason}")


def test_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python file=plugin.py\nX = 1\n```\n\n- item\n\n  ```python\n  import plugin\n"
        "  print(plugin.X)\n  ```\n\n  ```output\n  1\n  ```\n",
        encoding="utf-8",
    )
    found = blocks(page)
    assert [(block.kind, block.code) for block in found] == [
        ("python", "X = 1\n"),
        ("python", "import plugin\nprint(plugin.X)\n"),
        ("output", "1\n"),
    ]
    assert _module_file(found[0]) == "plugin.py"
    (tmp_path / "examples").mkdir()
    (tmp_path / "run").mkdir()
    _run_page(page, tmp_path / "examples", tmp_path / "run")
    assert "plugin" not in sys.modules


def test_output_matching_rules() -> None:
    assert output_matches("a\n...\nz\n", "a\nb\nc\nz\n")
    assert output_matches("took ... ms\n", "took 12.5 ms\n")
    assert not output_matches("a\nz\n", "a\nb\nz\n")
    assert output_matches("...\n", "")
