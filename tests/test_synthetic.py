"""Synthetic-control weights, placebo and conformal inference (eventstudy.synthetic) and donor pools (eventstudy.donors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from eventstudy.donors import SYNTHETIC_COLUMNS, DonorPanel, OwnEvents, synthetic_table
from eventstudy.errors import InputError
from eventstudy.returns import ReturnPanel
from eventstudy.synthetic import (
    conformal_car,
    conformal_p_values,
    fit_weights,
    placebo_p_values,
    placebo_statistics,
    shift_statistics,
    synthetic_fit,
    window_cars,
)


def _slsqp_weights(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The constrained least squares by SLSQP, an independent solver (gradient-based, explicit constraints)."""
    d = x.shape[1]
    result = minimize(
        lambda w: float(np.sum((y - x @ w) ** 2)),
        np.full(d, 1.0 / d),
        jac=lambda w: -2.0 * x.T @ (y - x @ w),
        method="SLSQP",
        bounds=[(0.0, None)] * d,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        options={"ftol": 1e-16, "maxiter": 2000},
    )
    assert result.success, result.message
    return np.asarray(result.x)


def _planted(seed: int = 3, m: int = 240, w: int = 21, d: int = 40, shock: float = 0.04, noise: float = 0.002):
    """Treated = 0.5 donor 3 + 0.3 donor 10 + 0.2 donor 25 + noise, plus ``shock`` on event day 10 (day 0)."""
    rng = np.random.default_rng(seed)
    donors = rng.normal(0.0, 0.02, (m + w, d))
    true = np.zeros(d)
    true[[3, 10, 25]] = [0.5, 0.3, 0.2]
    treated = donors @ true + rng.normal(0.0, noise, m + w)
    treated[m + 10] += shock
    return treated[:m], donors[:m], treated[m:], donors[m:], true


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_match_an_independent_slsqp_solve(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.02, (120, 15))
    y = x[:, :4] @ np.array([0.4, 0.3, 0.2, 0.1]) + rng.normal(0.0, 0.01, 120) + 0.001
    weights = fit_weights(y, x)
    assert (weights >= 0).all()
    assert weights.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(weights, _slsqp_weights(y, x), atol=2e-6)
    objective = np.sum((y - x @ weights) ** 2)
    assert objective <= np.sum((y - x @ _slsqp_weights(y, x)) ** 2) + 1e-12


def test_planted_effect_is_recovered() -> None:
    pre_y, pre_x, evt_y, evt_x, true = _planted()
    fit = synthetic_fit(pre_y, pre_x, evt_y, evt_x)
    np.testing.assert_allclose(fit.weights, true, atol=0.03)
    windows = np.zeros((2, 21))
    windows[0, 10] = 1.0
    windows[1, 9:12] = 1.0
    cars = window_cars(fit.abnormal, windows)
    np.testing.assert_allclose(cars, 0.04, atol=4 * 0.002 * np.sqrt(3))
    assert fit.rmspe_pre == pytest.approx(0.002, rel=0.15)
    observed = np.abs(cars / fit.rmspe_pre)
    p_placebo = placebo_p_values(observed, placebo_statistics(pre_x, evt_x, windows))
    np.testing.assert_allclose(p_placebo, 1.0 / 41.0)  # no donor has a shock: the treated ranks first
    conformal = conformal_car(pre_y, pre_x, evt_y[10:11], evt_x[10:11], float(cars[0]), fit.rmspe_pre)
    assert conformal.p_value < 0.01
    assert conformal.ci_low < 0.04 < conformal.ci_high
    assert conformal.ci_high - conformal.ci_low < 0.02


