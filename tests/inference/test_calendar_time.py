"""Calendar-time portfolio test against hand computations (pandas group-by, numpy OLS and Newey-West).

The expected values never call statsmodels or the engine: the portfolio is formed with a pandas group-by
on calendar dates, the regression by least squares and the HAC covariance by the Bartlett-kernel sum
(Newey and West 1987) written out below. Tolerance rtol=1e-10: same formulas, different summation order.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_parametric_battery import REL_DAYS, WINDOWS, cols_of, simulate  # type: ignore[import-not-found]

from eventstudy.inference.base import REGISTRY
from eventstudy.inference.calendar_time import intercept_tests, newey_west_lags

RTOL = 1e-10
SPREAD = np.array([0, 2, 3, 7, 11, 12, 17, 20, 26, 29, 33, 40])
# 36 events on distinct dates with overlapping windows: [0, 0] has 36 portfolio dates, [-2, +2] more
WIDE = np.cumsum(np.r_[0, np.random.default_rng(3).integers(1, 5, size=35)])


def ctp(data, groups=None):  # type: ignore[no-untyped-def]
    groups = np.zeros(len(data.ar), dtype=np.int64) if groups is None else groups
    return REGISTRY["calendar_time_portfolio"].compute(data, "window", groups, int(groups.max()) + 1)


def hand_nw_t(data, rows, window) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Equal-weight portfolio per date, OLS on the benchmark, Newey-West t of the intercept."""
    cols = cols_of(window)
    frame = pd.DataFrame(
        {
            "date": data.evt_dates[np.ix_(rows, cols)].ravel(),
            "ret": data.evt_returns[np.ix_(rows, cols)].ravel(),
            "mkt": data.evt_market[np.ix_(rows, cols)].ravel(),
        }
    ).dropna()
    port = frame.groupby("date")[["ret", "mkt"]].mean().sort_index()
    y, x = port["ret"].to_numpy(), np.column_stack([np.ones(len(port)), port["mkt"].to_numpy()])
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    u = y - x @ b
    lags = math.floor(4 * (len(y) / 100) ** (2 / 9))
    xu = x * u[:, None]
    s = xu.T @ xu
    for j in range(1, lags + 1):
        gamma = xu[j:].T @ xu[:-j]
        s += (1 - j / (lags + 1)) * (gamma + gamma.T)
    bread = np.linalg.inv(x.T @ x)
    cov = bread @ s @ bread
    return float(b[0] / math.sqrt(cov[0, 0])), len(y) - 2


def test_newey_west_lags() -> None:
    assert [newey_west_lags(t) for t in (10, 50, 100, 500)] == [2, 3, 4, 5]


def test_regression_matches_hand_newey_west() -> None:
    d = simulate(n=36, offsets=WIDE).data
    block = ctp(d)
    for c, window in enumerate(WINDOWS):
        t, df = hand_nw_t(d, np.arange(36), window)
        np.testing.assert_allclose(block.statistic[0, c], t, rtol=RTOL)
        assert block.df[0, c] == df
        np.testing.assert_allclose(block.p_value[0, c], 2 * stats.t.sf(abs(t), df), rtol=1e-8)
        assert block.n[0, c] == 36 and block.reason[0, c] == ""
    assert block.df[0, 0] == 36 - 2  # [0, 0]: one portfolio date per event
    assert block.distribution()[0, 2] == f"t({int(block.df[0, 2])})"


def test_groups_are_separate_portfolios() -> None:
    d = simulate(n=36, offsets=WIDE).data
    groups = np.array([0, 1] * 18)
    block = ctp(d, groups)
    for g in range(2):
        t, df = hand_nw_t(d, np.flatnonzero(groups == g), (-2, 2))
        assert df + 2 >= 30
        np.testing.assert_allclose(block.statistic[g, 2], t, rtol=RTOL)
    assert np.isnan(block.statistic[:, 0]).all()  # [0, 0]: 18 dates per group


def test_mixed_markets_use_the_largest_market_and_say_so() -> None:
    markets = np.where(np.arange(36) % 4 == 0, "XHKG", "XNYS").astype(object)
    d = simulate(n=36, offsets=WIDE, markets=markets).data
    block = ctp(d)
    t, _ = hand_nw_t(d, np.flatnonzero(markets == "XNYS"), (-2, 2))
    np.testing.assert_allclose(block.statistic[0, 2], t, rtol=RTOL)
    assert block.n[0, 2] == 27
    assert "mixes markets" in block.reason[0, 2] and "XNYS" in block.reason[0, 2]


