"""The cross-market model (HK/NY, ``docs/methods.md`` §4.8) on the shared prices against statsmodels OLS.

For each ticker the expected design is built series by series, independently of the engine's flat gather:
the ticker's and its benchmark's returns on their common dates from the price files with pandas, and the
other market's index accumulated between the ticker's closes by :func:`eventstudy.crossmarket.cross_market_regressor`
(checked against hand-written session lists in ``tests/test_crossmarket.py``) on the ticker's own dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import EventStudy
from eventstudy.crossmarket import cross_market_regressor
from eventstudy.data import CsvPrices
from eventstudy.events import Event
from eventstudy.models import CrossMarket

RunCli = Callable[..., Any]


def _close(folder: Path, symbol: str) -> pd.Series:
    return pd.read_csv(folder / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")["Adj Close"]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("ticker", "benchmark", "own", "other", "other_calendar", "own_calendar"),
    [("0700.HK", "^HSI", "XHKG", "^GSPC", "XNYS", "XHKG"), ("BABA", "^GSPC", "XNYS", "^HSI", "XHKG", "XNYS")],
)
def test_cross_market_model_against_statsmodels(
    shared_dir: Path, ticker: str, benchmark: str, own: str, other: str, other_calendar: str, own_calendar: str
) -> None:
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    event = Event("xi", dt.date(2021, 3, 15), None, "Asia/Hong_Kong", "", "", (ticker,), (benchmark,), "", False)
    result = EventStudy([event], CsvPrices(folder), model="cross_market", progress=False).run()
    params = result.parameters.iloc[0]
    assert tuple(result.fit.coef_names) == ("alpha", "beta", "beta_other")

    stock, index = _close(folder, ticker), _close(folder, benchmark)
    common = stock.index.intersection(index.index)
    frame = pd.DataFrame({"r": stock.loc[common].pct_change(), "m": index.loc[common].pct_change()})
    other_close = _close(folder, other)
    other_returns = other_close.pct_change().iloc[1:]
    accumulated, _ = cross_market_regressor(
        own_calendar, common.to_numpy(), other_calendar, other_returns.index.to_numpy(), other_returns.to_numpy()
    )
    frame["o"] = accumulated
    rows = frame.loc[params["estimation_start"] : params["estimation_end"]].dropna()
    fit = sm.OLS(rows["r"], sm.add_constant(rows[["m", "o"]])).fit()
    np.testing.assert_allclose(params[["alpha", "beta", "beta_other"]].to_numpy(float), fit.params, rtol=1e-9)
    np.testing.assert_allclose(params["sigma"] ** 2, fit.mse_resid, rtol=1e-9)
    assert params["n_obs"] == fit.nobs
    # the event day's AR from the same design
    ar = result.abnormal_returns.set_index("rel_day").loc[0]
    day = pd.Timestamp(ar["date"])
    x = frame.loc[day]
    expected = x["r"] - fit.params["const"] - fit.params["m"] * x["m"] - fit.params["o"] * x["o"]
    np.testing.assert_allclose(ar["abnormal_return"], expected, rtol=1e-9)
    # the prediction-error variance s^2 + se_mean^2 and the exact CAR variance over [-1, +1]
    days = result.abnormal_returns.set_index("rel_day").loc[-1:1, "date"].map(pd.Timestamp)
    x_evt = sm.add_constant(frame.loc[days, ["m", "o"]], has_constant="add")
    se_mean = fit.get_prediction(x_evt.iloc[[1]]).se_mean[0]
    np.testing.assert_allclose(ar["se"], np.sqrt(fit.mse_resid + se_mean**2), rtol=1e-9)
    g = x_evt.sum(axis=0).to_numpy()
    car = result.car.set_index(["window_start", "window_end"]).loc[(-1, 1)]
    np.testing.assert_allclose(car["se"] ** 2, fit.mse_resid * 3 + g @ fit.cov_params().to_numpy() @ g, rtol=1e-9)


def test_other_index_by_listing() -> None:
    assert CrossMarket().extra_symbols(["0700.HK", "BABA", "TCEHY", "2330.TW"]) == ("^GSPC", "^HSI")
    assert CrossMarket().coef_names() == ("alpha", "beta", "beta_other") and CrossMarket().factor_series == ()


@pytest.mark.realdata
@pytest.mark.parametrize("model", ["cross_market", "garch"])
def test_command_line_on_shared_prices(shared_dir: Path, tmp_path: Path, eventstudy_cli: RunCli, model: str) -> None:
    """``eventstudy run --model cross_market|garch`` through the console script: parameters.csv names every
    coefficient (and GARCH's omega, alpha, beta) and equals the Python API's (to the CSV's digits; GARCH to the
    optimizer's tolerance)."""
    (tmp_path / "events.csv").write_text(
        "event_id,date,timezone,tickers\nxi,2021-03-15,Asia/Hong_Kong,0700.HK;BABA\n", encoding="utf-8"
    )
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    run = eventstudy_cli(
        "run",
        "events.csv",
        "--prices",
        str(folder),
        "--offline",
        "--model",
        model,
        "--formats",
        "csv",
        "--quiet",
        "--out",
        "out",
    )
    assert run.returncode == 0, run.stderr
    written = pd.read_csv(tmp_path / "out" / "parameters.csv")
    study = EventStudy.from_csv(tmp_path / "events.csv", prices=CsvPrices(folder), model=model, progress=False)
    expected = study.run().parameters
    names = (
        ["alpha", "beta", "beta_other"] if model == "cross_market" else ["alpha", "beta", "garch_alpha", "garch_beta"]
    )
    assert set(names) <= set(written.columns) and len(written) == 2
    # GARCH is a numerical optimum: two processes agree to the optimizer's tolerance (5e-7 relative seen in CI,
    # where BLAS threading differs between the console script and the test process), not to the CSV's digits
    rtol = 1e-5 if model == "garch" else 1e-8
    np.testing.assert_allclose(written[names].to_numpy(float), expected[names].to_numpy(float), rtol=rtol)


@pytest.mark.realdata
@pytest.mark.parametrize("ticker", ["0700.HK", "BABA"])
def test_augmented_cross_market_with_lags_and_orthogonalisation(shared_dir: Path, ticker: str) -> None:
    """Extras (KWEB, a NY sector ETF; 2800.HK, a HK tracker fund) accumulated between the ticker's closes with one
    lag, against statsmodels on a design built series by series; orthogonalising the benchmark on the extras
    leaves the ARs unchanged and gives the benchmark's coefficient of the regression on its residual."""
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    benchmark, own = ("^HSI", "XHKG") if ticker.endswith(".HK") else ("^GSPC", "XNYS")
    other, other_calendar = ("^GSPC", "XNYS") if ticker.endswith(".HK") else ("^HSI", "XHKG")
    event = Event("xi", dt.date(2021, 3, 15), None, "Asia/Hong_Kong", "", "", (ticker,), (benchmark,), "", False)
    model = CrossMarket(extras=("KWEB", "2800.HK"), extra_lags=1)
    result = EventStudy([event], CsvPrices(folder), model=model, progress=False).run()
    params = result.parameters.iloc[0]
    names = ["alpha", "beta", "beta_other", "beta_KWEB", "beta_KWEB_lag1", "beta_2800.HK", "beta_2800.HK_lag1"]
    assert list(result.fit.coef_names) == names

    stock, index = _close(folder, ticker), _close(folder, benchmark)
    common = stock.index.intersection(index.index)
    frame = pd.DataFrame({"r": stock.loc[common].pct_change(), "m": index.loc[common].pct_change()})
    for column, symbol, calendar in (("o", other, other_calendar), ("k", "KWEB", "XNYS"), ("t", "2800.HK", "XHKG")):
        returns = _close(folder, symbol).pct_change().iloc[1:]
        frame[column], _ = cross_market_regressor(
            own, common.to_numpy(), calendar, returns.index.to_numpy(), returns.to_numpy()
        )
    frame["k1"], frame["t1"] = frame["k"].shift(1), frame["t"].shift(1)
    design = ["m", "o", "k", "k1", "t", "t1"]
    rows = frame.loc[params["estimation_start"] : params["estimation_end"]].dropna()
    fit = sm.OLS(rows["r"], sm.add_constant(rows[design])).fit()
    np.testing.assert_allclose(params[names].to_numpy(float), fit.params, rtol=1e-8)

    ortho = EventStudy(
        [event],
        CsvPrices(folder),
        model=CrossMarket(extras=("KWEB", "2800.HK"), extra_lags=1, orthogonalize=True),
        progress=False,
    ).run()
    pd.testing.assert_series_equal(
        ortho.abnormal_returns["abnormal_return"], result.abnormal_returns["abnormal_return"], rtol=1e-9
    )
    z = sm.add_constant(rows[["k", "k1", "t", "t1"]])
    m_perp = rows["m"] - sm.OLS(rows["m"], z).fit().fittedvalues
    by_hand = sm.OLS(rows["r"], sm.add_constant(pd.concat([m_perp, rows[["o", "k", "k1", "t", "t1"]]], axis=1))).fit()
    np.testing.assert_allclose(ortho.parameters.iloc[0]["beta"], by_hand.params.iloc[1], rtol=1e-8)


@pytest.mark.realdata
def test_command_line_extras(shared_dir: Path, tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``--model cross_market --extras KWEB --extra-lags 1 --orthogonalize``: the coefficients are named; the
    options with another model exit 2."""
    (tmp_path / "events.csv").write_text(
        "event_id,date,timezone,tickers\nxi,2021-03-15,Asia/Hong_Kong,0700.HK;BABA\n", encoding="utf-8"
    )
    common = ["run", "events.csv", "--prices", str(shared_dir / "data" / "curated" / "window_2019_2021")]
    common += ["--offline", "--formats", "csv", "--quiet", "--extras", "KWEB", "--extra-lags", "1"]
    run = eventstudy_cli(*common, "--model", "cross_market", "--orthogonalize", "--out", "out")
    assert run.returncode == 0, run.stderr
    written = pd.read_csv(tmp_path / "out" / "parameters.csv")
    assert {"beta", "beta_other", "beta_KWEB", "beta_KWEB_lag1"} <= set(written.columns) and len(written) == 2
    wrong = eventstudy_cli(*common, "--out", "wrong")
    assert wrong.returncode == 2 and "cross_market" in wrong.stderr
