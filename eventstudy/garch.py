"""GARCH(1,1) normal returns: a linear (market-model) mean with GARCH(1,1) errors, fitted by Kevin Sheppard's ``arch``.

Model (Bollerslev 1986; issue 9 item 6), for firm-event i on its estimation window::

    R_it = x_it' b_i + ε_it,   ε_it | past ~ N(0, σ²_it),   σ²_it = ω_i + α_i ε²_i,t−1 + β_i σ²_i,t−1

with x_it = (1, regressors) (p = 1: the market model of ``docs/methods.md`` §4.3). Mean and variance parameters
are estimated jointly by Gaussian maximum likelihood with ``arch.arch_model(..., mean="LS", vol="GARCH", p=1, q=1,
dist="normal")`` (``mean="Constant"`` when there is no regressor), one firm-event at a time: ``arch`` fits one
series per call, so that loop is the only per-event Python loop here; everything else works on the (N, L) and
(N, W) arrays of :mod:`eventstudy._kernels` at once.

Conventions (to be stated wherever the model is reported):

- **Missing days.** Estimation rows with a missing return or regressor are dropped; the GARCH recursion then runs
  over the remaining observations as if they were consecutive, and ``arch`` starts it from its own backcast
  (an exponentially weighted mean of the first squared residuals). Results on the (N, L) grid are NaN on the
  dropped rows.
- **Units.** The optimiser sees returns and regressors multiplied by ``scale`` (100: percent), as ``arch``
  recommends; every output is converted back to decimals: intercept / scale, slopes unchanged, ω / scale²,
  residuals and σ / scale, and the log-likelihood of the decimal returns, ℓ + M ln(scale) (the density of R
  is scale times the density of scale·R at each of the M observations).
- **Event window.** AR_it = R_it − x_it' b̂_i. Its conditional variance σ²_it continues the fitted recursion from
  the last estimation observation T: σ²_T+1 = ω + α e²_T + β σ²_T, then through every later day, using the
  previous day's AR as the shock. A day whose shock is unknown (a missing AR, an estimation-window day after the
  last usable row, or one of the ``gap`` days between the two windows) is stepped with the shock's expectation,
  σ²_t+1 = ω + (α + β) σ²_t. :func:`forecast_sigma` gives the pure multi-step forecast from the end of the
  estimation window (no event-window shocks), σ²_T+h = ω Σ_{j<h−1} (α+β)^j + (α+β)^(h−1) σ²_T+1. Unlike
  ``arch``'s estimation-window recursion, these forward steps apply no variance bounds.
- **Failures.** A firm-event whose fit cannot be used gets NaN estimates, ``converged`` False and a ``status``
  saying why (too few observations, a singular design, an ``arch`` error, the optimiser's message, or a
  persistence α + β within :data:`PERSISTENCE_TOLERANCE` of 1 or above): the study turns it into an exclusion.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from arch import arch_model

from eventstudy._kernels import design, ols_windows, predict
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.errors import InputError

PERSISTENCE_TOLERANCE = 1e-6
"""A fit with α + β ≥ 1 − this is treated as non-stationary. ``arch`` constrains α + β ≤ 1, and when the
likelihood pushes to an integrated GARCH its optimiser (SLSQP) stops at 1 ± 1e-8, so a strict α + β ≥ 1 test
would exclude such fits or not by chance."""


@dataclass(frozen=True, eq=False)
class GarchFit:
    """Per-firm-event GARCH(1,1) estimates from :func:`fit_garch`, in decimal-return units.

    Attributes
    ----------
    coef : (N, k)
        Mean-equation coefficients: intercept first, then one slope per regressor (k = p + 1).
    omega, alpha, beta : (N,)
        GARCH(1,1) variance parameters; ω in decimals².
    converged : (N,)
        True when the fit is usable; every estimate of a False row is NaN.
    status : (N,) object
        ``""`` when converged, else a short reason.
    n_obs : (N,)
        Estimation returns used (return and every regressor present).
    loglik : (N,)
        Gaussian log-likelihood of the decimal estimation returns at the estimates.
    est_residuals, est_sigma : (N, L)
        Mean-equation residuals e_it and conditional standard deviations σ_it on the estimation window (NaN on
        dropped rows).
    abnormal : (N, W)
        AR_it = R_it − x_it' b̂_i on the event window.
    evt_sigma : (N, W)
        Conditional standard deviation of each event day given the days before it (module notes), defined also
        on days whose AR is missing.
    """

    coef: FloatArray
    omega: FloatArray
    alpha: FloatArray
    beta: FloatArray
    converged: BoolArray
    status: np.ndarray
    n_obs: IntArray
    est_residuals: FloatArray
    est_sigma: FloatArray
    abnormal: FloatArray
    evt_sigma: FloatArray
    loglik: FloatArray

    def __post_init__(self) -> None:
        for value in vars(self).values():
            value.flags.writeable = False


@dataclass(frozen=True)
class _ScaledFit:
    """One successful ``arch`` fit, in the optimiser's (scaled) units: mean params, (ω, α, β), e and σ, ℓ."""

    mean: FloatArray
    variance: FloatArray
    residuals: FloatArray
    sigma: FloatArray
    loglik: float