def test_conformal_size_under_no_effect() -> None:
    """Without a shock p(0) <= 0.05 (and 0 outside the interval) in about 5 % of samples: at most 6 of 40."""
    rejections = covered = 0
    for seed in range(40):
        pre_y, pre_x, evt_y, evt_x, _ = _planted(seed=100 + seed, m=120, d=30, shock=0.0)
        fit = synthetic_fit(pre_y, pre_x, evt_y, evt_x)
        car = float(fit.abnormal[9:12].sum())
        conformal = conformal_car(pre_y, pre_x, evt_y[9:12], evt_x[9:12], car, fit.rmspe_pre)
        rejections += conformal.p_value <= 0.05
        covered += conformal.ci_low <= 0.0 <= conformal.ci_high
    assert rejections <= 6
    assert covered >= 34


def test_placebo_ranks_by_hand() -> None:
    rng = np.random.default_rng(11)
    m, w, d = 60, 5, 6
    donors = rng.normal(0.0, 0.02, (m + w, d))
    treated = donors[:, :2].mean(axis=1) + rng.normal(0.0, 0.004, m + w)
    treated[m + 2] += 0.01
    windows = np.array([[0, 0, 1, 0, 0], [0, 1, 1, 1, 0]], dtype=float)
    stats = placebo_statistics(donors[:m], donors[m:], windows)
    fit = synthetic_fit(treated[:m], donors[:m], treated[m:], donors[m:])
    observed = np.abs(window_cars(fit.abnormal, windows) / fit.rmspe_pre)
    p_values = placebo_p_values(observed, stats)
    for c, (first, last) in enumerate([(2, 2), (1, 3)]):
        larger = 0
        for unit in range(d):
            others = [j for j in range(d) if j != unit]
            weights = _slsqp_weights(donors[:m, unit], donors[:m][:, others])
            pre = donors[:m, unit] - donors[:m][:, others] @ weights
            ar = donors[m:, unit] - donors[m:][:, others] @ weights
            statistic = abs(ar[first : last + 1].sum() / np.sqrt(np.mean(pre**2)))
            assert statistic == pytest.approx(stats[unit, c], rel=1e-4)
            larger += statistic >= observed[c]
        assert p_values[c] == pytest.approx((1 + larger) / (d + 1))


def test_placebo_p_value_is_missing_without_an_observed_statistic() -> None:
    out = placebo_p_values(np.array([np.nan, 1.0]), np.array([[0.5, 2.0], [1.5, 0.1]]))
    assert np.isnan(out[0])
    assert out[1] == pytest.approx(2 / 3)


def test_shift_statistics_match_a_loop() -> None:
    u = np.random.default_rng(2).normal(size=(3, 9))
    stats = shift_statistics(u, 2)
    for g in range(3):
        for j in range(9):
            shifted = [u[g, (t + j) % 9] for t in range(9)]
            assert stats[g, j] == pytest.approx(abs(sum(shifted[7:])) / np.sqrt(2))


def test_conformal_p_values_by_hand_on_a_tiny_example() -> None:
    rng = np.random.default_rng(7)
    t0, length, d = 8, 2, 3
    x = rng.normal(0.0, 0.02, (t0 + length, d))
    y = x @ np.array([0.6, 0.4, 0.0]) + rng.normal(0.0, 0.005, t0 + length)
    y[t0:] += 0.02
    thetas = np.array([-0.01, 0.0, 0.01, 0.02, 0.03])
    p_values = conformal_p_values(y[:t0], x[:t0], y[t0:], x[t0:], thetas)
    total = t0 + length
    for g, theta in enumerate(thetas):
        adjusted = y.copy()
        adjusted[t0:] -= theta
        weights = _slsqp_weights(adjusted, x)
        u = adjusted - x @ weights
        statistics = []
        for j in range(total):
            shifted = [u[(t + j) % total] for t in range(total)]
            statistics.append(abs(sum(shifted[t0:])) / np.sqrt(length))
        expected = sum(s >= statistics[0] for s in statistics) / total
        assert p_values[g] == pytest.approx(expected), theta


