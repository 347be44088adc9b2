"""Synthetic-control counterfactuals for single firm-events: weights, placebo and conformal inference.

The counterfactual of a treated firm's return is a convex combination of donor returns (Abadie, Diamond and
Hainmueller 2010; on daily stock returns as in Acemoglu, Johnson, Kermani, Kwak and Mitton 2016):

    w = argmin_w  Σ_{t ∈ pre} (R_it - Σ_j w_j R_jt)^2   subject to  w_j >= 0,  Σ_j w_j = 1,

on the estimation-window days ("pre"), with no intercept and no demeaning (returns are matched as they are).
AR_t = R_it - Σ_j w_j R_jt, CAR(w) = Σ_{t∈w} AR_t, RMSPE_pre = sqrt(mean of the pre residuals squared) and
RMSPE_post = sqrt(mean of AR_t^2 over the window).

Inference:

* placebo (Abadie et al. 2010; Acemoglu et al. 2016): each donor d in turn is the treated unit with weights
  fitted from the other donors on the same days; the statistic is |CAR_d / RMSPE_pre,d| and
  p = (1 + #{d : |CAR_d / RMSPE_d| >= |CAR / RMSPE|}) / (D + 1);
* conformal (Chernozhukov, Wüthrich and Zhu 2021): under H0 "the effect is θ on every day of the window" the
  window's returns are reduced by θ, the weights refitted on the pre days and the window days together, and
  the residuals u_1..u_T (pre days, then the window's L days, in time order) give
  S(u) = |Σ_{t > T0} u_t| / sqrt(L); p(θ) = (1/T) Σ_{j=0}^{T-1} 1{S(u^(j)) >= S(u)} over the T cyclic shifts
  u^(j)_t = u_{(t + j) mod T} (the moving-block permutations, j = 0 the data themselves). The interval for
  the CAR is {L θ : p(θ) > α} on a grid of θ (:func:`conformal_grid`), reported by its smallest and largest
  accepted point (the grid widened when the accepted set reaches its end: :func:`conformal_car`).

The solver is scipy's ``nnls`` (Lawson-Hanson) on the least-squares system augmented with the sum-to-one row
λ 1'w = λ (λ = :data:`SUM_ROW_WEIGHT` times the Frobenius norm of the donor matrix, which makes the penalty
λ^2 (1'w - 1)^2 dominate the fit), the solution then divided by its sum so that it sums to one exactly. A
constrained solve per treated unit (and per hypothesis θ) is inherent; everything else is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eventstudy._typing import FloatArray

SUM_ROW_WEIGHT = 1e4
"""λ / ||X||_F of the augmented sum-to-one row of :func:`fit_weights`."""

CONFORMAL_ALPHA = 0.05
"""The level of the conformal interval: it holds the θ with p(θ) > α."""

CONFORMAL_HALF_WIDTH = 5.0
"""Half-width of the θ grid in units of RMSPE_pre / sqrt(L) around the point estimate CAR / L."""

CONFORMAL_POINTS = 401
"""Number of θ points of the grid (evenly spaced, both ends included)."""


def fit_weights(treated: FloatArray, donors: FloatArray) -> FloatArray:
    """Synthetic-control weights: min ||y - X w||^2 subject to w >= 0, Σ w = 1, (D,).

    Parameters
    ----------
    treated : (M,)
        The treated unit's returns on the fit days (no NaN).
    donors : (M, D)
        The donors' returns on the same days (no NaN).

    Notes
    -----
    scipy ``nnls`` on [X; λ 1'] w ≈ [y; λ] with λ = :data:`SUM_ROW_WEIGHT` ||X||_F, then w / Σ w.
    """
    return _solve_augmented(np.asarray(donors, dtype=np.float64), np.asarray(treated, dtype=np.float64))


def _solve_augmented(matrix: FloatArray, target: FloatArray) -> FloatArray:
    """Scipy ``nnls`` of ``matrix w ≈ target`` plus the heavily weighted row λ 1'w = λ, normalised to sum to one."""
    from scipy.optimize import nnls  # imported on the first fit, not with every study (scipy.optimize: ~0.2 s)

    n_cols = matrix.shape[1]
    scale = SUM_ROW_WEIGHT * max(float(np.linalg.norm(matrix)), 1e-12)
    system = np.vstack([matrix, np.full((1, n_cols), scale)])
    weights, _ = nnls(system, np.append(target, scale), maxiter=50 * n_cols + 100)
    return weights / weights.sum()


@dataclass(frozen=True, eq=False)
class SyntheticFit:
    """One firm-event's synthetic control on its estimation window.

    Attributes
    ----------
    weights : (D,)
        Donor weights (>= 0, summing to one).
    pre_residuals : (M,)
        R_it - Σ_j w_j R_jt on the fit days.
    abnormal : (W,)
        The same on the event-window days (NaN where the treated return is missing).
    """

    weights: FloatArray
    pre_residuals: FloatArray
    abnormal: FloatArray

    @property
    def rmspe_pre(self) -> float:
        """sqrt(mean of the squared pre residuals)."""
        return float(np.sqrt(np.mean(self.pre_residuals**2)))


def synthetic_fit(
    pre_treated: FloatArray, pre_donors: FloatArray, evt_treated: FloatArray, evt_donors: FloatArray
) -> SyntheticFit:
    """Weights on the pre days, residuals there and abnormal returns in the event window."""
    weights = fit_weights(pre_treated, pre_donors)
    return SyntheticFit(weights, pre_treated - pre_donors @ weights, evt_treated - evt_donors @ weights)


def window_cars(abnormal: FloatArray, windows: FloatArray) -> FloatArray:
    """CAR per window: ``abnormal`` (..., W) summed over each 0/1 row of ``windows`` (C, W); NaN if a day is missing."""
    present = np.isfinite(abnormal)
    sums = np.where(present, abnormal, 0.0) @ windows.T
    complete = (~present).astype(np.float64) @ windows.T == 0
    return np.where(complete, sums, np.nan)


def placebo_statistics(pre_donors: FloatArray, evt_donors: FloatArray, windows: FloatArray) -> FloatArray:
    """|CAR_d / RMSPE_pre,d| of each donor d treated as the treated unit, weights from the other donors, (D, C).

    ``pre_donors`` (M, D) and ``evt_donors`` (W, D) have no NaN; ``windows`` (C, W) marks each CAR window's days.
    """
    n_donors = pre_donors.shape[1]
    out = np.empty((n_donors, len(windows)))
    for d in range(n_donors):  # one constrained solve per placebo unit
        others = np.delete(np.arange(n_donors), d)
        fit = synthetic_fit(pre_donors[:, d], pre_donors[:, others], evt_donors[:, d], evt_donors[:, others])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[d] = np.abs(window_cars(fit.abnormal, windows) / fit.rmspe_pre)
    return out


def placebo_p_values(observed: FloatArray, placebo: FloatArray) -> FloatArray:
    """The placebo p = (1 + #{d : placebo_d >= observed}) / (D + 1) per column; ``observed`` (C,), ``placebo`` (D, C).

    Both are the statistic |CAR / RMSPE_pre|; NaN where the observed one is NaN.
    """
    count = (placebo >= observed[None, :]).sum(axis=0)
    p_value = (1.0 + count) / (placebo.shape[0] + 1.0)
    return np.where(np.isfinite(observed), p_value, np.nan)


def shift_statistics(residuals: FloatArray, n_post: int) -> FloatArray:
    """S(u^(j)) = |Σ of the last ``n_post`` entries of u shifted cyclically by j| / sqrt(n_post), (..., T).

    ``residuals`` (..., T) in time order with the post period last; column j of the result is the shift
    u^(j)_t = u_{(t + j) mod T}, j = 0 the unshifted series.
    """
    total = residuals.shape[-1]
    doubled = np.concatenate([residuals, residuals], axis=-1)
    cumulative = np.concatenate([np.zeros(residuals.shape[:-1] + (1,)), np.cumsum(doubled, axis=-1)], axis=-1)
    start = total - n_post + np.arange(total)
    sums = cumulative[..., start + n_post] - cumulative[..., start]
    return np.abs(sums) / np.sqrt(n_post)


def conformal_p_values(
    pre_treated: FloatArray,
    pre_donors: FloatArray,
    post_treated: FloatArray,
    post_donors: FloatArray,
    thetas: FloatArray,
) -> FloatArray:
    """CWZ (2021) p-value of H0: effect θ on each post day, for every θ of ``thetas``, (G,).

    The weights are refitted on the pre and post days together with the post returns reduced by θ; the
    statistic and the permutations are those of :func:`shift_statistics`. The fits share one QR
    decomposition X = QR of the donor matrix: ||y - θ d - X w||^2 = ||Q'(y - θ d) - R w||^2 + const, so each
    θ is one ``nnls`` on R (min(T, D) rows), and the residuals of all θ are computed at once.
    """
    target = np.concatenate([pre_treated, post_treated])
    donors = np.vstack([pre_donors, post_donors])
    post = np.r_[np.zeros(len(pre_treated)), np.ones(len(post_treated))]
    thetas = np.asarray(thetas, dtype=np.float64)
    q, r = np.linalg.qr(donors)
    projected = (q.T @ target)[None, :] - thetas[:, None] * (q.T @ post)[None, :]
    weights = np.stack([_solve_augmented(r, row) for row in projected])  # one constrained solve per θ
    residuals = target[None, :] - thetas[:, None] * post[None, :] - weights @ donors.T
    stats = shift_statistics(residuals, len(post_treated))
    return (stats >= stats[:, :1]).mean(axis=1)


def conformal_grid(car: float, rmspe_pre: float, n_post: int, widen: int = 0) -> FloatArray:
    """The θ grid: :data:`CONFORMAL_POINTS` points from CAR/L - h to CAR/L + h, h = 5 RMSPE_pre / sqrt(L) 2^widen."""
    centre = car / n_post
    half = CONFORMAL_HALF_WIDTH * rmspe_pre / np.sqrt(n_post) * 2.0**widen
    return np.linspace(centre - half, centre + half, CONFORMAL_POINTS)


CONFORMAL_WIDENINGS = 3
"""How many times the θ grid is doubled in width when the accepted set reaches one of its ends."""


@dataclass(frozen=True)
class ConformalResult:
    """The conformal p-value of H0: no effect, and the interval for the CAR (L θ); an open end is -inf or +inf."""

    p_value: float
    ci_low: float
    ci_high: float


def conformal_car(
    pre_treated: FloatArray,
    pre_donors: FloatArray,
    post_treated: FloatArray,
    post_donors: FloatArray,
    car: float,
    rmspe_pre: float,
    alpha: float = CONFORMAL_ALPHA,
) -> ConformalResult:
    """p(0) and the interval {L θ : p(θ) > α} over :func:`conformal_grid` (its hull, if the set has holes).

    When the accepted θ reach an end of the grid, the grid is doubled in width (at most
    :data:`CONFORMAL_WIDENINGS` times); an end still reached is reported as -inf or +inf.
    """
    n_post = len(post_treated)
    p_zero = float(conformal_p_values(pre_treated, pre_donors, post_treated, post_donors, np.zeros(1))[0])
    for widen in range(CONFORMAL_WIDENINGS + 1):
        grid = conformal_grid(car, rmspe_pre, n_post, widen)
        p_values = conformal_p_values(pre_treated, pre_donors, post_treated, post_donors, grid)
        accepted = p_values > alpha
        if not accepted.any():
            return ConformalResult(p_zero, np.nan, np.nan)
        if not (accepted[0] or accepted[-1]):
            break
    low = -np.inf if accepted[0] else grid[accepted].min() * n_post
    high = np.inf if accepted[-1] else grid[accepted].max() * n_post
    return ConformalResult(p_zero, float(low), float(high))


__all__ = [
    "CONFORMAL_ALPHA",
    "CONFORMAL_HALF_WIDTH",
    "CONFORMAL_POINTS",
    "CONFORMAL_WIDENINGS",
    "SUM_ROW_WEIGHT",
    "ConformalResult",
    "SyntheticFit",
    "conformal_car",
    "conformal_grid",
    "conformal_p_values",
    "fit_weights",
    "placebo_p_values",
    "placebo_statistics",
    "shift_statistics",
    "synthetic_fit",
    "window_cars",
]
