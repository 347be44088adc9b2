"""Array kernels against hand computations and statsmodels OLS, event by event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import _kernels as kn


def _panel(seed: int = 1, n: int = 12, length: int = 120, window: int = 11):
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.012, size=(n, length + window))
    beta = rng.uniform(0.3, 1.7, size=(n, 1))
    alpha = rng.normal(0, 0.0005, size=(n, 1))
    sigma = rng.uniform(0.005, 0.03, size=(n, 1))
    returns = alpha + beta * market + sigma * rng.standard_normal(market.shape)
    # punch holes: different missing days per event, in both series
    for i in range(n):
        holes = rng.choice(length, size=i, replace=False)
        returns[i, holes[: i // 2]] = np.nan
        market[i, holes[i // 2 :]] = np.nan
    return returns[:, :length], market[:, :length], returns[:, length:], market[:, length:]


class TestOlsAgainstStatsmodels:
    """The stacked kernel must give statsmodels' numbers for every event separately."""

    def setup_method(self) -> None:
        self.y, self.m, self.y_evt, self.m_evt = _panel()
        self.ols = kn.ols_windows(self.y, self.m[:, :, None], intercept=True)
        self.s2 = kn.residual_variance(self.ols.ssr, self.ols.n_obs, 2)
        self.x_evt = kn.design(self.m_evt[:, :, None], intercept=True)

    def _sm(self, i: int):
        ok = np.isfinite(self.y[i]) & np.isfinite(self.m[i])
        return sm.OLS(self.y[i, ok], sm.add_constant(self.m[i, ok])).fit(), ok.sum()

    def test_coefficients_and_residual_variance(self) -> None:
        for i in range(len(self.y)):
            res, m_i = self._sm(i)
            # rtol 1e-10: both are double-precision least squares on the same ~120 rows
            np.testing.assert_allclose(self.ols.coef[i], res.params, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(self.s2[i], res.mse_resid, rtol=1e-10)
            assert self.ols.n_obs[i] == m_i
            np.testing.assert_allclose(1 - self.ols.ssr[i] / self.ols.tss[i], res.rsquared, rtol=1e-10)

    def test_residuals_match_statsmodels_and_are_nan_on_unused_rows(self) -> None:
        for i in range(len(self.y)):
            res, _ = self._sm(i)
            ok = np.isfinite(self.y[i]) & np.isfinite(self.m[i])
            # atol 1e-15: residuals of returns of about 1e-2, both double-precision least squares
            np.testing.assert_allclose(self.ols.residuals[i, ok], res.resid, rtol=1e-9, atol=1e-15)
            assert np.isnan(self.ols.residuals[i, ~ok]).all()
            np.testing.assert_allclose(self.ols.ssr[i], res.ssr, rtol=1e-10)

    def test_xtx_inverse_matches_cov_params(self) -> None:
        for i in range(len(self.y)):
            res, _ = self._sm(i)
            np.testing.assert_allclose(self.ols.xtx_inv[i] * res.mse_resid, res.cov_params(), rtol=1e-9)

    def test_forecast_error_variance_matches_prediction_se(self) -> None:
        lev = kn.leverage(self.x_evt, self.ols.xtx_inv)
        for i in range(len(self.y)):
            res, _ = self._sm(i)
            pred = res.get_prediction(self.x_evt[i]).summary_frame(alpha=0.05)
            se_obs = (pred["obs_ci_upper"] - pred["mean"]) / 1.0
            from scipy import stats

            se_obs = se_obs / stats.t.ppf(0.975, res.df_resid)
            np.testing.assert_allclose(np.sqrt(self.s2[i] * (1 + lev[i])), se_obs, rtol=1e-9)
            np.testing.assert_allclose(
                kn.predict(self.x_evt[i : i + 1], self.ols.coef[i : i + 1])[0], pred["mean"], rtol=1e-10
            )

    def test_exact_car_variance_uses_parameter_covariance(self) -> None:
        cols = np.arange(3, 8)
        lev = kn.leverage(self.x_evt, self.ols.xtx_inv)
        var = kn.car_variance(self.s2, self.x_evt[:, cols], self.ols.xtx_inv, lev[:, cols], "exact")
        for i in range(len(self.y)):
            res, _ = self._sm(i)
            g = self.x_evt[i, cols].sum(axis=0)
            # Var(sum of prediction errors) = L s^2 + g' Cov(b) g
            expected = len(cols) * res.mse_resid + g @ res.cov_params() @ g
            np.testing.assert_allclose(var[i], expected, rtol=1e-9)

    def test_market_model_leverage_closed_form(self) -> None:
        lev = kn.leverage(self.x_evt, self.ols.xtx_inv)
        i = 5
        ok = np.isfinite(self.y[i]) & np.isfinite(self.m[i])
        mbar = self.m[i, ok].mean()
        sxx = ((self.m[i, ok] - mbar) ** 2).sum()
        expected = 1 / ok.sum() + (self.m_evt[i] - mbar) ** 2 / sxx  # METHODS.md §5.2
        np.testing.assert_allclose(lev[i], expected, rtol=1e-10)


def test_car_variance_variants_by_hand() -> None:
    s2 = np.array([2.0])
    x = np.array([[[1.0, 0.5], [1.0, -1.0]]])
    xtx_inv = np.array([[[0.1, 0.0], [0.0, 2.0]]])
    lev = kn.leverage(x, xtx_inv)
    np.testing.assert_allclose(lev, [[0.1 + 0.25 * 2, 0.1 + 2.0]])
    # g = (2, -0.5): g'Ag = 0.4 + 0.5 = 0.9 -> 2 * (2 + 0.9)
    np.testing.assert_allclose(kn.car_variance(s2, x, xtx_inv, lev, "exact"), [5.8])
    np.testing.assert_allclose(kn.car_variance(s2, x, xtx_inv, lev, "diag"), [2 * (2 + 0.6 + 2.1)])
    np.testing.assert_allclose(kn.car_variance(s2, x, xtx_inv, lev, "L_s2"), [4.0])


def test_constant_mean_and_no_regressor_models() -> None:
    y = np.array([[0.01, 0.03, np.nan, -0.02, 0.02]])
    ols = kn.ols_windows(y, np.zeros((1, 5, 0)), intercept=True)
    vals = np.array([0.01, 0.03, -0.02, 0.02])
    np.testing.assert_allclose(ols.coef, [[vals.mean()]])
    np.testing.assert_allclose(kn.residual_variance(ols.ssr, ols.n_obs, 1), [vals.var(ddof=1)])
    np.testing.assert_allclose(ols.xtx_inv, [[[1 / 4]]])
    # market-adjusted: no coefficient; s^2 = sum(ar^2) / M
    none = kn.ols_windows(y, np.zeros((1, 5, 0)), intercept=False)
    assert none.coef.shape == (1, 0)
    np.testing.assert_allclose(kn.residual_variance(none.ssr, none.n_obs, 0), [(vals**2).sum() / 4])


def test_degenerate_events_give_nan_not_errors() -> None:
    y = np.array([[0.01, 0.02, 0.03], [0.01, np.nan, np.nan], [0.01, 0.02, 0.0]])
    m = np.array([[0.0, 0.0, 0.0], [0.01, 0.02, 0.03], [0.01, 0.03, -0.01]])
    ols = kn.ols_windows(y, m[:, :, None], intercept=True)
    assert np.isnan(ols.coef[0]).all()  # constant market: singular
    assert np.isnan(ols.coef[1]).all()  # one row: M <= k
    assert np.isfinite(ols.coef[2]).all()
    assert list(ols.n_obs) == [3, 1, 3]


def test_window_sum_never_zero_fills() -> None:
    ar = np.array([[0.01, np.nan, 0.02], [0.01, 0.02, 0.03]])
    np.testing.assert_allclose(kn.window_sums(ar, np.array([0, 1, 2])), [np.nan, 0.06])
    np.testing.assert_allclose(kn.window_sums(ar, np.array([2])), [0.02, 0.03])


def test_group_moments_match_pandas() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=(40, 3))
    values[rng.random(values.shape) < 0.2] = np.nan
    groups = rng.integers(0, 5, size=40)
    count, total, ssd = kn.group_moments(values, groups, 6)
    frame = pd.DataFrame(values).assign(g=groups).groupby("g")
    np.testing.assert_array_equal(count[:5], frame.count().to_numpy())
    np.testing.assert_allclose(total[:5], frame.sum().to_numpy())
    np.testing.assert_allclose(ssd[:5], (frame.var(ddof=0) * frame.count()).to_numpy())
    assert (count[5] == 0).all()  # empty group


