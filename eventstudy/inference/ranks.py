"""Ranks, signs and per-group day sums behind the non-parametric tests (``docs/methods.md`` §6.3).

Array functions on (events x days) arrays, for all groups at once: each event's **combined sample**
(its estimation residuals, ``est_resid``, followed by its full event window, ``ar``), ranks within each
event (average ranks for ties) and medians, the per-group day sums and the time-series scale of the
rank-type statistics, the exact null distribution of the Wilcoxon signed-rank statistic and its ranks per
cell, and the GRANK Z of Kolari and Pynnönen (2011). The registered tests built on them, and the
conventions (``daily_sums``, ``rank_scale``) these functions apply, are in
:mod:`eventstudy.inference.nonparametric`; the names here are imported from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.conventions import Conventions
from eventstudy.inference.base import InferenceData, Scope, reasons

_BLOCK_CELLS = 1 << 22  # cells of one block of rows of the GRANK rank shifts (4 MB of bool, 32 MB of float64)

EXACT_SIGNED_RANK_MAX_N = 50
"""Largest number of non-zero values for which the Wilcoxon test uses the exact null distribution."""


# --------------------------------------------------------------------------------------------------
# Array kernels
# --------------------------------------------------------------------------------------------------


def combined_sample(data: InferenceData) -> FloatArray:
    """Each event's combined sample, (N, L + W): estimation residuals, then the event-window ARs."""
    return np.concatenate([data.est_resid, data.ar], axis=1)


def average_ranks(values: FloatArray) -> FloatArray:
    """Ranks within each row over its non-missing values, average ranks for ties, NaN where missing.

    Works along the last axis, so a (N, D, T) array is ranked within every (event, column) slice.

    Notes
    -----
    One sort of every row at once (NaN sorts last, so the n values of a row take positions 1..n); a run
    of tied values at positions a..b gets (a + b) / 2. Rows without ties (the usual case for returns)
    skip the run bookkeeping. Equals ``scipy.stats.rankdata(values, axis=-1, nan_policy="omit")``
    exactly (ranks are multiples of 1/2), at a fraction of its cost.
    """
    shape = values.shape
    if values.size == 0:
        return np.full(shape, np.nan)
    flat = np.asarray(values, dtype=np.float64).reshape(-1, shape[-1])
    n_cols = flat.shape[1]
    order = np.argsort(flat, axis=1)
    ordered = np.take_along_axis(flat, order, axis=1)
    new_run = np.empty(flat.shape, dtype=bool)  # a value differing from the one before it (NaN differs from all)
    new_run[:, 0] = True
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=new_run[:, 1:])
    if new_run.all():
        ranks: FloatArray = np.broadcast_to(np.arange(1.0, n_cols + 1), flat.shape)
    else:
        starts = np.flatnonzero(new_run)  # runs in the flattened rows; each row starts a run
        ends = np.r_[starts[1:], new_run.size]
        row_offset = starts - starts % n_cols
        mean_rank = (starts + ends - 2 * row_offset + 1) / 2.0  # positions a+1..b of a run [a, b) average (a+b+1)/2
        ranks = mean_rank[np.cumsum(new_run.ravel()) - 1].reshape(flat.shape)
    out = np.empty(flat.shape)
    np.put_along_axis(out, order, ranks, axis=1)
    out[np.isnan(flat)] = np.nan
    return out.reshape(shape)


def combined_ranks(data: InferenceData) -> FloatArray:
    """Average ranks within each event's combined sample (:func:`combined_sample`), computed once per instance."""
    return data.memoized(("combined_ranks",), lambda: average_ranks(combined_sample(data)))


