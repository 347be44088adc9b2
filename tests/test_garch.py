"""GARCH(1,1) normal returns (``eventstudy.garch``) against direct ``arch_model(...).fit()`` calls and hand loops.

Simulated market-model returns with GARCH(1,1) errors (L = 500 so that every fit converges): the estimates,
conditional volatilities and log-likelihood against ``arch`` fitted on each event's percent series and converted
to decimals in the test; the log-likelihood also against the Gaussian formula; the event-window variances against
a scalar loop written here; the pure forecast against ``ARCHModelResult.forecast``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import arch.univariate.base
import numpy as np
import pandas as pd
import pytest
from arch import arch_model

from eventstudy.errors import InputError
from eventstudy.garch import fit_garch, forecast_sigma

N_EST, N_EVT = 500, 21
TRUE = dict(intercept=3e-4, slope=1.2, omega=2e-6, alpha=0.08, beta=0.9)
RTOL = 1e-6


def _simulate(n_events: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Returns R = a + b R_m + ε with GARCH(1,1) ε, shape (n_events, N_EST + N_EVT), and the market returns."""
    rng = np.random.default_rng(seed)
    length = N_EST + N_EVT
    market = rng.normal(0.0, 0.01, (n_events, length))
    errors = np.empty((n_events, length))
    variance = np.full(n_events, TRUE["omega"] / (1 - TRUE["alpha"] - TRUE["beta"]))
    for t in range(length):
        errors[:, t] = np.sqrt(variance) * rng.standard_normal(n_events)
        variance = TRUE["omega"] + TRUE["alpha"] * errors[:, t] ** 2 + TRUE["beta"] * variance
    return TRUE["intercept"] + TRUE["slope"] * market + errors, market