def test_group_sum_count_and_total_match_pandas() -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(size=(50, 2, 3))  # sums over rows keep the trailing shape
    values[rng.random(values.shape) < 0.2] = np.nan
    groups = rng.integers(0, 4, size=50)
    flat = pd.DataFrame(values.reshape(50, 6)).assign(g=groups).groupby("g")
    summed = kn.group_sum(values, groups, 5)
    for g in range(5):  # NaN propagates, as in numpy's sum
        np.testing.assert_allclose(summed[g], values[groups == g].sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(kn.group_total(values, groups, 5)[:4].reshape(4, 6), flat.sum().to_numpy())
    counts = kn.group_count(np.isfinite(values), groups, 5)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts[:4].reshape(4, 6), flat.count().to_numpy())
    assert (kn.group_total(values, groups, 5)[4] == 0).all() and (counts[4] == 0).all()  # empty group
    np.testing.assert_array_equal(kn.group_count(np.ones(50, dtype=bool), groups, 4), np.bincount(groups))
    np.testing.assert_allclose(kn.group_total(values, np.zeros(50, dtype=np.int64), 1)[0], np.nansum(values, axis=0))
    assert kn.group_sum(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), 2).shape == (2, 3)


def test_group_helpers_skip_rows_outside_every_group() -> None:
    """Codes < 0 or >= n_groups (rows of no group) add nothing, on the pooled and the many-group paths."""
    rng = np.random.default_rng(9)
    values = rng.normal(size=(30, 4))
    values[rng.random(values.shape) < 0.2] = np.nan
    groups = rng.integers(-1, 4, size=30)  # -1 and 3 are outside 3 groups
    inside = (groups >= 0) & (groups < 3)
    frame = pd.DataFrame(values[inside]).assign(g=groups[inside]).groupby("g")
    np.testing.assert_allclose(kn.group_total(values, groups, 3), frame.sum().to_numpy())
    count, _, ssd = kn.group_moments(values, groups, 3)
    np.testing.assert_array_equal(count, frame.count().to_numpy())
    np.testing.assert_allclose(ssd, (frame.var(ddof=0) * frame.count()).to_numpy())
    pooled = np.where(inside, 0, -1)
    np.testing.assert_allclose(kn.group_total(values, pooled, 1)[0], np.nansum(values[inside], axis=0))
    assert (kn.group_sum(values, np.full(30, -1), 3) == 0).all()