@pytest.mark.parametrize(("n_dates", "defined"), [(29, False), (30, True)])
def test_minimum_number_of_dates(n_dates: int, defined: bool) -> None:
    """[0, 0] of n events on n distinct dates: 29 dates give NaN with a reason, 30 the hand t(28)."""
    d = simulate(n=n_dates, offsets=2 * np.arange(n_dates)).data
    block = ctp(d)
    if defined:
        t, df = hand_nw_t(d, np.arange(n_dates), (0, 0))
        assert df == 28
        np.testing.assert_allclose(block.statistic[0, 0], t, rtol=RTOL)
        np.testing.assert_allclose(block.p_value[0, 0], 2 * stats.t.sf(abs(t), 28), rtol=1e-8)
        assert block.reason[0, 0] == ""
    else:
        assert np.isnan(block.statistic[0, 0]) and np.isnan(block.p_value[0, 0]) and np.isnan(block.df[0, 0])
        assert "only 29 calendar dates" in block.reason[0, 0] and "at least 30" in block.reason[0, 0]
    assert np.isfinite(block.statistic[0, 2])  # [-2, +2]: 2 n + 3 dates


def test_too_few_dates_is_nan_with_reason() -> None:
    d = simulate(offsets=np.array([0, 0, 0, 0, 1, 1, 1, 1])).data
    block = ctp(d)
    assert np.isnan(block.statistic).all() and np.isnan(block.p_value).all()
    assert "only 2 calendar dates" in block.reason[0, 0]
    assert "only 6 calendar dates" in block.reason[0, 2]


def test_fully_clustered_single_portfolio_variant() -> None:
    sim = simulate(missing=False)
    d = sim.data
    block = ctp(d)
    port = sim.est_returns.mean(axis=0)
    x = np.column_stack([np.ones(len(port)), sim.est_rows_market[0]])
    b = np.linalg.lstsq(x, port, rcond=None)[0]
    e = port - x @ b
    s2 = e @ e / (len(port) - 2)
    for c, window in enumerate(WINDOWS):
        cols = cols_of(window)
        g = np.array([len(cols), d.evt_market[0, cols].sum()])
        var = s2 * (len(cols) + g @ np.linalg.inv(x.T @ x) @ g)
        car_p = (
            d.evt_returns[:, cols].mean(axis=0) - np.column_stack([np.ones(len(cols)), d.evt_market[0, cols]]) @ b
        ).sum()
        np.testing.assert_allclose(block.statistic[0, c], car_p / math.sqrt(var), rtol=RTOL)
        assert block.df[0, c] == len(port) - 2
        assert "single-portfolio" in block.reason[0, c]


def test_fully_clustered_with_unequal_estimation_rows_is_nan_with_reason() -> None:
    block = ctp(simulate().data)  # event 0 misses 7 estimation rows
    assert np.isnan(block.statistic).all()
    assert "same estimation dates" in block.reason[0, 0]


def test_no_returns_is_nan_with_reason() -> None:
    d = simulate(offsets=SPREAD[:8]).data
    d = dataclasses.replace(d, evt_returns=np.full_like(d.evt_returns, np.nan))
    block = ctp(d)
    assert np.isnan(block.statistic).all() and (block.n == 0).all()
    assert "no firm-event has a return" in block.reason[0, 0]
    assert REL_DAYS[cols_of((0, 0))][0] == 0


