"""scripts/compare_models.py: the model comparison's tables against ``eventstudy run`` on the same events.

The script runs the models through the Python API; the command line is the independent route. On a tiny events
file (two 2021 events, two tickers each) the market model's CARs, standard errors, t and p, its betas, and each
event's CAAR and primary-test p-value must be those of ``eventstudy run --model market`` on the same prices;
every model asked for has rows in every table; bad input exits 2 and a study without prices exits 3.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.spec import window_text

RunCli = Callable[..., Any]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_models.py"

EVENTS = """event_id,date,time,timezone,headline,category,tickers,benchmark,source,time_approximate
xi_meeting,2021-03-15,19:00,Asia/Shanghai,Xi chairs a platform-economy meeting,policy_signal,0700.HK;BABA,^HSI;^GSPC,test,true
pboc_jv,2021-03-24,16:58,Asia/Hong_Kong,PBOC-led data joint venture report,regulatory_report,9988.HK;TCEHY,^HSI;^GSPC,test,true
"""
"""Two 2021 events of the seed study, cut to two tickers each (a Hong Kong line and a US listing)."""


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """``python scripts/compare_models.py ARGS`` in a subprocess (no terminal: no progress)."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    return path


@pytest.mark.realdata
def test_market_model_equals_the_command_line_and_every_model_has_rows(
    shared_dir: Path, events_file: Path, tmp_path: Path, eventstudy_cli: RunCli
) -> None:
    prices = shared_dir / "data" / "curated" / "window_2019_2021"
    out = tmp_path / "comparison"
    done = run_script(
        str(events_file), "--models", "market,scholes_williams", "--prices", str(prices), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no terminal: no progress messages
    cli = eventstudy_cli(
        "run", str(events_file), "--prices", str(prices), "--offline", "--model", "market", "--formats", "csv",
        "--out", str(tmp_path / "cli"),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr

    cars = pd.read_csv(out / "car_by_model.csv")
    assert list(cars.columns) == ["event_id", "ticker", "window", "model", "car", "se", "t_stat", "p_value"]
    assert set(cars["model"]) == {"market", "scholes_williams"}
    # 2 events x 2 tickers x 5 default CAR windows per model
    assert cars.groupby("model").size().to_dict() == {"market": 20, "scholes_williams": 20}

    # the market model's CARs are the command line's (car.csv keeps 10 significant digits)
    reference = pd.read_csv(tmp_path / "cli" / "car.csv")
    reference["window"] = [window_text(w) for w in zip(reference["window_start"], reference["window_end"], strict=True)]
    market = cars[cars["model"] == "market"]
    both = market.merge(reference, on=["event_id", "ticker", "window"], suffixes=("", "_cli"), validate="1:1")
    assert len(both) == len(market) == len(reference) == 20
    for column in ("car", "se", "t_stat", "p_value"):
        np.testing.assert_allclose(both[column], both[f"{column}_cli"], rtol=1e-8)
    # Scholes-Williams changes the beta, so its CARs differ from the market model's
    sw = cars[cars["model"] == "scholes_williams"].merge(market, on=["event_id", "ticker", "window"])
    assert (sw["car_x"] - sw["car_y"]).abs().max() > 1e-5

    # each event's CAAR is the mean of its CARs in car.csv; its p-value the primary test's row of tests.csv
    caar = pd.read_csv(out / "caar_by_model.csv")
    assert set(caar["model"]) == {"market", "scholes_williams"}
    assert set(caar["group"]) == {"xi_meeting", "pboc_jv", "all"}
    mean_car = reference.groupby(["event_id", "window"])["car"].mean().rename("mean_car").reset_index()
    events = caar[(caar["model"] == "market") & (caar["group"] != "all")]
    checked = events.merge(mean_car, left_on=["group", "window"], right_on=["event_id", "window"], validate="1:1")
    assert len(checked) == 10
    np.testing.assert_allclose(checked["caar_pct"], 100.0 * checked["mean_car"], rtol=1e-8)
    tests = pd.read_csv(tmp_path / "cli" / "tests.csv")
    tests = tests[tests["scope"] == "window"]
    tests["window"] = [
        window_text((int(a), int(b))) for a, b in zip(tests["window_start"], tests["window_end"], strict=True)
    ]
    primary = caar[caar["model"] == "market"].merge(
        tests, left_on=["group", "window", "primary_test"], right_on=["group", "window", "test"], validate="1:1"
    )
    assert len(primary) == 15  # 3 groups x 5 windows
    np.testing.assert_allclose(primary["p_value_x"], primary["p_value_y"], rtol=1e-8)
    np.testing.assert_allclose(primary["statistic_x"], primary["statistic_y"], rtol=1e-8)

    # the betas are the command line's parameters.csv
    params = pd.read_csv(out / "parameters_by_model.csv")
    assert set(params["model"]) == {"market", "scholes_williams"}
    assert {"beta_lag", "beta_0", "beta_lead", "rho_m"} <= set(
        params.loc[params["model"] == "scholes_williams", "parameter"]
    )
    betas = params[(params["model"] == "market") & (params["parameter"] == "beta")]
    cli_params = pd.read_csv(tmp_path / "cli" / "parameters.csv")
    joined = betas.merge(cli_params, on=["event_id", "ticker"], validate="1:1")
    assert len(joined) == 4
    np.testing.assert_allclose(joined["value"], joined["beta"], rtol=1e-8)

    readme = (out / "README.md").read_text()
    assert "### CAAR [-1, +1]" in readme and "### CAAR [0, +1]" in readme
    assert "| group | market | scholes_williams |" in readme
    assert "scholes_williams rho_m" in readme


def test_unknown_model_exits_2(events_file: Path, tmp_path: Path) -> None:
    done = run_script(str(events_file), "--models", "market,nonsense", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "--models: unknown model 'nonsense'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_no_prices_exits_3(events_file: Path, tmp_path: Path) -> None:
    empty = tmp_path / "prices"
    empty.mkdir()
    done = run_script(str(events_file), "--models", "market", "--prices", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode == 3
    assert "no model could estimate anything" in done.stderr and "market:" in done.stderr
    assert not (tmp_path / "out").exists()
