"""Between-group difference tests of CARs: Welch t, Mann-Whitney U, and a permutation test of the means.

For every CAR window and every pair of the user's groups (a, b), in label order with a before b, three
tests compare the groups' CARs (``docs/methods.md`` §6.7). Each group holds the CARs of its pooled
firm-events (the ``pooling`` knob applies) that have a CAR in the window.

``welch_t``
    t = (mean_a - mean_b) / sqrt(s_a²/n_a + s_b²/n_b), sample variances with divisor n - 1, referred to
    Student t with the Welch-Satterthwaite degrees of freedom
    ν = (s_a²/n_a + s_b²/n_b)² / [(s_a²/n_a)²/(n_a - 1) + (s_b²/n_b)²/(n_b - 1)] (Welch 1947); needs
    two CARs in each group. Equals ``scipy.stats.ttest_ind(a, b, equal_var=False)``.
``mann_whitney_u``
    U_a = #{(i, j): a_i > b_j} + ½ #{(i, j): a_i = b_j} (Mann and Whitney 1947; the Wilcoxon rank-sum
    test). Exact two-sided p = min(1, 2 min(P(U <= U_a), P(U >= U_a))) from the null distribution of U
    (all C(n, n_a) rank sets equally likely) when the pair's CARs have no ties and n_a + n_b <= 50;
    otherwise the normal approximation with the tie correction and a continuity correction of ½:
    z = (|U_a - n_a n_b/2| - ½) / sqrt(n_a n_b/12 [(n + 1) - Σ(t³ - t)/(n(n - 1))]), t the sizes of the
    groups of tied values. Equals ``scipy.stats.mannwhitneyu`` with ``method="exact"`` or
    ``method="asymptotic"`` respectively.
``permutation``
    The observed difference of means D = mean_a - mean_b against its distribution over relabellings of
    the n = n_a + n_b CARs into groups of n_a and n_b. When C(n, n_a) <= B (``bootstrap_samples``)
    every split is enumerated and p = #{|D*| >= |D|} / C(n, n_a), the observed split included; otherwise
    B random relabellings give p = (1 + #{|D*| >= |D|}) / (B + 1). The draws are seeded from
    ``conventions.seed``, the test name and the pair's firm-event keys
    (:func:`~eventstudy.inference.base.group_generator`) and applied to the CARs in key order, so the
    p-value depends neither on the row order nor on the other groups. |D*| >= |D| is taken within a
    relative tolerance of 1e-12 (:func:`~eventstudy.inference.resampling.exceedances`).

A statistic that does not apply (too few CARs, no variation) is NaN with a reason.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.inference.base import group_generator, two_sided_t
from eventstudy.inference.resampling import exceedances

GROUP_DIFFERENCE_COLUMNS = (
    "window_start",
    "window_end",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "difference",
    "test",
    "statistic",
    "p_value",
    "distribution",
    "reason",
)
"""Columns of :func:`group_differences` (and of ``group_differences.csv``)."""

DIFFERENCE_TESTS = ("welch_t", "mann_whitney_u", "permutation")
"""Names of the difference tests, in the order of their rows."""

_CHUNK_ELEMENTS = 2_000_000  # bound on the relabellings x values held at once

EXACT_RANK_SUM_MAX_N = 50
"""Largest n_a + n_b for which the Mann-Whitney p-value comes from the exact null distribution (no ties)."""


def welch_t(
    n_a: FloatArray, mean_a: FloatArray, var_a: FloatArray, n_b: FloatArray, mean_b: FloatArray, var_b: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Welch's unequal-variance t, its Welch-Satterthwaite degrees of freedom and two-sided p-value.

    Parameters
    ----------
    n_a, mean_a, var_a, n_b, mean_b, var_b : array_like, same shape
        Sizes, means and sample variances (divisor n - 1) of the two samples.

    Returns
    -------
    t, df, p_value
        NaN where a sample has fewer than 2 values or both variances are 0.

    References
    ----------
    Welch, B. L. (1947), "The generalization of 'Student's' problem when several different population
    variances are involved", Biometrika 34(1/2), 28-35.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        qa, qb = var_a / n_a, var_b / n_b
        se2 = qa + qb
        ok = (n_a >= 2) & (n_b >= 2) & (se2 > 0)
        t = np.where(ok, (mean_a - mean_b) / np.sqrt(se2), np.nan)
        df = np.where(ok, se2**2 / (qa**2 / (n_a - 1) + qb**2 / (n_b - 1)), np.nan)
    return t, df, two_sided_t(t, df)


@lru_cache(maxsize=256)
def rank_sum_null(n_a: int, n: int) -> FloatArray:
    """Null distribution of the Mann-Whitney U of a sample of n_a among n values without ties.

    Returns
    -------
    (n_a (n - n_a) + 1,) float
        Number of the C(n, n_a) equally likely rank sets giving U = 0, 1, ..., n_a (n - n_a)
        (U = rank sum - n_a (n_a + 1)/2). Counts are exact integers in float64 for n <= 50
        (C(50, 25) < 2^53). The array is read-only (it is cached).

    Notes
    -----
    Counts m-subsets of the ranks 1..n by their sum with the 0/1 knapsack recursion
    c_e(k, s) = c_{e-1}(k, s) + c_{e-1}(k - 1, s - e), one vectorised step per rank.
    """
    top = n_a * (2 * n - n_a + 1) // 2
    table = np.zeros((n_a + 1, top + 1))
    table[0, 0] = 1.0
    for rank in range(1, n + 1):
        table[1:, rank:] = table[1:, rank:] + table[:-1, : top + 1 - rank]
    low = n_a * (n_a + 1) // 2
    counts = table[n_a, low : low + n_a * (n - n_a) + 1].copy()
    counts.flags.writeable = False
    return counts


def _mann_whitney(values: FloatArray, codes: IntArray, n_groups: int) -> tuple[FloatArray, FloatArray]:
    """U of group a against group b for every ordered pair, and the tie term Σ(t³ - t) of each pair's union.

    Parameters
    ----------
    values : (N,)
        Finite values; ``codes`` (N,) their groups in 0..n_groups-1.

    Returns
    -------
    u : (n_groups, n_groups)
        u[a, b] = #{(i in a, j in b): x_i > x_j} + ½ #{x_i = x_j}.
    ties : (n_groups, n_groups)
        Σ over distinct values v of (t³ - t), t = number of values equal to v in groups a and b together.
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    one_hot = np.zeros((len(values) + 1, n_groups))
    one_hot[np.arange(1, len(values) + 1), codes[order]] = 1.0
    below = np.cumsum(one_hot, axis=0)  # below[k, g]: values of group g among the k smallest
    left = np.searchsorted(sorted_values, values, side="left")
    right = np.searchsorted(sorted_values, values, side="right")
    less_or_half = 0.5 * (below[left] + below[right])  # (N, G): #{j in g: x_j < x_i} + ½ #{x_j = x_i}
    u = kn.group_sum(less_or_half, codes, n_groups)
    _, inverse, size = np.unique(values, return_inverse=True, return_counts=True)
    tied = size[inverse.ravel()] > 1  # only values that occur more than once can form ties
    ties = np.zeros((n_groups, n_groups))
    if tied.any():
        _, tie_code = np.unique(inverse.ravel()[tied], return_inverse=True)
        tie_counts = kn.group_sum(np.eye(n_groups)[codes[tied]], tie_code.ravel(), int(tie_code.max()) + 1)  # (V, G)
        pair_counts = tie_counts[:, :, None] + tie_counts[:, None, :]
        ties = (pair_counts**3 - pair_counts).sum(axis=0)
    return u, ties


