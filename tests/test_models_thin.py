"""Thin-trading models through ``EventStudy``: Dimson (1979) and Scholes-Williams (1977) (``docs/methods.md`` §4.5-4.6).

The returns are on consecutive business days with no gaps, so the aligned series' previous and next rows are
the previous and next dates and the expected numbers can be built with pandas ``shift`` on each ticker's own
series (independent of the engine's window gather): Dimson against ``statsmodels.OLS`` on [1, R_m,t-1, R_mt,
R_m,t+1], Scholes-Williams against three ``numpy.polyfit`` slopes and a hand autocorrelation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import EventStudy
from eventstudy.data import ReturnsFrame
from eventstudy.errors import InputError
from eventstudy.events import Event
from eventstudy.models import Dimson, ScholesWilliams, get_model

RunCli = Callable[..., Any]
DATES = pd.bdate_range("2019-01-01", "2020-12-31")
SETTINGS = dict(
    estimation_window=(-120, -11),
    event_window=(-3, 3),
    car_windows=[(0, 0), (-1, 1)],
    min_estimation_obs=60,
    progress=False,
)


def _inputs() -> tuple[pd.DataFrame, list[Event]]:
    """A market with some autocorrelation and two tickers that react to it with a one-day delay."""
    rng = np.random.default_rng(17)
    shocks = rng.normal(0.0003, 0.01, len(DATES))
    market = shocks + 0.15 * np.concatenate([[0.0], shocks[:-1]])
    lagged = np.concatenate([[0.0], market[:-1]])
    parts = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    for i, ticker in enumerate(("A", "B")):
        r = 0.0001 + 0.6 * market + (0.3 + 0.2 * i) * lagged + rng.normal(0, 0.012, len(DATES))
        parts.append(pd.DataFrame({"date": DATES, "ticker": ticker, "return": r}))
    events = [
        Event("e1", DATES[300].date(), None, "America/New_York", "", "", ("A", "B"), ("M", "M"), "", False),
        Event("e2", DATES[450].date(), None, "America/New_York", "", "", ("A",), ("M",), "", False),
    ]
    return pd.concat(parts, ignore_index=True), events


def _series(returns: pd.DataFrame, ticker: str) -> pd.DataFrame:
    frame = returns.pivot(index="date", columns="ticker", values="return")
    return pd.DataFrame(
        {"y": frame[ticker], "lag": frame["M"].shift(1), "m": frame["M"], "lead": frame["M"].shift(-1)}
    ).reset_index(drop=True)


def test_dimson_against_statsmodels_on_shifted_series() -> None:
    returns, events = _inputs()
    result = EventStudy(events, ReturnsFrame(returns), model="dimson", **SETTINGS).run()
    params = result.parameters.set_index(["event_id", "ticker"])
    names = ["alpha", "beta_lag1", "beta", "beta_lead1"]
    assert list(params.columns[2:7]) == [*names, "beta_dimson"]
    ar = result.abnormal_returns.set_index(["event_id", "ticker", "rel_day"])["abnormal_return"]
    se = result.abnormal_returns.set_index(["event_id", "ticker", "rel_day"])["se"]
    car_se = result.car.set_index(["event_id", "ticker", "window_start"])["se"]
    for event in events:
        at = DATES.get_loc(pd.Timestamp(event.date)) - 1  # row of day 0 among the returns (the first date has none)
        for ticker in event.tickers:
            s = _series(returns, ticker).iloc[1:].reset_index(drop=True)
            est = s.iloc[at - 120 : at - 10]
            fit = sm.OLS(est["y"], sm.add_constant(est[["lag", "m", "lead"]])).fit()
            got = params.loc[(event.event_id, ticker)]
            np.testing.assert_allclose(got[names].to_numpy(float), fit.params, rtol=1e-9)
            np.testing.assert_allclose(got["beta_dimson"], fit.params.iloc[1:].sum(), rtol=1e-9)
            np.testing.assert_allclose(got["sigma"] ** 2, fit.mse_resid, rtol=1e-9)
            evt = s.iloc[at - 3 : at + 4]
            expected = evt["y"] - fit.predict(sm.add_constant(evt[["lag", "m", "lead"]], has_constant="add"))
            for tau, value in zip(range(-3, 4), expected, strict=True):
                np.testing.assert_allclose(ar.loc[(event.event_id, ticker, tau)], value, rtol=1e-9, atol=1e-15)
            # prediction-error variances s^2 + se_mean^2 and the exact CAR variance s^2 L + g' Cov(b) g
            x_evt = sm.add_constant(evt[["lag", "m", "lead"]], has_constant="add")
            se_mean = fit.get_prediction(x_evt).se_mean
            got_se = [se.loc[(event.event_id, ticker, tau)] for tau in range(-3, 4)]
            np.testing.assert_allclose(got_se, np.sqrt(fit.mse_resid + se_mean**2), rtol=1e-9)
            g = x_evt.iloc[2:5].sum(axis=0).to_numpy()  # the window [-1, +1]
            exact = fit.mse_resid * 3 + g @ fit.cov_params().to_numpy() @ g
            np.testing.assert_allclose(car_se.loc[(event.event_id, ticker, -1)] ** 2, exact, rtol=1e-9)


def test_scholes_williams_against_a_hand_computation() -> None:
    returns, events = _inputs()
    result = EventStudy(events, ReturnsFrame(returns), model="scholes_williams", **SETTINGS).run()
    params = result.parameters.set_index(["event_id", "ticker"])
    assert list(params.columns[2:8]) == ["alpha", "beta", "beta_lag", "beta_0", "beta_lead", "rho_m"]
    for event in events:
        at = DATES.get_loc(pd.Timestamp(event.date)) - 1
        for ticker in event.tickers:
            s = _series(returns, ticker).iloc[1:].reset_index(drop=True)
            est = s.iloc[at - 120 : at - 10]  # every neighbour exists here: the trimmed sample is the window
            slopes = [np.polyfit(est[x], est["y"], 1)[0] for x in ("lag", "m", "lead")]
            m = est["m"].to_numpy()
            lag = est["lag"].to_numpy()
            rho = np.sum((m - m.mean()) * (lag - m.mean())) / np.sum((m - m.mean()) ** 2)
            beta = sum(slopes) / (1 + 2 * rho)
            alpha = est["y"].mean() - beta * m.mean()
            resid = est["y"] - alpha - beta * est["m"]
            got = params.loc[(event.event_id, ticker)]
            np.testing.assert_allclose(
                got[["beta_lag", "beta_0", "beta_lead", "rho_m"]].to_numpy(float), [*slopes, rho], rtol=1e-9
            )
            np.testing.assert_allclose(got[["alpha", "beta"]].to_numpy(float), [alpha, beta], rtol=1e-9)
            np.testing.assert_allclose(got["sigma"] ** 2, np.sum(resid**2) / (len(est) - 2), rtol=1e-9)
            assert got["n_obs"] == len(est)
    assert "approximation" in result.spec.describe()["AR variance"]


def test_model_names_and_settings() -> None:
    assert get_model("dimson") == Dimson(lags=1) and Dimson(lags=2).k == 6
    assert Dimson(lags=2).coef_names() == ("alpha", "beta_lag2", "beta_lag1", "beta", "beta_lead1", "beta_lead2")
    assert Dimson(lags=2).market_shifts == (-2, -1, 1, 2) and ScholesWilliams().market_shifts == (-1, 1)
    assert ScholesWilliams().factor_series == () and not ScholesWilliams().single_market_regressor
    with pytest.raises(InputError, match="1 to 10"):
        Dimson(lags=0)


@pytest.mark.parametrize("model", ["scholes_williams", "dimson"])
def test_command_line_runs_thin_trading_models(model: str, tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``eventstudy run --model scholes_williams|dimson`` through the installed console script: the parameters
    file names every coefficient and diagnostic and equals the Python API's."""
    returns, events = _inputs()
    returns.assign(date=returns["date"].dt.strftime("%Y-%m-%d")).to_csv(
        tmp_path / "returns.csv", index=False, float_format="%.17g"
    )
    lines = [f"{e.event_id},{e.date.isoformat()},America/New_York,{';'.join(e.tickers)},M" for e in events]
    (tmp_path / "events.csv").write_text("event_id,date,timezone,tickers,benchmark\n" + "\n".join(lines) + "\n")
    run = eventstudy_cli(
        "run",
        "events.csv",
        "--returns",
        "returns.csv",
        "--model",
        model,
        "--estimation",
        "-120:-11",
        "--window",
        "-3:3",
        "--car",
        "0:0",
        "--car",
        "-1:1",
        "--min-obs",
        "60",
        "--formats",
        "csv",
        "--quiet",
        "--out",
        "out",
    )
    assert run.returncode == 0, run.stderr
    written = pd.read_csv(tmp_path / "out" / "parameters.csv")
    expected = EventStudy(events, ReturnsFrame(returns), model=model, **SETTINGS).run().parameters
    names = list(expected.columns[expected.columns.get_loc("alpha") : expected.columns.get_loc("sigma")])
    assert names == list(written.columns[written.columns.get_loc("alpha") : written.columns.get_loc("sigma")])
    np.testing.assert_allclose(
        written[names].to_numpy(float), expected[names].to_numpy(float), rtol=1e-9
    )  # 10 digits in the CSV


