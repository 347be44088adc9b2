"""Normal-return models on a hand-built panel, checked against statsmodels and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy.conventions import Conventions
from eventstudy.errors import UnknownNameError
from eventstudy.models import ConstantMean, MarketAdjusted, MarketModel, get_model
from eventstudy.returns import ReturnPanel


def _panel(n: int = 4, length: int = 150, w: int = 5, seed: int = 11, bench_own: bool = False) -> ReturnPanel:
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, size=(n, length + w))
    y = 0.0003 + 1.2 * m + rng.normal(0, 0.015, size=m.shape)
    y[1, :40] = np.nan
    pairs = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "ticker": "A", "benchmark": "M"})
    est_days, evt_days = np.arange(-length - 2, -2), np.arange(-2, w - 2)
    dates = np.full((n, length), np.datetime64("2020-01-01"), dtype="datetime64[D]")
    evt_dates = np.full((n, w), np.datetime64("2020-06-01"), dtype="datetime64[ns]")
    # the benchmark's own estimation returns: every row, even where the security has no return
    own = m[:, :length].copy() if bench_own else None
    est_market = np.where(np.isfinite(y[:, :length]), m[:, :length], np.nan)
    return ReturnPanel(
        pairs,
        est_days,
        evt_days,
        y[:, :length],
        est_market,
        dates,
        y[:, length:],
        m[:, length:],
        evt_dates,
        np.ones((n, w), dtype=np.int64),
        np.zeros((n, w), dtype=bool),
        est_bench_own=own,
    )


def test_market_model_abnormal_returns_match_statsmodels_prediction_errors() -> None:
    panel = _panel()
    fit = MarketModel().fit(panel, Conventions())
    for i in range(len(panel)):
        ok = np.isfinite(panel.est_returns[i])
        res = sm.OLS(panel.est_returns[i, ok], sm.add_constant(panel.est_market[i, ok])).fit()
        expected = res.predict(sm.add_constant(panel.evt_market[i], has_constant="add"))
        np.testing.assert_allclose(fit.abnormal[i], panel.evt_returns[i] - expected, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(fit.s2[i], res.mse_resid, rtol=1e-10)
        assert fit.df[i] == res.df_resid
        np.testing.assert_allclose(fit.r_squared[i], res.rsquared, rtol=1e-10)


def test_constant_mean_model() -> None:
    panel = _panel()
    fit = ConstantMean().fit(panel, Conventions())
    y = panel.est_returns[1][np.isfinite(panel.est_returns[1])]
    np.testing.assert_allclose(fit.expected[1], y.mean())
    np.testing.assert_allclose(fit.s2[1], y.var(ddof=1))  # divisor M - k with k = 1
    np.testing.assert_allclose(fit.leverage[1], 1 / len(y))  # C = 1 + 1/M
    assert fit.k == 1


def test_market_adjusted_model() -> None:
    panel = _panel()
    fit = MarketAdjusted().fit(panel, Conventions())
    np.testing.assert_allclose(fit.abnormal, panel.evt_returns - panel.evt_market)
    ar_est = (panel.est_returns - panel.est_market)[0]
    np.testing.assert_allclose(fit.s2[0], (ar_est**2).mean())  # METHODS.md §4.2: divisor M, no demeaning
    np.testing.assert_allclose(fit.leverage, 0.0)
    assert fit.k == 0


def test_fec_off_and_ddof_knobs() -> None:
    panel = _panel()
    fit = MarketModel().fit(panel, Conventions(fec=False, resid_ddof="1"))
    np.testing.assert_allclose(fit.leverage, 0.0)
    ok = np.isfinite(panel.est_returns[0])
    res = sm.OLS(panel.est_returns[0, ok], sm.add_constant(panel.est_market[0, ok])).fit()
    np.testing.assert_allclose(fit.s2[0], res.ssr / (ok.sum() - 1), rtol=1e-10)


def test_take_keeps_rows_without_refitting() -> None:
    fit = MarketModel().fit(_panel(), Conventions())
    sub = fit.take(np.array([2, 0]))
    np.testing.assert_array_equal(sub.coef, fit.coef[[2, 0]])
    assert not sub.abnormal.flags.writeable


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_model("capm2")
    assert "market" in str(info.value) and info.value.parameter == "--model"


class TestIndexWindowForecastErrorMoments:
    """``fec_moments = "index_window"`` (METHODS.md §8.2): benchmark moments over its whole window."""

    def setup_method(self) -> None:
        self.panel = _panel(bench_own=True)
        self.conv = Conventions(fec_moments="index_window", resid_ddof="1")

    def _hand(self, i: int) -> tuple[float, float, float]:
        """M_i (the security's own count), and the benchmark's mean and sum of squares over its window."""
        own = self.panel.est_bench_own[i]  # type: ignore[index]
        m_i = np.isfinite(self.panel.est_returns[i]).sum()
        return float(m_i), float(own.mean()), float(((own - own.mean()) ** 2).sum())

    def test_leverage_by_hand(self) -> None:
        fit = MarketModel().fit(self.panel, self.conv)
        assert fit.fec_moments == "index_window"
        for i in range(len(self.panel)):
            m_i, mean, ss = self._hand(i)
            c = 1 + 1 / m_i + (self.panel.evt_market[i] - mean) ** 2 / ss
            np.testing.assert_allclose(1 + fit.leverage[i], c, rtol=1e-13)
            np.testing.assert_allclose(fit.ar_variance[i], fit.s2[i] * c, rtol=1e-13)
        # event 1 lacks 40 returns: its moments differ from the own-row (OLS leverage) ones
        own = MarketModel().fit(self.panel, Conventions(resid_ddof="1"))
        assert own.fec_moments == "own_rows"
        assert not np.allclose(fit.leverage[1], own.leverage[1], rtol=1e-6)
        # event 0 has every row: the two definitions coincide
        np.testing.assert_allclose(fit.leverage[0], own.leverage[0], rtol=1e-10)
        # nothing but the forecast-error factor changes
        np.testing.assert_array_equal(fit.abnormal, own.abnormal)
        np.testing.assert_array_equal(fit.s2, own.s2)

    def test_moment_matrix_gives_the_car_variance_terms(self) -> None:
        fit = MarketModel().fit(self.panel, self.conv)
        for i in range(len(self.panel)):
            m_i, mean, ss = self._hand(i)
            g = fit.event_design[i].sum(axis=0)  # (L, Σ R_mt)
            length = fit.event_design.shape[1]
            expected = length**2 / m_i + ((self.panel.evt_market[i] - mean).sum()) ** 2 / ss
            np.testing.assert_allclose(g @ fit.fec_matrix[i] @ g, expected, rtol=1e-10)
            x = fit.event_design[i]
            np.testing.assert_allclose(np.einsum("wk,kj,wj->w", x, fit.fec_matrix[i], x), fit.leverage[i], rtol=1e-10)

    def test_other_models_keep_their_own_rows(self) -> None:
        cm = ConstantMean().fit(self.panel, self.conv)
        assert cm.fec_moments == "own_rows" and cm.fec_inverse is None
        n1 = np.isfinite(self.panel.est_returns[1]).sum()
        np.testing.assert_allclose(cm.leverage[1], 1 / n1)
        ma = MarketAdjusted().fit(self.panel, self.conv)
        np.testing.assert_allclose(ma.leverage, 0.0)

    def test_fec_off_wins(self) -> None:
        fit = MarketModel().fit(self.panel, self.conv.with_knobs(fec=False))
        np.testing.assert_allclose(fit.leverage, 0.0)

    def test_needs_the_benchmark_window(self) -> None:
        with pytest.raises(ValueError, match="est_bench_own"):
            MarketModel().fit(_panel(), self.conv)

    def test_take_keeps_the_moment_matrix(self) -> None:
        fit = MarketModel().fit(self.panel, self.conv)
        sub = fit.take(np.array([1]))
        np.testing.assert_array_equal(sub.fec_matrix[0], fit.fec_matrix[1])
        assert sub.fec_moments == "index_window"