def _rank_sum_pvalue(
    u: FloatArray, n_a: FloatArray, n_b: FloatArray, ties: FloatArray
) -> tuple[FloatArray, np.ndarray]:
    """Two-sided Mann-Whitney p-values (exact without ties for n <= 50, else normal) and their reference."""
    shape = u.shape
    u, n_a, n_b, ties = (np.ravel(x) for x in (u, n_a, n_b, ties))
    n = n_a + n_b
    exact = (ties == 0) & (n <= EXACT_RANK_SUM_MAX_N) & (n_a >= 1) & (n_b >= 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = n_a * n_b / 2.0
        s = np.sqrt(n_a * n_b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))))
        z = (np.abs(u - mu) - 0.5) / s
        p = np.where((n_a >= 1) & (n_b >= 1) & (s > 0), np.minimum(1.0, special.erfc(z / np.sqrt(2.0))), np.nan)
    cells = np.flatnonzero(exact)
    sizes = np.stack([n_a[cells], n[cells]]).astype(np.int64) if len(cells) else np.empty((2, 0), dtype=np.int64)
    for size_a, size in {(int(a), int(b)) for a, b in sizes.T}:
        mine = cells[(sizes[0] == size_a) & (sizes[1] == size)]
        counts = rank_sum_null(size_a, size)
        cdf = np.cumsum(counts) / counts.sum()
        k = np.rint(u[mine]).astype(np.int64)
        lower = cdf[k]
        upper = 1.0 - np.where(k > 0, cdf[np.maximum(k - 1, 0)], 0.0)
        p[mine] = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    reference = np.where(exact, "exact rank-sum", "N(0,1)").astype(object)
    return p.reshape(shape), reference.reshape(shape)


