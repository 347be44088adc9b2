"""Factor models (CAPM, FF3, FF5, Carhart, user factors) against statsmodels OLS per event on the same design.

The panels are built in code: returns driven by known factor loadings plus noise, the risk-free rate as a
series of its own, and a few factor days missing (NaN) in the estimation and event windows. Every number
the model layer computes (coefficients, s², the prediction errors, their leverage, the exact CAR variance)
is compared with ``statsmodels.OLS`` on the excess returns: ``get_prediction`` gives x'(X'X)^-1 x s² and
``cov_params`` the parameter covariance of the CAR variance s² L + g' Cov(b) g (``docs/methods.md`` §5.3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy.conventions import Conventions
from eventstudy.engine import inference_data
from eventstudy.errors import InputError
from eventstudy.inference import InferenceData, clustered
from eventstudy.models import (
    Capm,
    Carhart,
    FactorModel,
    FamaFrench3,
    FamaFrench5,
    MarketModel,
    get_model,
)
from eventstudy.returns import ReturnPanel

FACTORS = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom")
SERIES = (*FACTORS, "rf")


def _panel(n: int = 3, length: int = 160, w: int = 7, seed: int = 5) -> ReturnPanel:
    """Returns R = rf + 0.0002 + f'b + e with factors (N, L + W, 6) and rf; NaN factor days in both windows."""
    rng = np.random.default_rng(seed)
    total = length + w
    f = rng.normal(0, 0.008, size=(n, total, len(FACTORS)))
    rf = np.abs(rng.normal(0.0001, 0.00002, size=(n, total)))
    loadings = np.array([1.1, 0.4, -0.3, 0.2, 0.1, -0.2])
    y = rf + 0.0002 + f @ loadings + rng.normal(0, 0.012, size=(n, total))
    y[1, :30] = np.nan  # a late start for one firm-event
    f[0, 10, 1] = np.nan  # an estimation day without SMB
    rf[2, 50] = np.nan  # an estimation day without the risk-free rate
    f[0, length + 2, 0] = np.nan  # an event day without Mkt-RF
    series = np.concatenate([f, rf[:, :, None]], axis=2)
    pairs = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "ticker": "A.HK", "benchmark": "^HSI"})
    market = rng.normal(0, 0.01, size=(n, total))
    return ReturnPanel(
        pairs,
        np.arange(-length - 3, -3),
        np.arange(-3, w - 3),
        y[:, :length],
        market[:, :length],
        np.full((n, length), np.datetime64("2020-01-01"), dtype="datetime64[D]"),
        y[:, length:],
        market[:, length:],
        np.full((n, w), np.datetime64("2020-06-01"), dtype="datetime64[ns]"),
        np.ones((n, w), dtype=np.int64),
        np.zeros((n, w), dtype=bool),
        regressor_names=SERIES,
        est_regressors=series[:, :length],
        evt_regressors=series[:, length:],
    )


def _columns(model: FactorModel) -> list[int]:
    return [SERIES.index(name) for name in model.factors]


