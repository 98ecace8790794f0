"""mkdocs hooks for edgeinfer's docs: render the fences that ``tests/test_docs.py`` reads.

The docs mark code blocks for the test runner in the fence's info string (``python
hardware=gpu``, ``python no-run: <why>``, ``python file=NAME.py``, ``output``). Markdown's fenced
code takes a language and nothing else, so those words are turned into a block title the reader
sees instead ("needs a GPU", "not run: <why>", "NAME.py", "output").
"""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)$", re.M)
_HARDWARE = {
    "gpu": "needs an NVIDIA GPU",
    "npu": "needs an NPU",
    "edgetpu": "needs a Coral Edge TPU",
    "macos": "needs macOS",
}


def _title(info: str) -> str | None:
    """The title a fence's extra words become, or ``None`` for a plain fence."""
    found = re.search(r"\bhardware=(\w+)", info)
    if found is not None:
        return _HARDWARE.get(found.group(1), f"needs {found.group(1)}")
    found = re.search(r"\bno-run:\s*(.*)", info)
    if found is not None:
        return f"not run: {found.group(1).strip()}"
    found = re.search(r"\bfile=(\S+)", info)
    if found is not None:
        return found.group(1)
    return None


def _rewrite(match: re.Match[str]) -> str:
    indent, info = match.group("indent"), match.group("info").strip()
    if not info:
        return match.group(0)
    language = info.split()[0]
    if language == "output":
        return f'{indent}```text title="output"'
    title = _title(info)
    if title is None:
        return f"{indent}```{language}"
    return f'{indent}```{language} title="{title.replace(chr(34), chr(39))}"'


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Turn the test runner's fence words into titles before Markdown sees the page."""
    return _FENCE.sub(_rewrite, markdown)