def fit_garch(
    est_returns: FloatArray,
    est_regressors: FloatArray,
    evt_returns: FloatArray,
    evt_regressors: FloatArray,
    *,
    min_obs: int = 60,
    scale: float = 100.0,
    gap: int = 0,
) -> GarchFit:
    """Fit a linear mean with GARCH(1,1) errors on every estimation window and compute event-window ARs and σ.

    Parameters
    ----------
    est_returns, est_regressors : (N, L), (N, L, p)
        Estimation-window returns and regressors without the constant (p = 1: the market), NaN where missing.
    evt_returns, evt_regressors : (N, W), (N, W, p)
        Event-window returns and regressors.
    min_obs
        Fewest estimation returns a fit needs; at least k + 4 (one more than the k + 3 parameters).
    scale
        Factor applied to returns and regressors for the optimiser (100: percent).
    gap
        Trading days between the last estimation-window column and the first event-window column that are in
        neither array (0 when the windows are adjacent); the variance is stepped over them with its expectation.

    Returns
    -------
    GarchFit
        Conventions in the module docstring. Problems of a single firm-event are reported in ``status``;
        inconsistent array shapes or a bad option raise :class:`~eventstudy.errors.InputError`.
    """
    n_events, _, p = _check_inputs(est_returns, est_regressors, evt_returns, evt_regressors, min_obs, scale, gap)
    k = p + 1
    used = np.isfinite(est_returns) & np.isfinite(est_regressors).all(axis=2)
    n_obs = used.sum(axis=1).astype(np.int64)
    # ols_windows leaves the whole coefficient row NaN where the design is singular (or M <= k)
    singular = np.isnan(ols_windows(est_returns, est_regressors, intercept=True).coef[:, 0])

    mean = np.full((n_events, k), np.nan)
    variance = np.full((n_events, 3), np.nan)
    loglik = np.full(n_events, np.nan)
    est_residuals = np.full(est_returns.shape, np.nan)
    est_sigma = np.full(est_returns.shape, np.nan)
    status = np.full(n_events, "", dtype=object)
    for i in range(n_events):
        if n_obs[i] < min_obs:
            status[i] = f"too few observations for GARCH ({n_obs[i]} < {min_obs})"
            continue
        if singular[i]:
            status[i] = "singular design: a regressor is constant or collinear over the estimation sample"
            continue
        fitted = _fit_one(scale * est_returns[i, used[i]], scale * est_regressors[i, used[i]])
        if isinstance(fitted, str):
            status[i] = fitted
            continue
        mean[i], variance[i], loglik[i] = fitted.mean, fitted.variance, fitted.loglik
        est_residuals[i, used[i]] = fitted.residuals
        est_sigma[i, used[i]] = fitted.sigma

    converged = status == ""
    est_residuals /= scale
    est_sigma /= scale
    coef = mean.copy()
    coef[:, 0] /= scale
    omega = variance[:, 0] / scale**2
    alpha, beta = variance[:, 1], variance[:, 2]
    loglik += n_obs * math.log(scale)
    abnormal = evt_returns - predict(design(evt_regressors, intercept=True), coef)
    start = _first_event_variance(omega, alpha, beta, est_residuals, est_sigma, gap)
    evt_sigma = np.sqrt(_forward_variance(start, omega, alpha, beta, abnormal))
    return GarchFit(
        coef=coef,
        omega=omega,
        alpha=alpha,
        beta=beta,
        converged=converged,
        status=status,
        n_obs=n_obs,
        est_residuals=est_residuals,
        est_sigma=est_sigma,
        abnormal=abnormal,
        evt_sigma=evt_sigma,
        loglik=loglik,
    )