def _split(returns: np.ndarray, market: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return returns[:, :N_EST], market[:, :N_EST, None], returns[:, N_EST:], market[:, N_EST:, None]


def _arch_fit(y: np.ndarray, x: np.ndarray | None) -> Any:
    """``arch`` on one percent series, rows with a missing value dropped."""
    keep = np.isfinite(y) if x is None else np.isfinite(y) & np.isfinite(x)
    if x is None:
        model = arch_model(100 * y[keep], mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    else:
        model = arch_model(
            100 * y[keep], x=100 * x[keep, None], mean="LS", vol="GARCH", p=1, q=1, dist="normal", rescale=False
        )
    return model.fit(disp="off")


def _check_against_arch(fit: Any, i: int, y: np.ndarray, x: np.ndarray | None) -> Any:
    """Every estimate of row i against ``arch`` on the same series, converted to decimals here."""
    ref = _arch_fit(y, x)
    params = ref.params.to_numpy()
    keep = np.isfinite(fit.est_sigma[i])
    assert fit.converged[i] and fit.status[i] == ""
    assert fit.n_obs[i] == keep.sum() == len(ref.resid)
    np.testing.assert_allclose(fit.coef[i], np.r_[params[0] / 100, params[1:-3]], rtol=RTOL)
    np.testing.assert_allclose([fit.omega[i], fit.alpha[i], fit.beta[i]], [params[-3] / 1e4, *params[-2:]], rtol=RTOL)
    np.testing.assert_allclose(fit.est_sigma[i, keep], ref.conditional_volatility / 100, rtol=RTOL)
    np.testing.assert_allclose(fit.est_residuals[i, keep], ref.resid / 100, rtol=RTOL)
    np.testing.assert_allclose(fit.loglik[i], ref.loglikelihood + keep.sum() * math.log(100), rtol=RTOL)
    return ref


def _hand_event_sigma(fit: Any, i: int, abnormal: np.ndarray, gap: int = 0) -> np.ndarray:
    """σ of each event day: one step from the last usable estimation row, expectation steps, then the ARs."""
    omega, alpha, beta = fit.omega[i], fit.alpha[i], fit.beta[i]
    used = np.flatnonzero(np.isfinite(fit.est_residuals[i]))
    last = used[-1]
    variance = omega + alpha * fit.est_residuals[i, last] ** 2 + beta * fit.est_sigma[i, last] ** 2
    for _ in range(N_EST - 1 - last + gap):
        variance = omega + (alpha + beta) * variance
    out = []
    for ar in abnormal:
        out.append(math.sqrt(variance))
        shock_sq = variance if math.isnan(ar) else ar**2
        variance = omega + alpha * shock_sq + beta * variance
    return np.array(out)


def test_fit_matches_arch_per_event_and_the_gaussian_likelihood() -> None:
    returns, market = _simulate(3)
    fit = fit_garch(*_split(returns, market))
    for i in range(3):
        _check_against_arch(fit, i, returns[i, :N_EST], market[i, :N_EST])
        sigma2 = fit.est_sigma[i] ** 2
        gaussian = -0.5 * np.sum(np.log(2 * np.pi * sigma2) + fit.est_residuals[i] ** 2 / sigma2)
        np.testing.assert_allclose(fit.loglik[i], gaussian, rtol=1e-10)
        hand_resid = returns[i, :N_EST] - fit.coef[i, 0] - fit.coef[i, 1] * market[i, :N_EST]
        np.testing.assert_allclose(fit.est_residuals[i], hand_resid, rtol=1e-9, atol=1e-15)
    # decimal units: the estimates are near the simulated values (a units slip would miss by 100 or 10,000)
    np.testing.assert_allclose(fit.coef[:, 1], TRUE["slope"], atol=0.15)
    assert ((fit.omega > TRUE["omega"] / 10) & (fit.omega < TRUE["omega"] * 10)).all()
    assert fit.coef.shape == (3, 2) and fit.abnormal.shape == fit.evt_sigma.shape == (3, N_EVT)


def test_event_window_ars_and_recursion_against_a_hand_loop() -> None:
    returns, market = _simulate(3, seed=11)
    est_r, est_x, evt_r, evt_x = _split(returns, market)
    evt_r[0, 4] = np.nan  # a missing return: the next day's variance uses the expected shock
    evt_x[1, 0, 0] = np.nan  # a missing market return on day 0
    fit = fit_garch(est_r, est_x, evt_r, evt_x)
    for i in range(3):
        hand_ar = evt_r[i] - fit.coef[i, 0] - fit.coef[i, 1] * evt_x[i, :, 0]
        np.testing.assert_allclose(fit.abnormal[i], hand_ar, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(fit.evt_sigma[i], _hand_event_sigma(fit, i, hand_ar), rtol=1e-12)
    assert np.isnan(fit.abnormal[0, 4]) and np.isfinite(fit.evt_sigma[0, 4])
    assert np.isnan(fit.abnormal[1, 0]) and np.isfinite(fit.evt_sigma[1]).all()


def test_pure_forecast_matches_arch_forecast_including_a_gap() -> None:
    returns, market = _simulate(2, seed=5)
    est_r, est_x, evt_r, evt_x = _split(returns, market)
    gap = 3
    fit = fit_garch(est_r, est_x, evt_r, evt_x, gap=gap)
    pure = forecast_sigma(fit, N_EVT, gap=gap)
    for i in range(2):
        ref = _arch_fit(est_r[i], est_x[i, :, 0])
        horizon = gap + N_EVT
        arch_var = ref.forecast(horizon=horizon, x=np.zeros((1, 1, horizon)), reindex=False).variance.to_numpy()[0]
        np.testing.assert_allclose(pure[i], np.sqrt(arch_var[gap:]) / 100, rtol=RTOL)
        np.testing.assert_allclose(fit.evt_sigma[i], _hand_event_sigma(fit, i, fit.abnormal[i], gap), rtol=1e-12)
    # day 0 depends on the estimation window only; later days differ as the event ARs enter
    np.testing.assert_allclose(fit.evt_sigma[:, 0], pure[:, 0], rtol=1e-12)
    assert not np.allclose(fit.evt_sigma[:, 1:], pure[:, 1:], rtol=1e-3)


def test_missing_estimation_days_are_dropped_and_trailing_ones_stepped_with_the_expectation() -> None:
    returns, market = _simulate(2, seed=3)
    est_r, est_x, evt_r, evt_x = _split(returns, market)
    rng = np.random.default_rng(0)
    est_r[0, rng.choice(N_EST - 5, 40, replace=False)] = np.nan
    est_x[0, -5:, 0] = np.nan  # the last five estimation days have no market return
    est_x[1, 100:110, 0] = np.nan
    fit = fit_garch(est_r, est_x, evt_r, evt_x)
    for i in range(2):
        _check_against_arch(fit, i, est_r[i], est_x[i, :, 0])
        np.testing.assert_allclose(fit.evt_sigma[i], _hand_event_sigma(fit, i, fit.abnormal[i]), rtol=1e-12)
    assert fit.n_obs.tolist() == [N_EST - 45, N_EST - 10]
    missing = ~(np.isfinite(est_r) & np.isfinite(est_x[:, :, 0]))
    assert np.isnan(fit.est_sigma[missing]).all() and np.isnan(fit.est_residuals[missing]).all()


def test_constant_mean_without_regressors_matches_arch() -> None:
    returns, _ = _simulate(2, seed=9)
    empty = np.zeros((2, N_EST + N_EVT, 0))
    fit = fit_garch(returns[:, :N_EST], empty[:, :N_EST], returns[:, N_EST:], empty[:, N_EST:])
    for i in range(2):
        _check_against_arch(fit, i, returns[i, :N_EST], None)
    np.testing.assert_allclose(fit.abnormal, returns[:, N_EST:] - fit.coef[:, :1], rtol=1e-12)


def _assert_failed(fit: Any, i: int, reason: str) -> None:
    assert not fit.converged[i]
    assert reason in fit.status[i]
    for values in (fit.coef[i], fit.est_sigma[i], fit.est_residuals[i], fit.abnormal[i], fit.evt_sigma[i]):
        assert np.isnan(values).all()
    assert np.isnan([fit.omega[i], fit.alpha[i], fit.beta[i], fit.loglik[i]]).all()


def test_unusable_fits_get_a_status_and_nan_while_the_others_are_unchanged() -> None:
    returns, market = _simulate(4, seed=21)
    est_r, est_x, evt_r, evt_x = _split(returns, market)
    est_r[0, : N_EST - 50] = np.nan  # 50 returns left, fewer than min_obs = 60
    est_x[1, :, 0] = 0.01  # a constant market return: intercept and slope not identified
    # variance rising 20-fold across the window: the likelihood pushes alpha + beta to 1
    est_r[2] = np.exp(np.linspace(np.log(0.005), np.log(0.1), N_EST)) * np.random.default_rng(0).standard_normal(N_EST)
    fit = fit_garch(est_r, est_x, evt_r, evt_x)
    _assert_failed(fit, 0, "too few observations for GARCH (50 < 60)")
    assert fit.n_obs[0] == 50
    _assert_failed(fit, 1, "singular design")
    _assert_failed(fit, 2, "non-stationary variance")
    _check_against_arch(fit, 3, est_r[3], est_x[3, :, 0])
    assert fit.converged.tolist() == [False, False, False, True]


def test_an_empty_estimation_window_fails_every_row() -> None:
    fit = fit_garch(np.zeros((2, 0)), np.zeros((2, 0, 1)), np.zeros((2, 3)), np.zeros((2, 3, 1)))
    for i in range(2):
        _assert_failed(fit, i, "too few observations for GARCH (0 < 60)")
    assert forecast_sigma(fit, 2).shape == (2, 2)


def test_integrated_fits_are_flagged_on_either_side_of_the_bound() -> None:
    """Variance rising 20-fold: ``arch`` stops at alpha + beta = 1 +- 1e-7, below 1 for one series, above for others."""
    series = np.array(
        [
            np.exp(np.linspace(np.log(0.005), np.log(0.1), N_EST)) * np.random.default_rng(seed).standard_normal(N_EST)
            for seed in range(3)
        ]
    )
    persistence = [_arch_fit(y, None).params.to_numpy()[-2:].sum() for y in series]
    assert min(persistence) < 1 < max(persistence) and np.allclose(persistence, 1, atol=1e-6)
    empty = np.zeros((3, N_EST, 0))
    fit = fit_garch(series, empty, np.zeros((3, 1)), empty[:, :1])
    for i in range(3):
        _assert_failed(fit, i, "non-stationary variance")


def test_an_optimizer_failure_is_a_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """SLSQP stopped after one iteration (status 9) through the ``minimize`` that ``arch`` calls."""
    original = arch.univariate.base.minimize

    def one_iteration(*args: Any, **kwargs: Any) -> Any:
        kwargs["options"] = {**kwargs.get("options", {}), "maxiter": 1}
        return original(*args, **kwargs)

    returns, market = _simulate(1, seed=2)
    monkeypatch.setattr(arch.univariate.base, "minimize", one_iteration)
    fit = fit_garch(*_split(returns, market))
    _assert_failed(fit, 0, "optimizer did not converge (SLSQP status 9")


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        (dict(est_regressors=np.zeros((2, 80, 2))), "evt_regressors"),
        (dict(est_regressors=np.zeros((2, 79, 1))), "est_regressors"),
        (dict(evt_returns=np.zeros((3, 5))), "evt_regressors"),
        (dict(min_obs=5), "min_obs"),
        (dict(scale=0.0), "scale"),
        (dict(gap=-1), "gap"),
    ],
)
def test_bad_arguments_raise_input_errors(change: dict[str, Any], parameter: str) -> None:
    arguments: dict[str, Any] = dict(
        est_returns=np.zeros((2, 80)),
        est_regressors=np.zeros((2, 80, 1)),
        evt_returns=np.zeros((2, 5)),
        evt_regressors=np.zeros((2, 5, 1)),
    )
    arguments.update(change)
    with pytest.raises(InputError) as info:
        fit_garch(**arguments)
    assert info.value.parameter == parameter


@pytest.mark.realdata
def test_nasdaq_on_sp500_long_history_matches_arch(shared_dir: Path) -> None:
    """^IXIC on ^GSPC (arch 8.0.0 wheel data, 1999-2018): three 1,000-day windows, each followed by 10 days.

    The window from 2004-12-22 runs into the 2008 crisis: ``arch`` itself puts alpha + beta on its bound of 1
    there, so that firm-event is flagged non-stationary.
    """
    folder = shared_dir / "data" / "pypi" / "arch-8.0.0"
    closes = {
        name: pd.read_csv(folder / f"{name}.csv.gz", usecols=["Date", "Adj Close"])
        .assign(Date=lambda frame: pd.to_datetime(frame["Date"], format="%m/%d/%Y"))
        .set_index("Date")["Adj Close"]
        for name in ("nasdaq", "sp500")
    }
    joined = pd.DataFrame(closes).pct_change().dropna()
    starts = [0, 1500, 3500]
    assert joined.index[starts[1]] == pd.Timestamp("2004-12-22")
    windows = np.array([np.arange(s, s + 1010) for s in starts])
    nasdaq, sp500 = joined["nasdaq"].to_numpy()[windows], joined["sp500"].to_numpy()[windows]
    fit = fit_garch(nasdaq[:, :1000], sp500[:, :1000, None], nasdaq[:, 1000:], sp500[:, 1000:, None])
    for i in (0, 2):
        _check_against_arch(fit, i, nasdaq[i, :1000], sp500[i, :1000])
        assert 0.8 < fit.coef[i, 1] < 1.6  # the Nasdaq moves with, and more than, the S&P 500
        assert 0.9 < fit.alpha[i] + fit.beta[i] < 1
    _assert_failed(fit, 1, "non-stationary variance")
    integrated = _arch_fit(nasdaq[1, :1000], sp500[1, :1000]).params.to_numpy()
    assert abs(integrated[-2] + integrated[-1] - 1) < 1e-6