def test_conformal_interval_is_open_when_every_theta_is_accepted() -> None:
    # two pre days and one post day: 3 shifts, so p(θ) >= 1/3 > 0.05 for every θ
    x = np.array([[0.01, 0.02], [0.03, -0.01], [0.02, 0.00]])
    y = np.array([0.015, 0.01, 0.05])
    result = conformal_car(y[:2], x[:2], y[2:], x[2:], 0.04, 0.01)
    assert result.p_value >= 1 / 3
    assert (result.ci_low, result.ci_high) == (-np.inf, np.inf)


def test_window_cars_are_missing_when_a_day_is_missing() -> None:
    ar = np.array([0.01, np.nan, 0.02, 0.03])
    windows = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=float)
    np.testing.assert_allclose(window_cars(ar, windows), [0.06, np.nan])


# ------------------------------------------------------------------ donor panels

DONORS = ("0005.HK", "0388.HK", "0700.HK", "1810.HK", "3690.HK", "9988.HK")


def _donor_file(tmp_path: Path, n_days: int = 160, seed: int = 4) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n_days)
    returns = rng.normal(0.0, 0.02, (n_days, len(DONORS)))
    returns[0] = 0.0
    prices = pd.DataFrame(100.0 * np.cumprod(1.0 + returns, axis=0), index=dates, columns=list(DONORS))
    prices.index.name = "Date"
    path = tmp_path / "adj_close_wide.csv"
    prices.to_csv(path, float_format="%.12g")
    return path, pd.read_csv(path, index_col=0, parse_dates=True)


def test_donor_file_missing_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.csv"):
        DonorPanel.from_csv(tmp_path / "nowhere.csv")


def test_donor_file_of_two_exchanges_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("Date,0700.HK,BABA\n2021-01-04,1,2\n2021-01-05,1,2\n")
    with pytest.raises(InputError, match="one known exchange"):
        DonorPanel.from_csv(path)


def test_interval_returns_span_the_treated_interval(tmp_path: Path) -> None:
    path, prices = _donor_file(tmp_path, n_days=10)
    donors = DonorPanel.from_csv(path)
    assert donors.exchange == "XHKG"
    days = prices.index.to_numpy().astype("datetime64[D]")
    # the treated series skips day 4: its return on day 5 runs from day 3
    dates = np.array([[days[2], days[3], days[5], np.datetime64("NaT")]], dtype="datetime64[D]")
    simple = donors.interval_returns(dates, "simple")
    values = prices.to_numpy()
    np.testing.assert_allclose(simple[0, 0], values[2] / values[1] - 1.0)
    np.testing.assert_allclose(simple[0, 1], values[3] / values[2] - 1.0)
    np.testing.assert_allclose(simple[0, 2], values[5] / values[3] - 1.0)
    assert np.isnan(simple[0, 3]).all()
    np.testing.assert_allclose(donors.interval_returns(dates, "log")[0, :3], np.log1p(simple[0, :3]))


def _panel_from(prices: pd.DataFrame, treated: np.ndarray, day_zero: int, est: tuple[int, int], evt: tuple[int, int]):
    """A one-firm-event ReturnPanel of ``treated`` returns (aligned to the file's rows) around row ``day_zero``."""
    dates = prices.index.to_numpy().astype("datetime64[D]")
    est_days, evt_days = np.arange(est[0], est[1] + 1), np.arange(evt[0], evt[1] + 1)
    pairs = pd.DataFrame(
        {"event_id": ["ev"], "ticker": ["0700.HK"], "benchmark": ["^HSI"], "day_zero": [pd.Timestamp(dates[day_zero])]}
    )
    return ReturnPanel(
        pairs,
        est_days,
        evt_days,
        treated[None, day_zero + est_days],
        np.zeros((1, len(est_days))),
        dates[None, day_zero + est_days],
        treated[None, day_zero + evt_days],
        np.zeros((1, len(evt_days))),
        dates[None, day_zero + evt_days].astype("datetime64[ns]"),
        np.ones((1, len(evt_days)), dtype=np.int64),
        np.zeros((1, len(evt_days)), dtype=bool),
    )


