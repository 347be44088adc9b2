"""scripts/bench.py end to end at a tiny size: every run finishes and the bare-numpy floor agrees with the CLI.

The floor (scripts/bench_floor.py) imports nothing of ``eventstudy``: its closed-form OLS, CARs and pooled
statistics are the independent numbers the CLI's ``car`` and ``tests`` tables are held to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


@pytest.mark.slow
def test_bench_runs_and_the_floor_agrees_with_the_cli(tmp_path: Path) -> None:
    numbers = tmp_path / "bench.json"
    command = [sys.executable, str(SCRIPT), "--sizes", "300", "--default-max", "0", "--data", str(tmp_path)]
    done = subprocess.run([*command, "--json", str(numbers)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(numbers.read_text())
    assert result["meta"]["tickers"] == 3 and result["stages"]["exit"] == 0
    # 300 firm-events x 5 CAR windows, all present; the CSV tables carry 10 significant digits
    assert result["check"]["car_missing"] == 0
    assert result["check"]["car_diff"] <= 1e-10
    assert result["check"]["stats_rel_diff"] <= 1e-8
    assert "| 300 |" in done.stdout
