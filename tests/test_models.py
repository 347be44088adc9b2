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


def _panel(n: int = 4, length: int = 150, w: int = 5, seed: int = 11) -> ReturnPanel:
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, size=(n, length + w))
    y = 0.0003 + 1.2 * m + rng.normal(0, 0.015, size=m.shape)
    y[1, :40] = np.nan
    pairs = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "ticker": "A", "benchmark": "M"})
    est_days, evt_days = np.arange(-length - 2, -2), np.arange(-2, w - 2)
    dates = np.full((n, length), np.datetime64("2020-01-01"), dtype="datetime64[D]")
    evt_dates = np.full((n, w), np.datetime64("2020-06-01"), dtype="datetime64[ns]")
    return ReturnPanel(pairs, est_days, evt_days, y[:, :length], m[:, :length], dates, y[:, length:], m[:, length:],
                       evt_dates, np.ones((n, w), dtype=np.int64), np.zeros((n, w), dtype=bool))


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