def test_synthetic_table_pool_rules_and_planted_shock(tmp_path: Path) -> None:
    path, prices = _donor_file(tmp_path)
    returns = prices.pct_change().to_numpy()
    treated = 0.7 * returns[:, 0] + 0.3 * returns[:, 1] + np.random.default_rng(9).normal(0.0, 0.001, len(returns))
    day_zero = 140
    treated[day_zero] += 0.05
    prices.loc[prices.index[60], "1810.HK"] = np.nan  # a donor with a missing price in the estimation window
    prices.to_csv(path)
    panel = _panel_from(prices, treated, day_zero, (-120, -11), (-10, 10))
    own_events = OwnEvents.of(
        ["0700.HK", "3690.HK", "9988.HK"], [prices.index[day_zero], prices.index[day_zero - 30], prices.index[2]]
    )
    windows = ((0, 0), (-1, 1))
    table = synthetic_table(
        panel, np.array([[0.051, 0.049]]), windows, DonorPanel.from_csv(path), own_events, "simple", 50
    )
    assert tuple(table.columns) == SYNTHETIC_COLUMNS
    assert len(table) == 2
    row = table.iloc[0]
    # the pool: not the treated 0700.HK, not 3690.HK (own event in the windows), not 1810.HK (missing price);
    # 9988.HK's event lies before the windows, so it stays
    assert row["n_donors"] == 3
    assert row["n_pre"] == 110
    weights = dict(part.split() for part in row["top_weights"].split("; "))
    assert float(weights["0005.HK"]) == pytest.approx(0.7, abs=0.02)
    assert float(weights["0388.HK"]) == pytest.approx(0.3, abs=0.02)
    assert "3690.HK" not in row["top_weights"] and "1810.HK" not in row["top_weights"]
    assert row["car_synthetic"] == pytest.approx(0.05, abs=0.004)
    assert row["car_model"] == 0.051
    assert row["p_placebo"] == pytest.approx(0.25)  # 1 / (3 donors + 1)
    assert row["p_conformal"] < 0.05
    assert row["ci_low"] < 0.05 < row["ci_high"]
    assert row["reason"] == ""


def test_synthetic_table_excludes_other_exchanges(tmp_path: Path) -> None:
    path, prices = _donor_file(tmp_path)
    panel = _panel_from(prices, prices.pct_change().to_numpy()[:, 0], 140, (-120, -11), (-10, 10))
    panel = ReturnPanel(**{**panel.__dict__, "pairs": panel.pairs.assign(ticker="BABA")})
    no_events = OwnEvents.of([], [])
    table = synthetic_table(panel, np.array([[0.0]]), ((0, 0),), DonorPanel.from_csv(path), no_events, "simple", 50)
    assert table.loc[0, "reason"] == "BABA trades on XNYS; the donors of adj_close_wide.csv trade on XHKG"
    assert np.isnan(table.loc[0, "car_synthetic"])
    assert table.loc[0, "n_donors"] == 0


def test_a_window_with_a_missing_return_has_no_synthetic_car(tmp_path: Path) -> None:
    path, prices = _donor_file(tmp_path)
    treated = prices.pct_change().to_numpy()[:, :2].mean(axis=1)
    treated[139] = np.nan  # day -1
    panel = _panel_from(prices, treated, 140, (-120, -11), (-10, 10))
    windows = ((0, 0), (-1, 1))
    table = synthetic_table(
        panel, np.zeros((1, 2)), windows, DonorPanel.from_csv(path), OwnEvents.of([], []), "simple", 50
    )
    assert table["reason"].tolist() == ["", "a day of the window has no return"]
    assert np.isfinite(table.loc[0, "car_synthetic"]) and np.isnan(table.loc[1, "car_synthetic"])
    assert np.isfinite(table.loc[0, "p_conformal"]) and np.isnan(table.loc[1, "p_conformal"])