def test_weighted_group_sums_match_pandas() -> None:
    """Σ_i w_i x_i per group (0/1 weights select rows), on the pooled and the many-group paths."""
    rng = np.random.default_rng(11)
    values = rng.normal(size=(40, 2, 3))
    weights = rng.choice([0.0, 1.0, 2.5], size=40)
    groups = rng.integers(-1, 4, size=40)
    frame = pd.DataFrame(values.reshape(40, 6) * weights[:, None]).assign(g=groups)
    expected = frame[frame.g >= 0].groupby("g").sum().reindex(range(5), fill_value=0.0).to_numpy()
    got = kn.group_sum(values, groups, 5, weights=weights)
    np.testing.assert_allclose(got.reshape(5, 6), expected, rtol=1e-13, atol=1e-15)
    pooled = kn.group_sum(values, np.where(groups >= 0, 0, -1), 1, weights=weights)
    np.testing.assert_allclose(pooled.reshape(6), expected.sum(axis=0), rtol=1e-13)
    assert kn.group_sum(np.ones((40, 1), dtype=np.int64), groups, 5, weights=weights).dtype == np.float64


def test_group_max_matches_pandas() -> None:
    rng = np.random.default_rng(10)
    values = rng.normal(size=(40, 3))
    groups = rng.integers(-1, 5, size=40)  # group 5 of 6 is empty; -1 in no group
    got = kn.group_max(values, groups, 6, np.nan)
    frame = pd.DataFrame(values).assign(g=groups)
    expected = frame[frame.g >= 0].groupby("g").max().reindex(range(6)).to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[5]).all()
    assert (kn.group_max(values, np.full(40, -1), 2, -1.0) == -1.0).all()


def test_group_rows_lists_each_groups_rows_and_skips_negative_codes() -> None:
    groups = np.array([2, 0, -1, 2, 1, 0, 2, -1, 5])
    order, bounds = kn.group_rows(groups, 4)
    rows = [order[bounds[g] : bounds[g + 1]].tolist() for g in range(4)]
    assert rows == [[1, 5], [4], [0, 3, 6], []]  # -1 and 5 (>= n_groups) are in no group
    within = np.array([8, 6, 7, 5, 4, 3, 2, 1, 0])  # rows in descending order inside each group
    order, bounds = kn.group_rows(groups, 4, within=within)
    rows = [order[bounds[g] : bounds[g + 1]].tolist() for g in range(4)]
    assert rows == [[5, 1], [4], [6, 3, 0], []]
    expected = {g: np.flatnonzero(groups == g).tolist() for g in range(4)}  # the scan it replaces
    assert {g: sorted(r) for g, r in enumerate(rows)} == expected


@pytest.mark.parametrize("ddof,expected", [(2, 10 / 8), (1, 10 / 9), (0, 1.0)])
def test_residual_variance_divisors(ddof: int, expected: float) -> None:
    np.testing.assert_allclose(kn.residual_variance(np.array([10.0]), np.array([10]), ddof), [expected])
