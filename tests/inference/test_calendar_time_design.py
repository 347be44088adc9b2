"""Calendar-time portfolio test on the model's own design (factor models), end to end from a model fit.

A panel is built in code on one business-day calendar: Fama-French factors and the risk-free rate are
series by calendar date (the same row for every firm-event on a date), returns follow known loadings, and a
few values are missing (a factor on one date, the risk-free rate on another, a return). The FF3 fit goes
through ``eventstudy.engine.inference_data``; the expected statistic is formed independently of the
engine: a pandas group-by on calendar dates of the excess returns and the factors the panel holds, then
``statsmodels.OLS(...).fit(cov_type="HAC")`` with the Newey-West lags.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from eventstudy.conventions import Conventions
from eventstudy.engine import inference_data
from eventstudy.inference import InferenceData
from eventstudy.inference.base import REGISTRY
from eventstudy.inference.calendar_time import newey_west_lags
from eventstudy.models import ConstantMean, FamaFrench3, NormalReturnModel
from eventstudy.returns import ReturnPanel

SERIES = ("mkt_rf", "smb", "hml", "rf")
EVENT_DAYS = np.arange(-3, 4)
ESTIMATION = 120
WINDOWS = ((-3, 3), (0, 0), (-1, 1))
N_EVENTS = 40


def _panel(seed: int = 9) -> ReturnPanel:
    """40 firm-events 1-4 business days apart; R = rf + 0.0003 + f'b + e, plus 0.004 on days 0 and +1.

    The returns exist on the dates without SMB or Rf (the missing series count as 0 in R).
    """
    rng = np.random.default_rng(seed)
    starts = ESTIMATION + np.cumsum(rng.integers(1, 5, size=N_EVENTS))
    calendar = pd.bdate_range("2019-01-02", periods=int(starts.max()) + len(EVENT_DAYS)).to_numpy()
    factors = rng.normal(0.0, 0.008, size=(len(calendar), 3))
    rf = np.abs(rng.normal(0.0001, 0.00002, size=len(calendar)))
    position = starts[:, None] + np.arange(-ESTIMATION, len(EVENT_DAYS))[None, :]  # (N, L + W) calendar rows
    factors[position[5, ESTIMATION + 4], 1] = np.nan  # SMB missing on an event-window date
    rf[position[20, ESTIMATION + 2]] = np.nan  # the risk-free rate missing on another
    f, r_f = factors[position], rf[position]
    loadings = rng.normal([1.0, 0.3, -0.2], 0.2, size=(N_EVENTS, 3))
    noise = rng.normal(0, 0.01, size=position.shape)
    returns = np.nan_to_num(r_f) + 0.0003 + np.einsum("ntk,nk->nt", np.nan_to_num(f), loadings) + noise
    returns[:, ESTIMATION + 3 : ESTIMATION + 5] += 0.004  # days 0 and +1
    returns[11, ESTIMATION + 1] = np.nan  # a missing return in the event window
    series = np.concatenate([f, r_f[:, :, None]], axis=2)
    dates = calendar[position].astype("datetime64[D]")
    market = np.nan_to_num(f[:, :, 0] + r_f)
    pairs = pd.DataFrame({"event_id": [f"e{i}" for i in range(N_EVENTS)], "ticker": "A.HK", "benchmark": "^HSI"})
    return ReturnPanel(
        pairs,
        np.arange(-ESTIMATION - 3, -3),
        EVENT_DAYS,
        returns[:, :ESTIMATION],
        market[:, :ESTIMATION],
        dates[:, :ESTIMATION],
        returns[:, ESTIMATION:],
        market[:, ESTIMATION:],
        dates[:, ESTIMATION:].astype("datetime64[ns]"),
        np.ones((N_EVENTS, len(EVENT_DAYS)), dtype=np.int64),
        np.zeros((N_EVENTS, len(EVENT_DAYS)), dtype=bool),
        regressor_names=SERIES,
        est_regressors=series[:, :ESTIMATION],
        evt_regressors=series[:, ESTIMATION:],
    )


def _data(panel: ReturnPanel, model: NormalReturnModel) -> InferenceData:
    fit = model.fit(panel, Conventions())
    cars, variances = fit.cars(panel.event_days, WINDOWS, Conventions())
    return inference_data(panel, fit, cars, variances, WINDOWS, Conventions(), np.array(["XHKG"] * len(panel)))


def _ctp(data: InferenceData, groups: np.ndarray):  # type: ignore[no-untyped-def]
    return REGISTRY["calendar_time_portfolio"].compute(data, "window", groups, int(groups.max()) + 1)


def _long(panel: ReturnPanel, rows: np.ndarray, window: tuple[int, int]) -> pd.DataFrame:
    """One row per firm-event and window day: date, return, benchmark, and the series the panel holds."""
    days = panel.event_days
    assert panel.evt_regressors is not None
    cols = np.flatnonzero((days >= window[0]) & (days <= window[1]))
    block = panel.evt_regressors[np.ix_(rows, cols)]
    frame = pd.DataFrame({name: block[:, :, j].ravel() for j, name in enumerate(SERIES)})
    frame["date"] = panel.evt_dates[np.ix_(rows, cols)].ravel()
    frame["ret"] = panel.evt_returns[np.ix_(rows, cols)].ravel()
    frame["mkt"] = panel.evt_market[np.ix_(rows, cols)].ravel()
    return frame


def _hac_intercept_t(y: np.ndarray, x: np.ndarray) -> tuple[float, int]:
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": int(newey_west_lags(len(y)))})
    return float(fit.params[0] / fit.bse[0]), len(y) - x.shape[1] - 1


def _hand_ff3(panel: ReturnPanel, rows: np.ndarray, window: tuple[int, int]) -> tuple[float, int]:
    """Equal-weight excess-return portfolio per date on the date's factors, HAC t of the intercept."""
    frame = _long(panel, rows, window).assign(excess=lambda f: f["ret"] - f["rf"])
    port = frame[["date", "excess", "mkt_rf", "smb", "hml"]].dropna().groupby("date").mean().sort_index()
    return _hac_intercept_t(port["excess"].to_numpy(), port[["mkt_rf", "smb", "hml"]].to_numpy())


