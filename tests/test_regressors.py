"""Factor series joined to each firm-event's return dates, end to end through ``EventStudy``.

The factor table is a minimal object with the reading interface of :class:`eventstudy.regressors.FactorTable`
built in the test (the French/CSV readers are tested in ``tests/data/test_factors.py``). The expected numbers
come from a pandas merge of the returns and the factors on the date, then ``statsmodels.OLS`` on the
estimation rows of each firm-event: independent of the panel's gather and of :func:`with_series`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
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
from eventstudy.regressors import FactorData, load_factor_data

RunCli = Callable[..., Any]
DATES = pd.bdate_range("2019-01-01", "2020-12-31")
COLUMNS = ("mkt_rf", "smb", "hml", "rf")


class _Table:
    """Factor rows by date with the reading interface of a factor table."""

    source, vintage, units = "test factors", None, "decimal"

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.day = frame["date"].to_numpy().astype("datetime64[D]").view(np.int64)
        self.values = frame[list(COLUMNS)].to_numpy()

    def at(self, days: np.ndarray, names: Sequence[str]) -> np.ndarray:
        cols = [COLUMNS.index(n) for n in names]
        pos = np.clip(np.searchsorted(self.day, days), 0, len(self.day) - 1)
        found = self.day[pos] == days
        return np.where(found[..., None], self.values[pos][..., cols], np.nan)


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, list[Event]]:
    rng = np.random.default_rng(3)
    n = len(DATES)
    factors = pd.DataFrame(
        {
            "date": DATES,
            "mkt_rf": rng.normal(0.0003, 0.01, n),
            "smb": rng.normal(0, 0.005, n),
            "hml": rng.normal(0, 0.005, n),
            "rf": np.full(n, 0.00008),
        }
    )
    factors = factors.drop(index=[300, 301, 420])  # factor days missing: two in an estimation window, one event day
    market = rng.normal(0.0003, 0.01, n)
    parts = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    f = factors.set_index("date").reindex(DATES)
    for i, ticker in enumerate(("A", "B", "C")):
        r = f["rf"].fillna(0.00008) + 0.0002 + (0.8 + 0.2 * i) * f["mkt_rf"].fillna(0) + 0.5 * f["smb"].fillna(0)
        parts.append(pd.DataFrame({"date": DATES, "ticker": ticker, "return": r + rng.normal(0, 0.012, n)}))
    returns = pd.concat(parts, ignore_index=True)
    events = [
        Event("e1", DATES[330].date(), None, "America/New_York", "", "", ("A", "B"), ("M", "M"), "", False),
        Event("e2", DATES[420].date(), None, "America/New_York", "", "", ("C",), ("M",), "", False),
    ]
    return returns, factors, events


SETTINGS = dict(estimation_window=(-120, -11), event_window=(-3, 3), car_windows=[(0, 0), (-1, 1)], progress=False)


def test_ff3_study_against_statsmodels_on_a_date_merge() -> None:
    returns, factors, events = _inputs()
    result = EventStudy(
        events, ReturnsFrame(returns), model="ff3", factors=_Table(factors), min_estimation_obs=60, **SETTINGS
    ).run()
    params = result.parameters.set_index(["event_id", "ticker"])
    assert list(params.columns[2:6]) == ["alpha", "beta_mkt", "beta_smb", "beta_hml"]
    merged = returns.merge(factors, on="date", how="left")
    for event in events:
        position = DATES.get_loc(pd.Timestamp(event.date))
        estimation = DATES[position - 120 : position - 10]
        for ticker in event.tickers:
            rows = merged[(merged["ticker"] == ticker) & merged["date"].isin(estimation)].dropna()
            fit = sm.OLS(rows["return"] - rows["rf"], sm.add_constant(rows[["mkt_rf", "smb", "hml"]])).fit()
            got = params.loc[(event.event_id, ticker)]
            np.testing.assert_allclose(
                got[["alpha", "beta_mkt", "beta_smb", "beta_hml"]].to_numpy(float), fit.params, rtol=1e-9
            )
            assert got["n_obs"] == fit.nobs and got["regressor_gaps"] == 110 - fit.nobs
            np.testing.assert_allclose(got["sigma"] ** 2, fit.mse_resid, rtol=1e-9)
    # e1's window holds no gap; e2's day 0 has no factor row: no AR that day, CAR windows over it excluded
    assert params.loc[("e1", "A"), "regressor_gaps"] == 2
    ar = result.abnormal_returns.set_index(["event_id", "ticker", "rel_day"])["abnormal_return"]
    assert np.isnan(ar.loc[("e2", "C", 0)]) and np.isfinite(ar.loc[("e2", "C", 1)])
    assert (result.exclusions["event_id"] == "e2").sum() == 2


def test_a_factor_model_without_factor_data_is_an_input_error() -> None:
    returns, _, events = _inputs()
    study = EventStudy(events, ReturnsFrame(returns), model="capm", min_estimation_obs=60, **SETTINGS)
    with pytest.raises(InputError, match="factor data"):
        study.run()


def test_the_market_model_ignores_factor_data() -> None:
    returns, factors, events = _inputs()
    plain = EventStudy(events, ReturnsFrame(returns), min_estimation_obs=60, **SETTINGS).run()
    given = EventStudy(
        events, ReturnsFrame(returns), factors=FactorData(default=_Table(factors)), min_estimation_obs=60, **SETTINGS
    ).run()
    pd.testing.assert_frame_equal(plain.car, given.car)
    assert "regressor_gaps" not in plain.parameters.columns


@pytest.mark.realdata
def test_ff3_on_tencent_against_a_hand_regression_on_the_shared_factor_file(shared_dir: Path) -> None:
    """0700.HK with the Asia Pacific ex Japan FF3 factors of ../shared (percent in the file): the study's
    coefficients equal OLS of (R - RF/100) on the factors / 100 over the estimation dates the study used,
    with R from the Adj Close of the shared price file (common dates with ^HSI, as the study aligns)."""
    from eventstudy.data import CsvPrices
    from eventstudy.models import FamaFrench3

    prices_dir = shared_dir / "data" / "curated" / "window_2019_2021"
    factors_dir = shared_dir / "data" / "curated" / "factors"
    event = Event("xi", dt.date(2021, 3, 15), None, "Asia/Hong_Kong", "", "", ("0700.HK",), ("^HSI",), "", False)
    data = load_factor_data(factors_dir, FamaFrench3(), ["0700.HK"])
    assert set(data.by_region) == {"asia_pacific_ex_japan"} and not data.unavailable
    result = EventStudy([event], CsvPrices(prices_dir), model="ff3", factors=data, progress=False).run()
    params = result.parameters.iloc[0]
    stock = pd.read_csv(prices_dir / "0700.HK.csv", parse_dates=["Date"]).set_index("Date")["Adj Close"]
    index = pd.read_csv(prices_dir / "^HSI.csv", parse_dates=["Date"]).set_index("Date")["Adj Close"]
    common = stock.index.intersection(index.index)
    returns = stock.loc[common].pct_change().rename("r")
    factors = pd.read_csv(factors_dir / "ff3_asia_pacific_ex_japan_daily.csv", parse_dates=["Date"]).set_index("Date")
    rows = pd.concat([returns, factors / 100], axis=1, join="inner").dropna()
    rows = rows.loc[params["estimation_start"] : params["estimation_end"]]
    fit = sm.OLS(rows["r"] - rows["RF"], sm.add_constant(rows[["Mkt-RF", "SMB", "HML"]])).fit()
    np.testing.assert_allclose(
        params[["alpha", "beta_mkt", "beta_smb", "beta_hml"]].to_numpy(float), fit.params.to_numpy(), rtol=1e-8
    )
    assert params["n_obs"] == fit.nobs and params["regressor_gaps"] == 0


@pytest.mark.realdata
def test_command_line_factor_models(shared_dir: Path, tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``eventstudy run --model ff3|carhart --factors DIR`` through the console script on shared prices: the
    parameters name every factor; a ticker whose region has no factor file (0700.HK under Carhart: no Asia Pacific
    momentum file) is excluded with the reason, and ff3 without --factors is an input error (exit 2)."""
    (tmp_path / "events.csv").write_text(
        "event_id,date,timezone,tickers\nxi,2021-03-15,Asia/Hong_Kong,0700.HK;TCEHY\n", encoding="utf-8"
    )
    prices = str(shared_dir / "data" / "curated" / "window_2019_2021")
    factors = str(shared_dir / "data" / "curated" / "factors")
    common = ["run", "events.csv", "--prices", prices, "--offline", "--formats", "csv", "--quiet"]
    for model, names in (("ff3", ["beta_mkt", "beta_smb", "beta_hml"]), ("carhart", ["beta_hml", "beta_mom"])):
        run = eventstudy_cli(*common, "--model", model, "--factors", factors, "--out", model)
        assert run.returncode == 0, run.stderr
        params = pd.read_csv(tmp_path / model / "parameters.csv")
        assert set(names) <= set(params.columns) and len(params) == 2 - (model == "carhart")
    # Carhart: the momentum file ends 2024-07 and has no Asia Pacific version here, so 0700.HK has no factors
    excluded = pd.read_csv(tmp_path / "carhart" / "exclusions.csv")
    assert excluded.loc[excluded.ticker == "0700.HK", "reason"].str.contains("days without regressor data").all()
    missing = eventstudy_cli(*common, "--model", "ff3", "--out", "none")
    assert missing.returncode == 2 and "--factors" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.realdata