def forecast_sigma(fit: GarchFit, horizon: int, *, gap: int = 0) -> FloatArray:
    """Pure multi-step forecast of σ for event-window days 0..horizon−1 from the end of the estimation window.

    σ²_T+h = ω Σ_{j<h−1} (α+β)^j + (α+β)^(h−1) σ²_T+1, with σ²_T+1 = ω + α e²_T + β σ²_T at the last estimation
    observation T and h counted in days (trailing missing estimation days and ``gap`` days included, as in
    :func:`fit_garch`). No event-window AR enters, so this is the variance an analyst would have predicted before
    the event; ``fit.evt_sigma`` uses the ARs as they arrive. Shape (N, horizon); NaN for non-converged rows.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise InputError(f"horizon must be a non-negative integer, got {horizon!r}", parameter="horizon", value=horizon)
    _check_gap(gap)
    start = _first_event_variance(fit.omega, fit.alpha, fit.beta, fit.est_residuals, fit.est_sigma, gap)
    unknown_shocks = np.full((len(start), int(horizon)), np.nan)
    return np.sqrt(_forward_variance(start, fit.omega, fit.alpha, fit.beta, unknown_shocks))


def _fit_one(y: FloatArray, x: FloatArray) -> _ScaledFit | str:
    """Fit one scaled series with ``arch``; the estimates, or the reason they cannot be used.

    ``arch`` edits the global warning filters during ``fit`` and warns on convergence trouble; both are kept
    inside a ``catch_warnings`` block, since the optimiser's verdict is read from the result instead.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if x.shape[1]:
                model = arch_model(y, x=x, mean="LS", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
            else:
                model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
            result = model.fit(disp="off", show_warning=False)
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # LinAlgError is a ValueError
            return f"arch fit failed ({type(exc).__name__}: {exc})"
    if result.convergence_flag != 0:
        return (
            f"optimizer did not converge (SLSQP status {result.convergence_flag}: {result.optimization_result.message})"
        )
    params = np.asarray(result.params, dtype=np.float64)
    mean, variance = params[:-3], params[-3:]
    if not np.isfinite(params).all():
        return "arch returned non-finite estimates"
    persistence = variance[1] + variance[2]
    if persistence >= 1.0 - PERSISTENCE_TOLERANCE:
        return f"non-stationary variance: alpha + beta = {persistence:.6f} (integrated or explosive GARCH)"
    return _ScaledFit(
        mean=mean,
        variance=variance,
        residuals=np.asarray(result.resid, dtype=np.float64),
        sigma=np.asarray(result.conditional_volatility, dtype=np.float64),
        loglik=float(result.loglikelihood),
    )


def _first_event_variance(
    omega: FloatArray, alpha: FloatArray, beta: FloatArray, est_residuals: FloatArray, est_sigma: FloatArray, gap: int
) -> FloatArray:
    """σ² of event-window day 0: one step from the last estimation observation, then expectation steps (N,).

    The expectation steps cover the estimation columns after the last usable row and the ``gap`` days.
    """
    n_events, length = est_residuals.shape
    observed = np.isfinite(est_residuals)
    if length == 0:
        return np.full(n_events, np.nan)
    from_end = np.argmax(observed[:, ::-1], axis=1)  # columns after the last usable row
    last = length - 1 - from_end
    rows = np.arange(n_events)
    with np.errstate(invalid="ignore"):
        variance = omega + alpha * est_residuals[rows, last] ** 2 + beta * est_sigma[rows, last] ** 2
    blind_steps = from_end + gap
    persistence = alpha + beta
    for step in range(int(blind_steps.max(initial=0))):
        variance = np.where(step < blind_steps, omega + persistence * variance, variance)
    return np.where(observed.any(axis=1), variance, np.nan)


def _forward_variance(
    start: FloatArray, omega: FloatArray, alpha: FloatArray, beta: FloatArray, shocks: FloatArray
) -> FloatArray:
    """GARCH(1,1) variances over the columns of ``shocks`` (N, W), the first being ``start`` (N,).

    σ²_t+1 = ω + α ε²_t + β σ²_t, with ε²_t replaced by its expectation σ²_t where ``shocks`` is NaN. A loop
    over days (a recursion), each step over all events at once.
    """
    out = np.empty(shocks.shape)
    variance = start
    for day in range(shocks.shape[1]):
        out[:, day] = variance
        squared = np.where(np.isfinite(shocks[:, day]), shocks[:, day] ** 2, variance)
        variance = omega + alpha * squared + beta * variance
    return out


def _check_inputs(
    est_returns: FloatArray,
    est_regressors: FloatArray,
    evt_returns: FloatArray,
    evt_regressors: FloatArray,
    min_obs: int,
    scale: float,
    gap: int,
) -> tuple[int, int, int]:
    """Shapes (N, L, p) after checking that the four arrays agree and the options are usable."""
    if est_returns.ndim != 2 or evt_returns.ndim != 2:
        raise InputError(
            f"returns must be (events x days) arrays, got est_returns {est_returns.shape} and evt_returns "
            f"{evt_returns.shape}",
            parameter="est_returns",
        )
    n_events, length = est_returns.shape
    width = evt_returns.shape[1]
    if est_regressors.ndim != 3 or est_regressors.shape[:2] != (n_events, length):
        raise InputError(
            f"est_regressors must have shape ({n_events}, {length}, p) to match est_returns, got "
            f"{est_regressors.shape}",
            parameter="est_regressors",
        )
    p = est_regressors.shape[2]
    if evt_regressors.shape != (n_events, width, p) or evt_returns.shape[0] != n_events:
        raise InputError(
            f"evt_returns and evt_regressors must have shapes ({n_events}, W) and ({n_events}, W, {p}) to match the "
            f"estimation arrays, got {evt_returns.shape} and {evt_regressors.shape}",
            parameter="evt_regressors",
        )
    if isinstance(min_obs, bool) or not isinstance(min_obs, (int, np.integer)) or min_obs < p + 5:
        raise InputError(
            f"min_obs must be an integer of at least k + 4 = {p + 5} (more returns than the {p + 4} mean and "
            f"variance parameters), got {min_obs!r}",
            parameter="min_obs",
            value=min_obs,
        )
    if not (isinstance(scale, (int, float, np.floating)) and math.isfinite(scale) and scale > 0):
        raise InputError(
            f"scale must be a positive number (100 fits percent returns), got {scale!r}", parameter="scale", value=scale
        )
    _check_gap(gap)
    return n_events, length, p


def _check_gap(gap: int) -> None:
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise InputError(
            f"gap must be a non-negative integer number of trading days, got {gap!r}", parameter="gap", value=gap
        )


__all__ = ["PERSISTENCE_TOLERANCE", "GarchFit", "fit_garch", "forecast_sigma"]
