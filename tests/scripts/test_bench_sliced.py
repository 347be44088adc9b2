"""scripts/bench_sliced.py end to end at a tiny size: the sliced run on a 2-worker cluster equals the study in one piece.

The comparison (``compare``) asserts the per-firm-event tables and ``tests`` of the sliced run equal those of
the same command line without ``--slice-size`` (1e-12), so the table row only prints when they do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_sliced.py"


@pytest.mark.slow
def test_bench_sliced_runs_and_equals_the_study_in_one_piece(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--sizes", "600", "--check", "600", "--slice-size", "150"]
    done = subprocess.run([*command, "--data", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("| 600 |"))
    assert "| 150 | 2 x 4GiB |" in row and "tables equal" in row
    assert "| 0 |" in row  # no worker restarted