@pytest.mark.parametrize("p", [0, 1, 3])
def test_intercept_tests_of_many_groups_match_statsmodels_one_by_one(p: int) -> None:
    """p regressors (0: the mean test), groups of different lengths in one call, each against statsmodels'
    ``OLS(y, add_constant(X)).fit(cov_type="HAC")`` of that group alone (its own oracle)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(11 + p)
    lengths = np.array([30, 31, 45, 80, 120, 250, 33, 500])  # Newey-West lags from 3 to 6
    group = np.repeat(np.arange(len(lengths)), lengths)
    mixing = np.array([[1.0, 0.3, -0.2], [0.0, 1.0, 0.4], [0.0, 0.0, 1.0]])[:p, :p]  # correlated regressors
    x = rng.normal(0.0, 0.01, size=(len(group), p)) @ mixing
    noise = rng.normal(0.0, 0.01, size=len(group))
    y = 0.0004 + x @ np.array([0.9, 0.4, -0.3])[:p] + noise + 0.3 * np.r_[0.0, noise[:-1]]  # MA(1) errors
    tests = intercept_tests(y, x, group, len(lengths) + 1)  # the last group is empty
    for g, t_len in enumerate(lengths):
        rows = group == g
        design = sm.add_constant(x[rows], has_constant="add")
        fit = sm.OLS(y[rows], design).fit(cov_type="HAC", cov_kwds={"maxlags": int(newey_west_lags(t_len))})
        np.testing.assert_allclose(tests.se[g], fit.bse[0], rtol=1e-10)
        np.testing.assert_allclose(tests.statistic[g], fit.params[0] / fit.bse[0], rtol=1e-10)
        assert tests.n_dates[g] == t_len and tests.why[g] == ""
    assert tests.n_dates[-1] == 0 and np.isnan(tests.statistic[-1]) and "fewer than" in tests.why[-1]
    if p == 1:  # a 1-d x is one regressor
        np.testing.assert_array_equal(intercept_tests(y, x[:, 0], group, len(lengths)).statistic, tests.statistic[:-1])


def test_intercept_tests_name_the_degenerate_regressor() -> None:
    """A regressor constant within a group, collinear regressors and too few dates: NaN, each with its reason."""
    rng = np.random.default_rng(4)
    group = np.repeat(np.arange(4), [40, 40, 40, 3])
    x = rng.normal(0.0, 0.01, size=(len(group), 2))
    x[40:80, 1] = 0.002  # group 1: the second regressor is constant
    x[80:120, 1] = 2.0 * x[80:120, 0]  # group 2: collinear
    y = rng.normal(0.0, 0.01, size=len(group))
    tests = intercept_tests(y, x, group, 4, names=("mkt_rf", "smb"))
    assert tests.why[0] == "" and np.isfinite(tests.statistic[0])
    assert tests.why[1] == "smb is constant across the portfolio dates"
    assert "collinear" in tests.why[2] and "(mkt_rf, smb)" in tests.why[2]
    assert tests.why[3].startswith("fewer than 4 observations")
    assert np.isnan(tests.statistic[1:]).all()
    exact = intercept_tests(x[:40, 0] * 0.5 + 0.001, x[:40, :1], np.zeros(40, dtype=np.int64), 1)
    assert exact.why[0] == "zero residual variance of the portfolio regression" and np.isnan(exact.statistic[0])
    flat = intercept_tests(np.full(40, 0.003), np.zeros((40, 0)), np.zeros(40, dtype=np.int64), 1)  # p = 0
    assert flat.why[0] == "zero residual variance of the portfolio regression"


def test_reasons_of_many_groups_at_once() -> None:
    """Mixed markets, too few dates and fully clustered cells side by side, each with its own text."""
    n = 36
    markets = np.where(np.arange(n) % 4 == 0, "XHKG", "XNYS").astype(object)
    d = simulate(n=n, offsets=WIDE, markets=markets).data
    groups = np.array([0] * 24 + [1] * 8 + [2] * 4)
    block = ctp(d, groups)
    assert "only" in block.reason[1, 2] and "calendar dates" in block.reason[1, 2]
    assert "mixes markets: portfolio formed on XNYS only (18 of 24 firm-events)" in block.reason[0, 2]
    assert block.n[0, 2] == 18 and block.n[2, 2] == 3  # group 2: rows 32..35, one on XHKG
    t, _ = hand_nw_t(d, np.flatnonzero((groups == 0) & (markets == "XNYS")), (-2, 2))
    np.testing.assert_allclose(block.statistic[0, 2], t, rtol=RTOL)
    same_day = simulate(n=8, offsets=np.zeros(8, dtype=int), missing=False).data
    clustered = ctp(same_day, np.array([0, 0, 0, 1, 1, 1, 2, 2]))
    assert all("single-portfolio" in r for r in clustered.reason.ravel())
    assert np.isfinite(clustered.statistic).all()