def _permutation(a: FloatArray, b: FloatArray, keys: np.ndarray, conventions: Conventions) -> tuple[float, float, str]:
    """Permutation p-value of mean(a) - mean(b) (module docstring); values in key order; returns D, p, reference."""
    values = np.concatenate([a, b])
    n, n_a = len(values), len(a)
    observed = np.array([a.mean() - b.mean()])
    total = values.sum()
    splits = math.comb(n, n_a)
    samples = int(conventions.bootstrap_samples)
    exact = splits <= samples
    if exact:
        member = np.zeros((splits, n))
        chosen = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), n_a)), dtype=np.int64)
        member[np.repeat(np.arange(splits), n_a), chosen] = 1.0
        sum_a = member @ values
    else:  # B relabellings, drawn in chunks of bounded size
        rng = group_generator(conventions, "group_difference_permutation", keys)
        base = np.r_[np.ones(n_a), np.zeros(n - n_a)]
        step = max(1, _CHUNK_ELEMENTS // n)
        sum_a = np.concatenate(
            [
                rng.permuted(np.broadcast_to(base, (min(step, samples - start), n)), axis=1) @ values
                for start in range(0, samples, step)
            ]
        )
    star = (sum_a / n_a - (total - sum_a) / (n - n_a))[:, None]
    hit, _ = exceedances(star, observed)
    if exact:
        return float(observed[0]), float(hit[0] / splits), f"permutation (exact, {splits} splits)"
    return float(observed[0]), float((1.0 + hit[0]) / (samples + 1.0)), f"permutation (B={samples})"


def group_differences(
    car: FloatArray,
    codes: IntArray,
    labels: tuple[str, ...],
    windows: tuple[Window, ...],
    keys: np.ndarray,
    conventions: Conventions,
) -> pd.DataFrame:
    """Difference tests of the CARs of every pair of groups, for every CAR window (module docstring).

    Parameters
    ----------
    car : (N, C)
        CARs of the firm-events over the CAR windows (NaN where missing).
    codes : (N,)
        Group of each firm-event, indexing ``labels``; -1 for firm-events outside every group (not
        pooled, or not mapped to a group).
    labels
        Group labels, e.g. ``("category=policy_signal", "category=regulatory")``.
    windows
        The CAR windows, one per column of ``car``.
    keys : (N,)
        Firm-event keys (:func:`~eventstudy.inference.base.firm_event_keys`) that seed the permutations.
    conventions
        Supplies ``bootstrap_samples`` and ``seed``.

    Returns
    -------
    DataFrame
        Columns :data:`GROUP_DIFFERENCE_COLUMNS`: per window, per pair (a, b) with a before b in
        ``labels``, one row per test of :data:`DIFFERENCE_TESTS`. ``difference`` is mean_a - mean_b;
        ``statistic`` is Welch's t, U_a, or D; ``distribution`` names the reference. Empty with fewer
        than two groups.

    Notes
    -----
    Group moments (Welch) come from one grouped pass over all windows; U of every pair from one sort per
    CAR window (cumulative group counts below each value). The permutation test runs once per (pair,
    window) cell, because each cell relabels its own n_a + n_b CARs with its own seeded draws; inside a cell
    all relabellings are one matrix product (in chunks of bounded size).
    """
    n_groups, n_windows = len(labels), len(windows)
    codes = np.asarray(codes, dtype=np.int64)
    inside = codes >= 0
    values, member = np.asarray(car, dtype=np.float64)[inside], codes[inside]
    keys = np.asarray(keys, dtype=object)[inside]
    in_key_order = np.argsort(keys.astype(str), kind="stable")
    values, member, keys = values[in_key_order], member[in_key_order], keys[in_key_order]
    first, second = np.triu_indices(n_groups, 1)
    if not len(first):
        return pd.DataFrame({c: [] for c in GROUP_DIFFERENCE_COLUMNS})
    count, total, ssd = kn.group_moments(values, member, n_groups)  # (G, C)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        var = np.where(count > 1, ssd / (count - 1), np.nan)
    n_a, n_b = count[first].astype(np.float64), count[second].astype(np.float64)  # (P, C)
    mean_a, mean_b = mean[first], mean[second]
    t, df, p_t = welch_t(n_a, mean_a, var[first], n_b, mean_b, var[second])

    u = np.full(n_a.shape, np.nan)
    ties = np.zeros(n_a.shape)
    perm_d = np.full(n_a.shape, np.nan)
    perm_p = np.full(n_a.shape, np.nan)
    perm_ref = np.full(n_a.shape, "", dtype=object)
    for c in range(n_windows):  # one pass per CAR window (Notes)
        present = np.isfinite(values[:, c])
        if not present.any():
            continue
        u_all, tie_all = _mann_whitney(values[present, c], member[present], n_groups)
        u[:, c], ties[:, c] = u_all[first, second], tie_all[first, second]
        for p_index in np.flatnonzero((n_a[:, c] >= 1) & (n_b[:, c] >= 1)):
            rows_a = present & (member == first[p_index])
            rows_b = present & (member == second[p_index])
            both = rows_a | rows_b
            perm_d[p_index, c], perm_p[p_index, c], perm_ref[p_index, c] = _permutation(
                values[rows_a, c], values[rows_b, c], keys[both], conventions
            )
    p_u, u_ref = _rank_sum_pvalue(u, n_a, n_b, ties)

    empty = (n_a < 1) | (n_b < 1)
    few = (n_a < 2) | (n_b < 2)
    with np.errstate(invalid="ignore"):
        flat_t = ~few & ~((var[first] > 0) | (var[second] > 0))
    no_cars = "a group has no CAR in this window"
    reason_t = np.where(few, "Welch t needs at least 2 CARs in each group", np.where(flat_t, "no variation", ""))
    reason_t = np.where(empty, no_cars, reason_t)
    reason_u = np.where(empty, no_cars, np.where(~np.isfinite(p_u), "all CARs tied", ""))
    reason_p = np.where(empty, no_cars, "")
    with np.errstate(invalid="ignore"):
        df_text = np.char.mod("t(%.2f)", np.where(np.isfinite(df), df, 0.0)).astype(object)
    t_ref = np.where(np.isfinite(t), df_text, "")
    u_ref = np.where(np.isfinite(p_u), u_ref, "")

    windows_array = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    per_test = [
        ("welch_t", t, p_t, t_ref, reason_t),
        ("mann_whitney_u", np.where(empty, np.nan, u), p_u, u_ref, reason_u),
        ("permutation", perm_d, perm_p, perm_ref, reason_p),
    ]
    n_pairs = len(first)
    # rows ordered by window, pair, test: cell (p, c) of test k goes to row (c * P + p) * 3 + k
    cell_window = np.tile(np.arange(n_windows), n_pairs).reshape(n_pairs, n_windows)
    order = np.argsort((cell_window * n_pairs + np.arange(n_pairs)[:, None]).ravel(), kind="stable")
    columns: dict[str, list[np.ndarray]] = {c: [] for c in GROUP_DIFFERENCE_COLUMNS}
    label_array = np.asarray(labels, dtype=object)
    for name, statistic, p_value, reference, why in per_test:
        cell = {
            "window_start": windows_array[cell_window, 0],
            "window_end": windows_array[cell_window, 1],
            "group_a": np.broadcast_to(label_array[first][:, None], (n_pairs, n_windows)),
            "group_b": np.broadcast_to(label_array[second][:, None], (n_pairs, n_windows)),
            "n_a": n_a.astype(np.int64),
            "n_b": n_b.astype(np.int64),
            "mean_a": mean_a,
            "mean_b": mean_b,
            "difference": mean_a - mean_b,
            "test": np.full((n_pairs, n_windows), name, dtype=object),
            "statistic": statistic,
            "p_value": p_value,
            "distribution": reference,
            "reason": why,
        }
        for column, value in cell.items():
            columns[column].append(np.asarray(value).ravel()[order])
    stacked = {column: np.stack(parts, axis=1).ravel() for column, parts in columns.items()}
    return pd.DataFrame(stacked)[list(GROUP_DIFFERENCE_COLUMNS)]


__all__ = [
    "DIFFERENCE_TESTS",
    "EXACT_RANK_SUM_MAX_N",
    "GROUP_DIFFERENCE_COLUMNS",
    "group_differences",
    "rank_sum_null",
    "welch_t",
]