def test_command_line_trade_to_trade_intercept(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``--t2t-intercept per_day`` gives the API's TradeToTrade("per_day") parameters; with another model, exit 2."""
    from eventstudy.models import TradeToTrade

    returns, events = _inputs()
    returns.assign(date=returns["date"].dt.strftime("%Y-%m-%d")).to_csv(
        tmp_path / "returns.csv", index=False, float_format="%.17g"
    )
    lines = [f"{e.event_id},{e.date.isoformat()},America/New_York,{';'.join(e.tickers)},M" for e in events]
    (tmp_path / "events.csv").write_text("event_id,date,timezone,tickers,benchmark\n" + "\n".join(lines) + "\n")
    common = ["run", "events.csv", "--returns", "returns.csv", "--estimation", "-120:-11", "--window", "-3:3"]
    common += ["--car", "0:0", "--car", "-1:1", "--min-obs", "60", "--formats", "csv", "--quiet"]
    run = eventstudy_cli(*common, "--model", "trade_to_trade", "--t2t-intercept", "per_day", "--out", "out")
    assert run.returncode == 0, run.stderr
    written = pd.read_csv(tmp_path / "out" / "parameters.csv")
    expected = EventStudy(events, ReturnsFrame(returns), model=TradeToTrade("per_day"), **SETTINGS).run().parameters
    np.testing.assert_allclose(written[["alpha", "beta"]].to_numpy(float), expected[["alpha", "beta"]], rtol=1e-9)
    wrong = eventstudy_cli(*common, "--t2t-intercept", "per_day", "--out", "wrong")
    assert wrong.returncode == 2 and "--t2t-intercept" in wrong.stderr