def test_command_line_factor_region_override(shared_dir: Path, tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``--factor-region TICKER=REGION`` moves a ticker to another region's factors (TCEHY to Japan, which the curated
    folder has no FF3 file for: excluded with its days without regressor data); a bad region exits 2."""
    (tmp_path / "events.csv").write_text(
        "event_id,date,timezone,tickers\nxi,2021-03-15,Asia/Hong_Kong,0700.HK;TCEHY\n", encoding="utf-8"
    )
    common = ["run", "events.csv", "--prices", str(shared_dir / "data" / "curated" / "window_2019_2021"), "--offline"]
    common += ["--model", "ff3", "--factors", str(shared_dir / "data" / "curated" / "factors"), "--formats", "csv"]
    run = eventstudy_cli(*common, "--factor-region", "TCEHY=japan", "--quiet", "--out", "moved")
    assert run.returncode == 0, run.stderr
    excluded = pd.read_csv(tmp_path / "moved" / "exclusions.csv")
    assert excluded.loc[excluded.ticker == "TCEHY", "reason"].str.contains("days without regressor data").all()
    assert set(pd.read_csv(tmp_path / "moved" / "parameters.csv")["ticker"]) == {"0700.HK"}
    bad = eventstudy_cli(*common, "--factor-region", "TCEHY=mars", "--quiet", "--out", "bad")
    assert bad.returncode == 2 and "--factor-region" in bad.stderr and "Traceback" not in bad.stderr