@pytest.mark.parametrize(
    "model", [Capm(), FamaFrench3(), FamaFrench5(), Carhart(), FactorModel(factors=("smb", "mom"))], ids=str
)
def test_factor_model_against_statsmodels_ols_per_event(model: FactorModel) -> None:
    panel = _panel()
    fit = model.fit(panel, Conventions())
    cols = _columns(model)
    window = slice(2, 6)  # a CAR window of 4 days without the missing event day of event 0
    _, variances = fit.cars(panel.event_days, [(panel.event_days[2], panel.event_days[5])], Conventions())
    for i in range(len(panel)):
        est = panel.est_regressors[i]
        excess = panel.est_returns[i] - est[:, -1]
        x = est[:, cols]
        rows = np.isfinite(excess) & np.isfinite(x).all(axis=1)
        res = sm.OLS(excess[rows], sm.add_constant(x[rows])).fit()
        np.testing.assert_allclose(fit.coef[i], res.params, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(fit.s2[i], res.mse_resid, rtol=1e-10)
        np.testing.assert_allclose(fit.r_squared[i], res.rsquared, rtol=1e-10)
        assert fit.n_obs[i] == rows.sum() and fit.df[i] == res.df_resid
        evt = panel.evt_regressors[i]
        x_evt = sm.add_constant(evt[:, cols], has_constant="add")
        prediction = res.get_prediction(x_evt)
        expected_ar = panel.evt_returns[i] - evt[:, -1] - prediction.predicted_mean
        np.testing.assert_allclose(fit.abnormal[i], expected_ar, rtol=1e-9, atol=1e-14)
        ok = np.isfinite(expected_ar)
        np.testing.assert_allclose(
            (fit.leverage[i] * fit.s2[i])[ok], (prediction.se_mean**2)[ok], rtol=1e-9, atol=1e-18
        )
        g = x_evt[window].sum(axis=0)
        exact = res.mse_resid * 4 + g @ res.cov_params() @ g
        np.testing.assert_allclose(variances[i, 0], exact, rtol=1e-9)
    assert not np.isfinite(fit.abnormal[0, 2]) or 0 not in _columns(model)  # no Mkt-RF that day: no AR


def test_coefficient_names_and_gaps() -> None:
    panel = _panel()
    assert Capm().coef_names() == ("alpha", "beta_mkt")
    assert FamaFrench3().coef_names() == ("alpha", "beta_mkt", "beta_smb", "beta_hml")
    assert Carhart().coef_names() == ("alpha", "beta_mkt", "beta_smb", "beta_hml", "beta_mom")
    assert FamaFrench5().k == 6 and MarketModel().coef_names() == ("alpha", "beta")
    fit = FamaFrench3().fit(panel, Conventions())
    assert fit.coef_names == FamaFrench3().coef_names()
    # event 0 lacks SMB on one estimation day, event 2 the risk-free rate on one, event 1 nothing it has a return on
    assert fit.regressor_gaps.tolist() == [1, 0, 1]
    assert Capm().fit(panel, Conventions()).regressor_gaps.tolist() == [0, 0, 1]


def test_the_expected_return_adds_the_risk_free_rate_back() -> None:
    panel = _panel()
    fit = Capm().fit(panel, Conventions())
    evt = panel.evt_regressors
    by_hand = evt[:, :, -1] + fit.coef[:, :1] + fit.coef[:, 1:2] * evt[:, :, 0]
    np.testing.assert_allclose(fit.expected, by_hand, rtol=1e-12)


def test_a_panel_without_the_factors_names_what_is_missing() -> None:
    panel = _panel()
    bare = ReturnPanel(
        **{
            **{k: getattr(panel, k) for k in vars(panel) if k != "pairs"},
            "pairs": panel.pairs,
            "regressor_names": (),
            "est_regressors": None,
            "evt_regressors": None,
        }
    )
    with pytest.raises(InputError, match=r"mkt_rf, smb, hml, rf.*available: market"):
        FamaFrench3().fit(bare, Conventions())


def test_get_model_by_name_and_user_factors() -> None:
    assert get_model("ff3") == FamaFrench3() and get_model("carhart").k == 5
    assert get_model("factors", factors=["mkt_rf", "mom"]).coef_names() == ("alpha", "beta_mkt", "beta_mom")
    with pytest.raises(InputError, match="needs its factor columns"):
        get_model("factors")
    with pytest.raises(InputError, match="not of 'ff3'"):
        get_model("ff3", factors=["smb"])
    with pytest.raises(InputError, match="risk-free"):
        FactorModel(factors=("mkt_rf", "rf"))


def _inference(panel: ReturnPanel, model: FactorModel | MarketModel) -> InferenceData:
    fit = model.fit(panel, Conventions())
    cars, variances = fit.cars(panel.event_days, [(0, 0)], Conventions())
    return inference_data(panel, fit, cars, variances, ((0, 0),), Conventions(), np.array(["XHKG"] * len(panel)))


def test_lamb_market_term_is_the_centred_design_leverage() -> None:
    """Lamb's (R_m - R̄_m)^2 / Σ (R_m - R̄_m)^2 generalises to x'(X'X)^-1 x - 1/M: equal on the market model's
    design, and on an FF3 design equal to statsmodels' prediction variance / s² - 1/M."""
    panel = _panel()
    market = _inference(panel, MarketModel())
    assert market.market_design and market.evt_target is None
    np.testing.assert_allclose(
        clustered._centred_design_leverage(market), clustered._own_market_leverage(market), rtol=1e-10, atol=1e-15
    )
    ff3 = _inference(panel, FamaFrench3())
    assert not ff3.market_design and ff3.design_regressors == ("mkt_rf", "smb", "hml")
    lev = clustered._market_leverage(ff3)
    for i in range(len(panel)):
        est = panel.est_regressors[i]
        excess, x = panel.est_returns[i] - est[:, -1], est[:, :3]
        rows = np.isfinite(excess) & np.isfinite(x).all(axis=1)
        res = sm.OLS(excess[rows], sm.add_constant(x[rows])).fit()
        se = res.get_prediction(sm.add_constant(panel.evt_regressors[i][:, :3], has_constant="add")).se_mean
        np.testing.assert_allclose(lev[i], se**2 / res.mse_resid - 1 / rows.sum(), rtol=1e-9, atol=1e-14)
    # the event-window target of the factor model is the excess return (missing on a day without factors)
    complete = np.isfinite(panel.evt_regressors[:, :, [0, 1, 2, 6]]).all(axis=2)
    expected = np.where(complete, panel.evt_returns - panel.evt_regressors[:, :, -1], np.nan)
    np.testing.assert_allclose(ff3.evt_target, expected, rtol=1e-12)
