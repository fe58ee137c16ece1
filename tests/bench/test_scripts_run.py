"""The in-process benchmarks still run against the current code (one short repeat each, in a
subprocess, as a user would start them). They measure; this only checks that they work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, args", [
    ("detection_cost.py", ["--repeats", "2"]),
    ("diagnosis_cost.py", ["--repeats", "1", "--steps"]),
])
def test_benchmark_runs_and_prints_its_table(script, args, tmp_path):
    extra = ["--out", str(tmp_path / "out.json")] if script == "detection_cost.py" else []
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "|---|" in done.stdout
