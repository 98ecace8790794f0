"""``python -m edgeinfer``: the machine report."""

from __future__ import annotations

import json
import subprocess
import sys


def run_cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "edgeinfer", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_text_report_lists_backends_and_devices() -> None:
    out = run_cli()
    assert "Backends:" in out
    assert "onnxruntime" in out
    assert "Devices found" in out
    assert "\n  cpu " in out


def test_json_report() -> None:
    document = json.loads(run_cli("--json"))
    names = [row["name"] for row in document["backends"]]
    assert "onnxruntime" in names
    assert document["devices"][0]["kind"] == "cpu"
    for row in document["backends"]:
        assert row["available"] or row["hint"] or row["reason"]