@pytest.mark.parametrize("n_groups", [1, 2])
def test_ff3_portfolio_regression_matches_pandas_and_statsmodels(n_groups: int) -> None:
    panel = _panel()
    data = _data(panel, FamaFrench3())
    assert not data.market_design and data.design_regressors == ("mkt_rf", "smb", "hml")
    groups = np.arange(N_EVENTS) % n_groups
    block = _ctp(data, groups)
    for g in range(n_groups):
        rows = np.flatnonzero(groups == g)
        for c, window in enumerate(WINDOWS):
            t, df = _hand_ff3(panel, rows, window)
            if df + 4 < 30:
                assert np.isnan(block.statistic[g, c]) and f"only {df + 4} calendar dates" in block.reason[g, c]
                continue
            np.testing.assert_allclose(block.statistic[g, c], t, rtol=1e-9)
            assert block.df[g, c] == df and block.reason[g, c] == ""
            np.testing.assert_allclose(block.p_value[g, c], 2 * stats.t.sf(abs(t), df), rtol=1e-8)
    assert n_groups == 2 or np.isfinite(block.statistic).all()


def test_ff3_days_without_a_factor_or_the_risk_free_rate_are_not_held() -> None:
    """The date without SMB and the date without Rf leave the portfolio: one date fewer each when alone."""
    panel = _panel()
    block = _ctp(_data(panel, FamaFrench3()), np.zeros(N_EVENTS, dtype=np.int64))
    frame = _long(panel, np.arange(N_EVENTS), (-3, 3))
    all_dates = frame.dropna(subset=["ret"])["date"].nunique()
    held_dates = frame.dropna()["date"].nunique()
    assert held_dates < all_dates  # the missing values do remove dates, so the check below can fail
    assert block.df[0, 0] == held_dates - 4


def test_factor_constant_over_the_portfolio_dates_is_named() -> None:
    panel = _panel()
    series = np.array(panel.evt_regressors)
    series[:, :, 2] = 0.001  # HML the same on every event-window date
    flat = dataclasses.replace(panel, evt_regressors=series)
    block = _ctp(_data(flat, FamaFrench3()), np.zeros(N_EVENTS, dtype=np.int64))
    assert np.isnan(block.statistic[0, 0]) and block.reason[0, 0] == "hml is constant across the portfolio dates"


def test_market_designs_keep_the_benchmark_regression() -> None:
    """A constant-mean fit has no regressors, yet its portfolio is still regressed on the benchmark return."""
    panel = _panel()
    data = _data(panel, ConstantMean())
    assert data.market_design and data.design_regressors == ()
    block = _ctp(data, np.zeros(N_EVENTS, dtype=np.int64))
    frame = _long(panel, np.arange(N_EVENTS), (-3, 3))
    port = frame[["date", "ret", "mkt"]].dropna().groupby("date").mean().sort_index()
    t, df = _hac_intercept_t(port["ret"].to_numpy(), port[["mkt"]].to_numpy())
    np.testing.assert_allclose(block.statistic[0, 0], t, rtol=1e-9)
    assert block.df[0, 0] == df