def row_medians(values: FloatArray) -> FloatArray:
    """Median of the non-missing values of each row (mean of the two middle values for an even count)."""
    n_rows, n_cols = values.shape
    count = np.isfinite(values).sum(axis=1)
    if n_cols == 0:
        return np.full(n_rows, np.nan)
    ordered = np.sort(values, axis=1)  # NaN sorts last
    low = np.clip((count - 1) // 2, 0, n_cols - 1)
    high = np.clip(count // 2, 0, n_cols - 1)
    mid = 0.5 * (
        np.take_along_axis(ordered, low[:, None], 1)[:, 0] + np.take_along_axis(ordered, high[:, None], 1)[:, 0]
    )
    return np.where(count > 0, mid, np.nan)


def group_event_counts(data: InferenceData, groups: IntArray, n_groups: int) -> IntArray:
    """N per group: events with at least one value in their combined sample (reads ``est_resid``)."""
    has_any = np.asarray(np.isfinite(data.est_resid).any(axis=1) | np.isfinite(data.ar).any(axis=1))
    return kn.group_sum(has_any.astype(np.int64), groups, n_groups)


def day_sums(values: FloatArray, groups: IntArray, n_groups: int) -> dict[str, np.ndarray]:
    """Per-group day sums of ``values`` (N, D) over the events present, with their counts (:func:`rank_sums`).

    Rows with a group code outside 0..n_groups-1 take no part.
    """
    present = np.isfinite(values)
    return rank_sums(np.where(present, values, 0.0), present.astype(np.int64), groups, n_groups)


def rank_sums(filled: FloatArray, present: IntArray, groups: IntArray, n_groups: int) -> dict[str, np.ndarray]:
    """Per-group sums of values given with 0 where missing and their 0/1 presence (N, D).

    ``total`` and ``count`` (n_groups, D): the day sums and the events present (N_t); ``t_total``
    (n_groups,): Σ_i T_i, T_i the number of values of event i. For a caller that evaluates a statistic on
    several subsets of the same values (the Cowan test, one per CAR window), the subset is given by the
    group codes (-1 for rows left out), so the values are prepared once and each subset costs group sums.
    """
    return {
        "total": kn.group_sum(filled, groups, n_groups),
        "count": kn.group_sum(present, groups, n_groups),
        "t_total": kn.group_sum(present.sum(axis=1).astype(np.float64), groups, n_groups),
    }


def combine_day_sums(
    total: FloatArray, count: IntArray, n_events: IntArray, conventions: Conventions
) -> tuple[FloatArray, IntArray]:
    """The day sum of each group and day and the count of events present, ``(sum, N_t)``, from :func:`day_sums`.

    With ``daily_sums = "mean_x_n"`` the sum is (mean over the events present) x N, N = ``n_events`` of
    the group; otherwise it is the plain sum over the events present. Days without an event give NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        if conventions.daily_sums == "mean_x_n":
            out = total / count * n_events[:, None]
        else:
            out = total.astype(np.float64)
    return np.where(count > 0, out, np.nan), count


def rank_statistic(
    sums: Mapping[str, np.ndarray], conventions: Conventions, normalize: Literal["mean", "sqrt"]
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Daily statistic and its time-series scale for the rank-type tests, from per-group score sums.

    Parameters
    ----------
    sums
        :func:`day_sums` (or :func:`rank_sums`) of the per-event scores over the combined sample (rank
        deviations, uniform ranks or median signs; NaN where the event has no AR), and ``n_events``
        (n_groups,), N of each group (for ``daily_sums = "mean_x_n"`` and ``rank_scale = "mean_T"``).
    conventions
        Knob values.
    normalize
        ``"mean"``: D_t = S_t / N_t (Corrado's mean rank deviation); ``"sqrt"``: D_t = S_t / sqrt(N_t)
        (modified rank, Corrado-Zivney sign). S_t is the day sum of :func:`combine_day_sums`.

    Returns
    -------
    d : (n_groups, C)
        D_t, NaN on days without an event.
    count : (n_groups, C)
        N_t.
    scale : (n_groups,)
        sqrt( Σ_t D_t^2 / T ), the sum over days with N_t >= 1 and T the number of such days
        (``rank_scale = "days"``) or the mean of T_i over the group's events (``"mean_T"``).
    """
    n_events = sums["n_events"]
    day_sum, count = combine_day_sums(sums["total"], sums["count"], n_events, conventions)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = day_sum / (count if normalize == "mean" else np.sqrt(count))
        if conventions.rank_scale == "mean_T":
            divisor = sums["t_total"] / n_events
        else:
            divisor = (count > 0).sum(axis=1).astype(np.float64)
        scale = np.sqrt(np.nansum(d * d, axis=1) / divisor)
    return d, count, scale


@lru_cache(maxsize=1)
def signed_rank_cdf() -> FloatArray:
    """Exact null cdf of the Wilcoxon signed-rank statistic W⁺ for n = 0..50, shape (51, 1276).

    ``cdf[n, w] = P(W⁺ <= w)`` when the n ranks 1..n each carry a positive sign with probability 1/2
    independently. Built by the recursion c_n(w) = c_{n-1}(w) + c_{n-1}(w - n) on subset counts, which
    stay below 2^50 and are therefore exact in float64.
    """
    max_n = EXACT_SIGNED_RANK_MAX_N
    width = max_n * (max_n + 1) // 2 + 1
    counts = np.zeros((max_n + 1, width))
    counts[0, 0] = 1.0
    for n in range(1, max_n + 1):
        counts[n] = counts[n - 1]
        counts[n, n:] += counts[n - 1, : width - n]
    cdf = np.cumsum(counts, axis=1) / 2.0 ** np.arange(max_n + 1)[:, None]
    cdf.flags.writeable = False
    return cdf


def exact_signed_rank_pvalue(w_plus: FloatArray, n: IntArray) -> FloatArray:
    """Two-sided exact p-value 2 min(P(W⁺ <= w), P(W⁺ >= w)), capped at 1; NaN where n is outside 1..50."""
    cdf = signed_rank_cdf()
    ok = (n >= 1) & (n <= EXACT_SIGNED_RANK_MAX_N) & np.isfinite(w_plus)
    nn = np.where(ok, n, 1)
    total = nn * (nn + 1) // 2
    w = np.where(ok, np.rint(w_plus), 0).astype(np.int64)
    lower = np.clip(np.minimum(w, total - w), 0, None)  # P(W >= w) = P(W <= total - w) by symmetry
    return np.where(ok, np.minimum(1.0, 2.0 * cdf[nn, lower]), np.nan)


def signed_rank_cells(values: FloatArray, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray, FloatArray]:
    """Wilcoxon W⁺ per (group, column), with the number of non-zero values and the tie term.

    Zeros and missing values are dropped; |X| is ranked within each (group, column) cell with average
    ranks for ties. All cells are ranked in one sort on (cell, |X|).

    Returns
    -------
    w_plus : (n_groups, D)
        Sum of the ranks of the positive values.
    n_nonzero : (n_groups, D)
        N', the number of non-zero values.
    ties : (n_groups, D)
        Σ (t^3 - t) over the groups of tied |X| (0 when there are no ties).
    """
    n_cols = values.shape[1]
    n_cells = n_groups * n_cols
    rows, cols = np.nonzero(np.isfinite(values) & (values != 0))
    x = values[rows, cols]
    cell = groups[rows] * n_cols + cols
    order = np.lexsort((np.abs(x), cell))
    cell_s, abs_s, positive = cell[order], np.abs(x)[order], x[order] > 0
    m = len(order)
    if m == 0:
        zeros = np.zeros((n_groups, n_cols))
        return zeros, np.zeros((n_groups, n_cols), dtype=np.int64), zeros.copy()
    new_cell = np.r_[True, cell_s[1:] != cell_s[:-1]]
    new_run = new_cell | np.r_[True, abs_s[1:] != abs_s[:-1]]
    index = np.arange(m)
    cell_start = np.maximum.accumulate(np.where(new_cell, index, 0))
    run_start = index[new_run]
    run_length = np.diff(np.r_[run_start, m])
    run_id = np.cumsum(new_run) - 1
    # average rank of a run = (first position in its cell) + (length + 1) / 2, positions counted from 0
    run_rank = (run_start - cell_start[run_start]) + (run_length + 1) / 2.0
    rank = run_rank[run_id]
    w_plus = kn.group_sum(rank * positive, cell_s, n_cells)
    n_nonzero = kn.group_count(np.ones(m, dtype=bool), cell_s, n_cells)
    ties = kn.group_sum(run_length.astype(np.float64) ** 3 - run_length, cell_s[run_start], n_cells)
    shape = (n_groups, n_cols)
    return w_plus.reshape(shape), n_nonzero.reshape(shape), ties.reshape(shape)


# --------------------------------------------------------------------------------------------------
# GRANK (Kolari and Pynnönen 2011)
# --------------------------------------------------------------------------------------------------


def grank(
    data: InferenceData, scope: Scope, groups: IntArray, n_groups: int
) -> tuple[FloatArray, IntArray, IntArray, np.ndarray]:
    """GRANK Z and its number of time points T per group and window (or day), with N and reasons.

    Steps of ``docs/methods.md`` §6.3, N8: SCAR_i (exact variance; SAR_it for a day), re-standardized by
    the group's cross-sectional sd (ddof 1); estimation GSAR_it = e_it / s_i; uniform ranks
    U_it = K_it/(T_i + 1) - 1/2 over the estimation days plus one cumulated day; Ū_t the mean over the
    events present; S_Ū = sqrt((1/T) Σ_t (N_t/N) Ū_t^2); Z = Ū_0 / S_Ū.

    Returns
    -------
    z, t_points, n, why
        Z, T (time points with at least one event), N (events with a re-standardized value) and the
        reason text of undefined cells, each (n_groups, D).

    Notes
    -----
    The estimation GSARs are ranked once (:func:`estimation_ranks`). Adding the cumulated value x of a
    column to an event's sample raises the rank of every larger estimation value by 1 and of every tied
    one by 1/2, and x itself gets the rank #{v < x} + 1 + #{v == x}/2 = T_i - Σ_t h_t + 1 with
    h_t = [v_t > x] + [v_t == x]/2; this equals ranking each (event, column) sample afresh. So the group
    sums of U over the estimation days are Σ_i (K_it/(T_i + 1) - 1/2) (rows with x) plus
    Σ_i h_it/(T_i + 1), taken column by column on (events x days) arrays, O(N L) per column, over the
    firm-events that have a re-standardized value only (groups of one firm-event, for instance, cost
    nothing); the tie term is added only in columns where some x equals an estimation value. The
    result is computed once per scope and grouping (:meth:`InferenceData.memoized`) and shared by
    :class:`~eventstudy.inference.nonparametric.GrankT` and ``GrankZ``.
    """
    codes = np.ascontiguousarray(groups, dtype=np.int64)
    key = ("grank", scope, n_groups, codes.tobytes())
    return data.memoized(key, lambda: _grank(data, scope, codes, n_groups))


def estimation_ranks(data: InferenceData) -> tuple[FloatArray, FloatArray]:
    """GSAR_it = e_it / s_i (NaN where undefined) and its average ranks within each event, computed once."""

    def compute() -> tuple[FloatArray, FloatArray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            gsar = data.est_resid / np.sqrt(data.s2)[:, None]
        gsar = np.where(np.isfinite(gsar), gsar, np.nan)
        return gsar, average_ranks(gsar)

    return data.memoized(("estimation_ranks",), compute)


def _grank(
    data: InferenceData, scope: Scope, groups: IntArray, n_groups: int
) -> tuple[FloatArray, IntArray, IntArray, np.ndarray]:
    values = data.sar if scope == "day" else data.scar
    gsar, est_ranks = estimation_ranks(data)
    has_est = np.asarray(np.isfinite(gsar).any(axis=1))
    values = np.where(has_est[:, None], values, np.nan)
    count, _, ssd = kn.group_moments(values, groups, n_groups)
    member = (groups >= 0) & (groups < n_groups)
    own = np.where(member, groups, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(ssd / (count - 1))
        ok = np.asarray((count >= 2) & (sd > 0), dtype=bool)
        star = np.where(ok[own] & member[:, None], values / sd[own], np.nan)
    n_cols = values.shape[1]
    z = np.full((n_groups, n_cols), np.nan)
    t_points = np.zeros((n_groups, n_cols), dtype=np.int64)
    s_zero = np.zeros((n_groups, n_cols), dtype=bool)
    rows = np.flatnonzero(np.isfinite(star).any(axis=1))
    if len(rows):
        g, x_all, v = groups[rows], star[rows], gsar[rows]
        present = np.isfinite(v)
        t_est = present.sum(axis=1)
        w = 1.0 / (t_est + 2.0)  # uniform rank K / (T_i + 1) with T_i = estimation count + 1
        base = np.where(present, est_ranks[rows] * w[:, None] - 0.5, 0.0)
        present_f = present.astype(np.float64)
        last_usable: BoolArray | None = None
        for j in range(n_cols):  # the columns (days or CAR windows), each on (events x days) arrays
            x = x_all[:, j]
            usable = np.isfinite(x)
            u_est, shift = _rank_shifts(v, x, w, g, n_groups)
            cumulated = np.where(usable, (t_est - shift + 1.0) * w - 0.5, 0.0)
            if last_usable is None or not np.array_equal(usable, last_usable):  # same rows: same sums as before
                weight = usable.astype(np.float64)
                base_sum = kn.group_sum(base, g, n_groups, weights=weight)
                n_est = np.rint(kn.group_sum(present_f, g, n_groups, weights=weight)).astype(np.int64)
                last_usable = usable
            u_est += base_sum
            n_cum = kn.group_count(usable, g, n_groups)
            n_t = np.concatenate([n_est, n_cum[:, None]], axis=1)  # (G, L + 1)
            u_sum = np.concatenate([u_est, kn.group_sum(cumulated, g, n_groups)[:, None]], axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                u_bar = np.where(n_t > 0, u_sum / n_t, 0.0)
                t_pts = (n_t > 0).sum(axis=1)
                s_u = np.sqrt((n_t / n_cum[:, None] * u_bar**2).sum(axis=1) / t_pts)
                z[:, j] = u_bar[:, -1] / s_u
            t_points[:, j] = t_pts
            s_zero[:, j] = (n_cum > 0) & ~(s_u > 0)
    what = "a standardized AR" if scope == "day" else "a standardized CAR"
    why = reasons(
        (count == 0, f"no event has {what} and estimation residuals"),
        (count < 2, f"needs at least 2 events with {what} to re-standardize"),
        (~ok, f"zero cross-sectional variance of {what}"),
        (s_zero, "zero variance of the mean uniform rank over the time points"),
    )
    return np.where(why == "", z, np.nan), t_points, count, why


def _rank_shifts(
    v: FloatArray, x: FloatArray, w: FloatArray, groups: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray]:
    """Group sums of w_i h_it and Σ_t h_it per row, h_it = [v_it > x_i] + [v_it == x_i]/2 (0 where missing).

    ``v`` (R, L) holds the estimation GSARs, ``x`` (R,) one column's cumulated values, ``w`` (R,) the
    weights 1/(T_i + 1). Worked through in blocks of rows of at most ``_BLOCK_CELLS`` cells, into buffers
    reused from block to block (no fresh (R, L) temporaries); the tie term only where some x_i equals an
    estimation value of its row.
    """
    n_rows, length = v.shape
    step = max(1, min(n_rows, _BLOCK_CELLS // max(length, 1)))
    above = np.empty((step, length), dtype=bool)
    tied = np.empty((step, length), dtype=bool)
    weighted = np.empty((step, length))
    sums = np.zeros((n_groups, length))
    shift = np.empty(n_rows)
    for start in range(0, n_rows, step):
        block = slice(start, min(n_rows, start + step))
        size = block.stop - start
        a, t, h = above[:size], tied[:size], weighted[:size]
        column = x[block, None]
        np.greater(v[block], column, out=a)
        np.equal(v[block], column, out=t)
        n_tied = np.count_nonzero(t, axis=1)
        shift[block] = np.count_nonzero(a, axis=1) + 0.5 * n_tied
        np.multiply(a, w[block, None], out=h)
        if n_tied.any():
            h += np.where(t, 0.5 * w[block, None], 0.0)
        sums += kn.group_sum(h, groups[block], n_groups)
    return sums, shift


__all__ = [
    "EXACT_SIGNED_RANK_MAX_N",
    "average_ranks",
    "combine_day_sums",
    "combined_ranks",
    "combined_sample",
    "day_sums",
    "estimation_ranks",
    "exact_signed_rank_pvalue",
    "grank",
    "group_event_counts",
    "rank_statistic",
    "rank_sums",
    "row_medians",
    "signed_rank_cdf",
    "signed_rank_cells",
]
