"""Pure array kernels: OLS on stacked estimation windows, abnormal returns, their variances, CARs, group sums.

Every function takes and returns numpy arrays shaped (events x days) or (events x k); there is no
pandas, no I/O and no warnings here. Missing observations are NaN; problems are reported as data
(NaN results with a count of observations), never raised.

Notation follows ``docs/methods.md`` §1: for event i, ``X_i`` is the (M_i x k) estimation design (a
leading column of ones when the model has an intercept), ``y_i`` the estimation returns, ``b_i`` the OLS
coefficients, ``s_i^2`` the residual variance and ``C_it = 1 + x_it'(X_i'X_i)^-1 x_it`` the forecast-error
(Theil) factor. The group helpers (:func:`group_sum` and the counts, totals and moments built on it,
:func:`group_max`, :func:`group_rows`) are the one place where rows are summed or listed by group code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from eventstudy._typing import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class OlsArrays:
    """Per-event OLS estimates from :func:`ols_windows`.

    Attributes
    ----------
    coef : (N, k)
        Coefficients, intercept first when the model has one (NaN where not estimable).
    xtx_inv : (N, k, k)
        (X_i'X_i)^-1 over the rows used by event i.
    n_obs : (N,)
        M_i, the number of rows used (both the return and every regressor present).
    ssr : (N,)
        Sum of squared estimation residuals.
    tss : (N,)
        Total sum of squares of y around its mean over the rows used (for R²).
    residuals : (N, L)
        Estimation residuals e_it, NaN on rows not used.
    """

    coef: FloatArray
    xtx_inv: FloatArray
    n_obs: IntArray
    ssr: FloatArray
    tss: FloatArray
    residuals: FloatArray


def design(regressors: FloatArray, intercept: bool) -> FloatArray:
    """Stack an intercept column in front of regressors.

    Parameters
    ----------
    regressors : (N, L, p)
        Regressor values per event and day (p may be 0).
    intercept
        Whether to prepend a column of ones.

    Returns
    -------
    (N, L, k) array with k = p + intercept; rows keep the NaNs of the regressors.
    """
    if not intercept:
        return regressors
    ones = np.ones(regressors.shape[:2] + (1,), dtype=np.float64)
    return np.concatenate([ones, regressors], axis=2)


def ols_windows(y: FloatArray, regressors: FloatArray, intercept: bool) -> OlsArrays:
    """OLS of ``y`` on an optional intercept and ``regressors``, separately for every event.

    Parameters
    ----------
    y : (N, L)
        Estimation-window returns, NaN where missing.
    regressors : (N, L, p)
        Estimation-window regressors (p may be 0), NaN where missing.
    intercept
        Whether the model has a constant; the coefficient vector is then (α, β_1..β_p) and k = p + 1.

    Returns
    -------
    OlsArrays
        Rows are used where y and every regressor are present. Events with M_i <= k or a singular
        design (e.g. a constant market return) get NaN coefficients.

    Notes
    -----
    With an intercept the slopes are computed from data centred on the event's own means,
    β = S^-1 Σ (r - r̄)(y - ȳ) with S = Σ (r - r̄)(r - r̄)', and α = ȳ - r̄'β; the inverse of X'X
    follows from the partitioned-inverse formula
    (X'X)^-1 = [[1/M + r̄'S^-1 r̄, -r̄'S^-1], [-S^-1 r̄, S^-1]]. For the market model this is the textbook
    β = S_xy / S_xx and the leverage 1/M + (R_m - R̄_m)^2 / S_xx of ``docs/methods.md`` §4.3 and §5.2.
    Centring keeps the cross products well conditioned.
    """
    n_events, _, p = regressors.shape
    k = p + int(intercept)
    valid = np.isfinite(y)
    for j in range(p):  # one (N, L) pass per regressor, no (N, L, p) mask
        valid &= np.isfinite(regressors[:, :, j])
    n_obs = valid.sum(axis=1).astype(np.int64)
    safe_n = np.maximum(n_obs, 1).astype(np.float64)
    # Work arrays are zero on unused rows and centred in place: the only (N, L) float arrays made are these
    # two copies (y and the regressors on the rows used), which become the residuals and the fitted values.
    yc = np.where(valid, y, 0.0)
    rc = np.where(valid[:, :, None], regressors, 0.0)
    y_sum = yc.sum(axis=1)
    if intercept:
        r_mean = rc.sum(axis=1) / safe_n[:, None]
        y_mean = y_sum / safe_n
        yc -= y_mean[:, None]
        rc -= r_mean[:, None, :]
        yc *= valid
        rc *= valid[:, :, None]
        tss = np.einsum("nl,nl->n", yc, yc)  # exact two-pass value
    else:
        tss = np.einsum("nl,nl->n", yc, yc) - y_sum**2 / safe_n  # Σ (y - ȳ)^2 over the rows used
        r_mean = np.zeros((n_events, p))
        y_mean = np.zeros(n_events)
    s_mat = np.einsum("nlk,nlj->nkj", rc, rc)
    s_y = np.einsum("nlk,nl->nk", rc, yc)
    enough = n_obs > k
    if p:
        scale = np.sqrt(np.einsum("nkk->nk", s_mat))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = s_mat / (scale[:, :, None] * scale[:, None, :])
        well_posed = (scale > 0).all(axis=1) & (np.abs(np.linalg.det(np.nan_to_num(corr))) > 1e-12)
        ok = enough & well_posed
        eye = np.broadcast_to(np.eye(p), s_mat.shape)
        s_inv = np.linalg.inv(np.where(ok[:, None, None], s_mat, eye))
        slopes = np.einsum("nkj,nj->nk", s_inv, s_y)
    else:
        ok = enough
        s_inv = np.zeros((n_events, 0, 0))
        slopes = np.zeros((n_events, 0))
    if intercept:
        alpha = y_mean - np.einsum("nk,nk->n", r_mean, slopes)
        coef = np.concatenate([alpha[:, None], slopes], axis=1)
        s_inv_mean = np.einsum("nkj,nj->nk", s_inv, r_mean)
        xtx_inv = np.empty((n_events, k, k))
        xtx_inv[:, 0, 0] = 1.0 / safe_n + np.einsum("nk,nk->n", r_mean, s_inv_mean)
        xtx_inv[:, 0, 1:] = -s_inv_mean
        xtx_inv[:, 1:, 0] = -s_inv_mean
        xtx_inv[:, 1:, 1:] = s_inv
    else:
        coef = slopes
        xtx_inv = s_inv
    resid = yc  # the fitted values below are zero on unused rows, so the sum of squares below is the SSR
    if p == 1:  # in place in rc: 0 + r β, the value einsum's sum over the single k gives, without an (N, L) copy
        rc *= slopes[:, None, :]
        rc += 0.0
        resid -= rc[:, :, 0]
    elif p:
        resid -= np.einsum("nlk,nk->nl", rc, slopes)
    del rc
    ssr = np.where(ok, np.einsum("nl,nl->n", resid, resid), np.nan)
    resid[~(valid & ok[:, None])] = np.nan
    return OlsArrays(
        coef=np.where(ok[:, None], coef, np.nan),
        xtx_inv=np.where(ok[:, None, None], xtx_inv, np.nan),
        n_obs=n_obs,
        ssr=ssr,
        tss=tss,
        residuals=resid,
    )


def residual_variance(ssr: FloatArray, n_obs: IntArray, ddof: int | IntArray) -> FloatArray:
    """Residual variance s_i^2 = SSR_i / (M_i - ddof); NaN when M_i - ddof <= 0.

    ``ddof`` is k by default (divisor M - k, ``docs/methods.md`` §5.1); 1 reproduces R's ``sd()`` and 0
    numpy's ``var``.
    """
    denom = (n_obs - ddof).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, ssr / denom, np.nan)


def predict(x: FloatArray, coef: FloatArray) -> FloatArray:
    """Expected returns x_it' b_i for design rows ``x`` (N, W, k) and coefficients (N, k)."""
    return np.einsum("nwk,nk->nw", x, coef)


def leverage(x: FloatArray, xtx_inv: FloatArray) -> FloatArray:
    """Quadratic forms x_it'(X_i'X_i)^-1 x_it for every event and day, shape (N, W).

    The forecast-error factor is ``C = 1 + leverage`` (``docs/methods.md`` §5.2); for the market model
    it equals 1/M_i + (R_mt - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2 with moments over event i's regression rows.
    """
    return np.einsum("nwk,nkj,nwj->nw", x, xtx_inv, x)


def index_window_fec(market: FloatArray, n_obs: IntArray, bench_est: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Market-model forecast-error terms with the benchmark moments of its own estimation window.

    Parameters
    ----------
    market : (N, W)
        Benchmark returns paired with the event-window returns, R_mt.
    n_obs : (N,)
        M_i, the number of rows used in event i's own regression.
    bench_est : (N, L)
        The benchmark's own returns over event i's estimation window, counted on the benchmark's own
        series (including days on which the security has no return); NaN where missing.

    Returns
    -------
    leverage : (N, W)
        1/M_i + (R_mt - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2, so that C_it = 1 + leverage.
    moment_inverse : (N, 2, 2)
        Q_i = [[1/M_i + R̄_m^2/S_m, -R̄_m/S_m], [-R̄_m/S_m, 1/S_m]], S_m = Σ_s (R_ms - R̄_m)^2: the matrix
        that takes the place of (X_i'X_i)^-1 in the quadratic forms, x'Q_i x = 1/M_i + (R_m - R̄_m)^2/S_m
        for x = (1, R_m), and g'Q_i g = L^2/M_i + (Σ_t (R_mt - R̄_m))^2 / S_m for a CAR window's sum g.

    Notes
    -----
    ``docs/methods.md`` §8.2 (``fec_moments = "index_window"``, estudy2): R̄_m and S_m run over every
    non-missing benchmark return of the estimation window, while 1/M_i keeps the security's own M_i. With
    the default ``"own_rows"`` the moments run over the rows of event i's regression and the factor is the
    exact OLS leverage x'(X_i'X_i)^-1 x (:func:`leverage`). Rows with fewer than two benchmark returns, a
    zero sum of squares or M_i = 0 give NaN. The leverage is computed in centred form (not through Q) so
    that it carries no cancellation error.
    """
    present = np.isfinite(bench_est)
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, bench_est, 0.0).sum(axis=1) / count
        dev = np.where(present, bench_est - mean[:, None], 0.0)
        ss = np.einsum("nl,nl->n", dev, dev)
        ok = (count >= 2) & (ss > 0) & (n_obs > 0)
        inv_m = np.where(ok, 1.0 / np.where(n_obs > 0, n_obs, 1), np.nan)
        inv_s = np.where(ok, 1.0 / np.where(ss > 0, ss, 1.0), np.nan)
        lev = inv_m[:, None] + (market - mean[:, None]) ** 2 * inv_s[:, None]
    q = np.empty((len(n_obs), 2, 2))
    q[:, 0, 0] = inv_m + mean**2 * inv_s
    q[:, 0, 1] = q[:, 1, 0] = -mean * inv_s
    q[:, 1, 1] = inv_s
    return lev, q


def window_sums(values: FloatArray, columns: IntArray) -> FloatArray:
    """Sum of ``values`` (N, W[, ...]) over the event-window ``columns`` of one CAR window.

    A missing value on any day of the window makes the sum NaN: ARs are never zero-filled
    (``docs/methods.md`` §1, missing-data rule).
    """
    return values[:, columns].sum(axis=1)


def car_variance(
    s2: FloatArray,
    x_window: FloatArray,
    xtx_inv: FloatArray,
    leverage_window: FloatArray,
    method: str,
    diagonal: FloatArray | None = None,
) -> FloatArray:
    """Variance of CAR_i(w) for one window.

    Parameters
    ----------
    s2 : (N,)
        Residual variances.
    x_window : (N, L, k)
        Design rows of the window days.
    xtx_inv : (N, k, k)
        (X_i'X_i)^-1.
    leverage_window : (N, L)
        x_it'(X_i'X_i)^-1 x_it on the window days (0 when forecast-error correction is off).
    method
        ``"exact"``: s^2 [L + g'(X'X)^-1 g] with g = Σ_{t∈w} x_it (``docs/methods.md`` §5.3; it keeps the
        covariance of prediction errors through the shared estimates); ``"diag"``: s^2 Σ_t C_it;
        ``"L_s2"``: L s^2 (no parameter uncertainty).
    diagonal : (N,), optional
        The sum of the AR variances' own factors over the window in place of L in ``"exact"`` and ``"L_s2"``:
        Σ_{t∈w} n_t for trade-to-trade spans ("replace the 1 in the diagonal by n_t", §5.3), whose
        ``leverage_window`` then holds n_t - 1 + x_it'(X'X)^-1 x_it so that ``"diag"`` needs no change.
        None: L.
    """
    length = x_window.shape[1] if diagonal is None else diagonal
    if method == "exact":
        g = x_window.sum(axis=1)
        quad = np.einsum("nk,nkj,nj->n", g, xtx_inv, g) if g.shape[1] else np.zeros(len(s2))
        return s2 * (length + quad)
    if method == "diag":
        return s2 * (x_window.shape[1] + leverage_window.sum(axis=1))
    if method == "L_s2":
        return s2 * length
    raise ValueError(f"unknown car variance method {method!r}")


def group_rows(groups: IntArray, n_groups: int, within: IntArray | None = None) -> tuple[IntArray, IntArray]:
    """Rows of every group from one stable sort: the rows of group g are ``order[bounds[g]:bounds[g + 1]]``.

    Parameters
    ----------
    groups : (N,)
        Group code per row; rows with a negative code (or a code >= ``n_groups``) belong to no group.
    n_groups
        Number of groups.
    within : (N,), optional
        A permutation of the rows giving their order inside each group (for example the rows sorted by a
        key); ascending row numbers when None.

    Returns
    -------
    order : (N,)
        Row numbers grouped by code, each group's rows in the order of ``within``.
    bounds : (n_groups + 1,)
        Start of each group's rows in ``order`` (a group without rows has ``bounds[g] == bounds[g + 1]``).
    """
    codes = np.asarray(groups)
    if within is None:
        order = np.argsort(codes, kind="stable")
    else:
        within = np.asarray(within)
        order = within[np.argsort(codes[within], kind="stable")]
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    return order.astype(np.int64), bounds.astype(np.int64)


def group_sum(values: np.ndarray, groups: IntArray, n_groups: int, weights: FloatArray | None = None) -> np.ndarray:
    """Sum of the rows of ``values`` (N, ...) by group code, shape (n_groups, ...); NaN propagates.

    Rows with a code outside 0..n_groups-1 (e.g. -1) belong to no group. The dtype of ``values`` is kept
    (integer counts stay exact). With ``weights`` (N,), the sums are Σ_i w_i values_i (float): a 0/1
    weight selects rows without building a masked copy of the values.

    Notes
    -----
    One group: ``values.sum(axis=0)`` over its rows (numpy's pairwise summation), or ``w @ values``.
    Several groups: one product of the sparse (n_groups x N) membership matrix (0/1, or the weights) with
    the values, i.e. each group's rows added one after the other in ascending row order, in a single pass
    over the values whatever the number of groups or their sizes (no sort of the values, no per-group
    work).
    """
    values = np.asarray(values)
    codes = np.asarray(groups, dtype=np.int64)
    dtype = values.dtype if weights is None else np.result_type(values.dtype, np.float64)
    out = np.zeros((n_groups,) + values.shape[1:], dtype=dtype)
    member = (codes >= 0) & (codes < n_groups)
    if not member.any():
        return out
    flat = values.reshape(len(codes), -1)
    if n_groups == 1:  # the pooled group: no matrix needed
        pooled = slice(None) if member.all() else member
        if weights is None:
            out[0] = values[pooled].sum(axis=0)
        else:
            out[0] = (np.asarray(weights, dtype=np.float64)[pooled] @ flat[pooled]).reshape(out.shape[1:])
        return out
    rows = np.flatnonzero(member)
    ordered = bool((codes[rows][1:] >= codes[rows][:-1]).all())  # e.g. event codes of rows in event order
    order = rows if ordered else rows[np.argsort(codes[rows], kind="stable")]
    indptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes[rows], minlength=n_groups), out=indptr[1:])
    data = np.ones(len(order), dtype=dtype) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    membership = csr_matrix((data, order, indptr), shape=(n_groups, len(codes)))
    out[...] = (membership @ np.ascontiguousarray(flat)).reshape(out.shape)
    return out


def group_count(mask: np.ndarray, groups: IntArray, n_groups: int) -> IntArray:
    """Number of True entries of ``mask`` (N, ...) per group, shape (n_groups, ...) (:func:`group_sum`)."""
    return group_sum(np.asarray(mask).astype(np.int64), groups, n_groups)


def group_total(values: FloatArray, groups: IntArray, n_groups: int) -> FloatArray:
    """Sum of the finite entries of ``values`` (N, ...) per group, NaN counting as 0 (:func:`group_sum`)."""
    values = np.asarray(values, dtype=np.float64)
    return group_sum(np.where(np.isfinite(values), values, 0.0), groups, n_groups)


def group_max(values: np.ndarray, groups: IntArray, n_groups: int, empty: float) -> np.ndarray:
    """Largest value of the rows of ``values`` (N, ...) per group, shape (n_groups, ...); ``empty`` for no rows.

    Rows with a code outside 0..n_groups-1 belong to no group; NaN propagates as in ``np.maximum``. One
    stable sort of the codes and ``np.maximum.reduceat``.
    """
    values = np.asarray(values)
    out = np.full((n_groups,) + values.shape[1:], empty, dtype=np.result_type(values.dtype, np.asarray(empty)))
    order, bounds = group_rows(groups, n_groups)
    filled = np.flatnonzero(np.diff(bounds) > 0)
    if len(filled):  # consecutive non-empty groups: each reduceat segment holds one group's rows
        members = order[bounds[0] : bounds[-1]]
        out[filled] = np.maximum.reduceat(values[members], bounds[filled] - bounds[0], axis=0)
    return out


def group_moments(values: FloatArray, groups: IntArray, n_groups: int) -> tuple[IntArray, FloatArray, FloatArray]:
    """Count, sum and sum of squared deviations of ``values`` (N, D) within groups, ignoring NaN.

    Parameters
    ----------
    values : (N, D)
        One row per event, NaN where missing.
    groups : (N,)
        Group code per row; rows with a code outside 0..n_groups-1 belong to no group.
    n_groups
        Number of groups.

    Returns
    -------
    count, total, ssd : (n_groups, D)
        Number of non-missing values, their sum, and Σ (v - mean)^2 (two-pass, so it is exact for
        tightly clustered values).
    """
    present = np.isfinite(values)
    count = group_count(present, groups, n_groups)
    total = group_total(values, groups, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    codes = np.asarray(groups, dtype=np.int64)
    member = (codes >= 0) & (codes < n_groups)
    dev = np.where(present & member[:, None], values - mean[np.where(member, codes, 0)], 0.0)
    ssd = group_sum(dev * dev, groups, n_groups)
    return count, total, ssd


__all__ = [
    "OlsArrays",
    "car_variance",
    "design",
    "group_count",
    "group_max",
    "group_moments",
    "group_rows",
    "group_sum",
    "group_total",
    "index_window_fec",
    "leverage",
    "ols_windows",
    "predict",
    "residual_variance",
    "window_sums",
]
