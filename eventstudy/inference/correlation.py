"""Sum of pairwise-complete correlations within groups of firm-events, in time linear in their number.

The array kernel behind the Kolari-Pynnönen r̄ (:func:`eventstudy.inference.clustered.kp_mean_correlation`,
``docs/methods.md`` §6.2, P10). Each firm-event i has a series u_i(d) over calendar dates d (its
standardized estimation residuals); a pair (i, j) of the same group with at least ``min_overlap`` common
dates D_ij and some variation of both series on D_ij contributes the Pearson correlation

    ρ_ij = Σ_D (u_i - ū_i)(u_j - ū_j) / sqrt(Σ_D (u_i - ū_i)^2 Σ_D (u_j - ū_j)^2),

means and sums over D_ij only (pairwise complete). :func:`pairwise_correlation_sums` returns Σ ρ_ij and the
number of such pairs per group, exactly, by three routes chosen pair by pair:

1. **Identical date sets** (a "bucket": firm-events of one group whose series have the same dates, e.g.
   every firm of one exchange around one event day). With z_i = (u_i - ū_i) / ||u_i - ū_i|| on the common
   dates, ρ_ij = <z_i, z_j> and ||z_i|| = 1, so Σ_{i<j} ρ_ij = (||Σ_i z_i||^2 - c) / 2 for the c members
   with some variation: one pass over the bucket, O(c T). This is the identity
   r̄ = (||Σ_i z_i||^2 / T - N) / (N (N - 1)) for z standardized with divisor T, exact on a balanced
   common window.
2. **Runs of consecutive dates.** A firm-event is *regular* when its series has a value on each of its T
   rows and its dates are consecutive dates of its group's date axis (the union of the group's dates):
   its dates are then a run [lo, lo + T - 1] of that axis. Two regular firm-events of different buckets
   whose runs start δ positions apart share the last T - δ dates of the earlier one and the first
   T - δ of the later one, so ρ_ij = <x_i, y_j> with x_i the earlier series' last T - δ values centred
   and scaled on those values and y_j the later series' first T - δ values centred and scaled on them.
   Summed over the pairs of bucket s (start lo) and bucket t (start lo + δ), Σ ρ_ij = <Σ_{i∈s} x_i,
   Σ_{j∈t} y_j>, with the means and variances of every prefix and suffix from cumulative sums and the
   sums over each bucket as matrix products: O(N T^2) arithmetic in all, linear in N, plus O(T) per pair
   of buckets (at most one bucket per date and group, so bounded by the calendar, not by N).
3. **Everything else** (pairs in which a firm-event has missing values inside its window, fewer values
   than rows, or dates that skip a date of the group's axis, e.g. a group mixing exchanges whose
   calendars differ): the pair's own sums over its common dates, from products of (events x dates)
   blocks of values and 0/1 masks, for the pairs involving such a firm-event only. Blocks of firm-events
   sorted by first date are paired with the firm-events whose dates can overlap theirs; dense BLAS
   products where the block's date span is well filled, sparse ones where it is not. This route costs
   O(N_irregular x N_overlapping x T), quadratic in the number of such firm-events.

Routes 1 and 2 are exact identities, not approximations: the result equals the pair-by-pair sum of
``np.corrcoef`` up to rounding. Route 1 centres each series before its sum of squares; routes 2 and 3
take sums of squares in one pass (Σ u^2 - (Σ u)^2 / n), route 2 after centring each series on its
whole window (which leaves ρ unchanged and the window means small against the spread). Route 3 clips each
correlation to [-1, 1]; routes 1 and 2 leave the rounding of an exact ±1 as it is.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray

_BLOCK_CELLS = 1 << 20  # cells of one block of values or of pair results (8 MB of float64)
_DENSE_FILL = 0.2  # below this share of filled cells a block is handled as a sparse matrix
_RUN_CELLS = 1 << 23  # cells of the (runs x offsets x dates) sums of one chunk of offsets (64 MB of float64)
_AXIS_CELLS = 1 << 27  # (groups x days) cells up to which the date axes are numbered with a 0/1 array


def pairwise_correlation_sums(
    values: FloatArray, dates: np.ndarray, groups: IntArray, n_groups: int, min_overlap: int
) -> tuple[FloatArray, IntArray]:
    """Σ ρ_ij over the unordered pairs of each group with at least ``min_overlap`` common dates, and their number.

    Parameters
    ----------
    values : (N, T)
        Series of each firm-event (e.g. standardized estimation residuals), NaN where missing.
    dates : (N, T) datetime64[D]
        Calendar date of each value; NaT where there is none (the value is then not used).
    groups : (N,)
        Group code per firm-event; codes outside 0..n_groups-1 (e.g. -1) are in no group.
    n_groups
        Number of groups.
    min_overlap
        Fewest common dates for a pair to count.

    Returns
    -------
    sums : (n_groups,)
        Σ ρ_ij over the qualifying pairs (module notes).
    pairs : (n_groups,)
        Number of qualifying pairs: at least ``min_overlap`` common dates and a positive sum of squared
        deviations of both series over them.
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    codes = np.asarray(groups, dtype=np.int64)
    day = np.asarray(dates).astype("datetime64[D]")
    valid = np.isfinite(values) & ~np.isnat(day)
    member = (codes >= 0) & (codes < n_groups) & valid.any(axis=1)
    size = np.bincount(codes[member], minlength=n_groups)
    rows = np.flatnonzero(member & (size[np.where(member, codes, 0)] >= 2))
    if len(rows) < 2:
        return sums, pairs
    u, ok, g = np.where(valid[rows], values[rows], np.nan), valid[rows], codes[rows]
    position, n_positions = _axis_positions(day[rows].view(np.int64), ok, g)
    regular = ok.all(axis=1) & (np.diff(position, axis=1) == 1).all(axis=1)
    bucket = _buckets(position, regular, n_positions)
    for part in (
        _same_dates(u, ok, bucket, g, n_groups, min_overlap),
        _runs(u[regular], position[regular, 0], bucket[regular], g[regular], n_positions, n_groups, min_overlap),
        _pairwise(u, position, ok, ~regular, bucket, g, n_groups, min_overlap),
    ):
        sums += part[0]
        pairs += part[1]
    return sums, pairs


def _axis_positions(day: IntArray, ok: np.ndarray, groups: IntArray) -> tuple[IntArray, int]:
    """Rank of each value's date on its group's date axis, offset so that groups never share a position.

    Returns the (n, T) positions (-1 where there is no value) and the number of positions. The positions
    of group g's dates are consecutive integers in date order, after those of the groups before it.
    """
    present, compact = np.unique(groups, return_inverse=True)
    low = int(day[ok].min())
    span = int(day[ok].max()) - low + 1
    key = np.where(ok, compact.reshape(-1, 1) * span + (day - low), -1)
    if len(present) * span <= _AXIS_CELLS:  # mark the (group, date) cells used, then number them in order
        used = np.zeros(len(present) * span, dtype=bool)
        used[key[ok]] = True
        rank = np.cumsum(used) - 1
        return np.where(ok, rank[np.where(ok, key, 0)], -1), int(rank[-1]) + 1
    axis, inverse = np.unique(key[ok], return_inverse=True)
    position = np.full(ok.shape, -1, dtype=np.int64)
    position[ok] = inverse.ravel()
    return position, len(axis)


def _buckets(position: IntArray, regular: np.ndarray, n_positions: int) -> IntArray:
    """Bucket of each firm-event: equal for equal date sets (and groups), numbered 0, 1, ...

    A regular firm-event's date set is the run starting at its first position; the others are compared
    row by row (their positions with -1 where there is no value).
    """
    key = position[:, 0].copy()
    odd = np.flatnonzero(~regular)
    if len(odd):
        key[odd] = n_positions + np.unique(position[odd], axis=0, return_inverse=True)[1].ravel()
    return np.unique(key, return_inverse=True)[1].ravel()


def _standardized(u: FloatArray, ok: np.ndarray) -> tuple[FloatArray, np.ndarray]:
    """Rows scaled to z = (u - ū) / ||u - ū|| on their values (0 elsewhere), and whether each row varies."""
    count = ok.sum(axis=1)
    mean = np.where(ok, u, 0.0).sum(axis=1) / np.maximum(count, 1)
    dev = np.where(ok, u - mean[:, None], 0.0)
    norm = np.sqrt(np.einsum("ij,ij->i", dev, dev))
    varies = norm > 0
    return dev / np.where(varies, norm, 1.0)[:, None], varies


def _same_dates(
    u: FloatArray, ok: np.ndarray, bucket: IntArray, groups: IntArray, n_groups: int, min_overlap: int
) -> tuple[FloatArray, IntArray]:
    """Route 1: pairs within buckets of identical date sets, Σ_{i<j} ρ_ij = (||Σ z_i||^2 - c) / 2."""
    n_buckets = int(bucket.max()) + 1
    z, varies = _standardized(u, ok)
    total = kn.group_sum(z, bucket, n_buckets)
    members = kn.group_count(varies, bucket, n_buckets)
    first = np.full(n_buckets, len(bucket))
    np.minimum.at(first, bucket, np.arange(len(bucket)))
    counted = ok[first].sum(axis=1) >= min_overlap  # every member has the bucket's dates
    within = np.where(counted, (np.einsum("bt,bt->b", total, total) - members) / 2.0, 0.0)
    n_pairs = np.where(counted, members * (members - 1) // 2, 0)
    return (
        np.bincount(groups[first], weights=within, minlength=n_groups).astype(np.float64),
        np.bincount(groups[first], weights=n_pairs, minlength=n_groups).astype(np.int64),
    )


def _runs(
    u: FloatArray,
    start: IntArray,
    bucket: IntArray,
    groups: IntArray,
    n_positions: int,
    n_groups: int,
    min_overlap: int,
) -> tuple[FloatArray, IntArray]:
    """Route 2: pairs of regular firm-events of different buckets, by offset δ between their runs.

    ``u`` holds the regular firm-events' values (every row complete), ``start`` the axis position of their
    first date; equal starts are equal buckets ("runs").

    For run s, offset δ and the n = T - δ values of its members' suffixes, X_s(δ, c) = Σ_{i∈s} w_i u_i(c)
    and A_s(δ) = Σ_{i∈s} w_i ū_i with w_i = 1 / sqrt(Σ (u_i - ū_i)^2) over the suffix (ū_i its mean);
    Y_t and B_t likewise on the prefixes of run t. Then Σ_{i∈s, j∈t} ρ_ij = Σ_q X_s(δ, δ + q) Y_t(δ, q)
    - n A_s B_t for the run t starting δ positions after s. X and Y are (members x offsets)' (members x
    dates) matrix products per run, batched over runs of similar size, in chunks of offsets.
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    n_rows, length = u.shape
    offsets = np.arange(1, length - max(min_overlap, 2) + 1)  # offsets leaving enough common dates
    if n_rows < 2 or not len(offsets):
        return sums, pairs
    code, size, run_start, classes = _run_layout(bucket, start)
    order = np.argsort(code, kind="stable")
    x = u[order] - u[order].mean(axis=1, keepdims=True)  # ρ is shift-invariant; centring keeps Σ x^2 - n x̄^2 exact
    n_runs = len(size)
    run_group = groups[order][np.cumsum(size) - size]
    at = np.full(n_positions, -1, dtype=np.int64)
    at[run_start] = np.arange(n_runs)
    later = at[run_start[:, None] + offsets[None, :]]  # the run starting δ later (inside the earlier run's dates)
    e_run, e_k = np.nonzero(later >= 0)
    if not len(e_run):
        return sums, pairs
    by_k = np.argsort(e_k, kind="stable")
    e_run, e_k = e_run[by_k], e_k[by_k]
    l_run = later[e_run, e_k]
    k_bounds = np.searchsorted(e_k, np.arange(len(offsets) + 1))
    head = np.zeros((n_rows, length + 1))
    np.cumsum(x, axis=1, out=head[:, 1:])
    head2 = np.zeros((n_rows, length + 1))
    np.cumsum(x * x, axis=1, out=head2[:, 1:])
    padded = np.vstack([x, np.zeros((1, length))])
    x_pad = [padded[members] for _, members in classes]
    chunk = max(1, _RUN_CELLS // (n_runs * length))
    buffers = (np.empty(n_runs * chunk * length), np.empty(n_runs * chunk * length))  # reused: no fresh pages
    for k0 in range(0, len(offsets), chunk):
        ks = np.arange(k0, min(len(offsets), k0 + chunk))
        n = (length - offsets[ks]).astype(np.float64)
        first = int(offsets[ks[0]])  # suffixes start at column >= first, prefixes end before length - first
        tail = _window_weights(head[:, [length]] - head[:, offsets[ks]], head2[:, [length]] - head2[:, offsets[ks]], n)
        lead = _window_weights(head[:, length - offsets[ks]], head2[:, length - offsets[ks]], n)
        x_sum, a_sum, x_count = _run_sums(tail, classes, [v[:, :, first:] for v in x_pad], buffers[0])
        y_sum, b_sum, y_count = _run_sums(lead, classes, [v[:, :, : length - first] for v in x_pad], buffers[1])
        for j, k in enumerate(ks):
            delta = int(offsets[k])
            s, t = e_run[k_bounds[k] : k_bounds[k + 1]], l_run[k_bounds[k] : k_bounds[k + 1]]
            dots = np.einsum("pc,pc->p", x_sum[s, j, delta - first :], y_sum[t, j, : length - delta])
            value = dots - (length - delta) * a_sum[s, j] * b_sum[t, j]
            sums += np.bincount(run_group[s], weights=value, minlength=n_groups)
            pairs += np.bincount(run_group[s], weights=x_count[s, j] * y_count[t, j], minlength=n_groups).astype(
                np.int64
            )
    return sums, pairs


def _run_layout(bucket: IntArray, start: IntArray) -> tuple[IntArray, IntArray, IntArray, list[tuple[slice, IntArray]]]:
    """Runs numbered by size class (size rounded up to a power of two), then start; their member rows.

    Returns each row's run number, each run's size and start, and per size class the slice of its runs and
    the (runs x width) matrix of their rows in run order (rows sorted by run number), padded with the
    number of rows.
    """
    _, first, inverse, size = np.unique(bucket, return_index=True, return_inverse=True, return_counts=True)
    width = 2 ** np.ceil(np.log2(size)).astype(np.int64)
    renumber = np.empty(len(size), dtype=np.int64)
    renumber[np.lexsort((start[first], width))] = np.arange(len(size))
    code = renumber[inverse.ravel()]
    size, run_start, width = size[np.argsort(renumber)], start[first][np.argsort(renumber)], np.sort(width)
    lead = np.cumsum(size) - size
    classes = []
    for w in np.unique(width):
        runs = np.flatnonzero(width == w)
        slot = np.arange(int(w))[None, :]
        members = np.where(slot < size[runs][:, None], lead[runs][:, None] + slot, len(code))
        classes.append((slice(int(runs[0]), int(runs[-1]) + 1), members))
    return code, size, run_start, classes


def _window_weights(total: FloatArray, square: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per row and window: w = 1 / sqrt(Σ (x - x̄)^2) (0 without variation) and w x̄, with a zero padding row."""
    mean = total / n
    ss = square - total * mean
    varies = ss > 0
    weight = np.where(varies, 1.0 / np.sqrt(np.where(varies, ss, 1.0)), 0.0)
    pad = np.zeros((1, weight.shape[1]))
    return np.vstack([weight, pad]), np.vstack([weight * mean, pad])


def _run_sums(
    weights: tuple[FloatArray, FloatArray],
    classes: list[tuple[slice, IntArray]],
    x_pad: list[FloatArray],
    buffer: FloatArray,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Σ_i w_i x_i(c), Σ_i w_i x̄_i and the number of varying members per run and window of a chunk.

    The first sum is written into ``buffer`` (reused from chunk to chunk, so its pages are touched once).
    """
    weight, weighted_mean = weights
    n_runs, n_windows, length = classes[-1][0].stop, weight.shape[1], x_pad[0].shape[2]
    x_sum = buffer[: n_runs * n_windows * length].reshape(n_runs, n_windows, length)
    mean_sum = np.empty((n_runs, n_windows))
    count = np.empty((n_runs, n_windows), dtype=np.int64)
    for (runs, members), values in zip(classes, x_pad, strict=True):
        w = weight[members]  # (runs, width, windows)
        np.matmul(w.transpose(0, 2, 1), values, out=x_sum[runs])
        mean_sum[runs] = weighted_mean[members].sum(axis=1)
        count[runs] = (w > 0).sum(axis=1)
    return x_sum, mean_sum, count


def _pairwise(
    u: FloatArray,
    position: IntArray,
    ok: np.ndarray,
    irregular: np.ndarray,
    bucket: IntArray,
    groups: IntArray,
    n_groups: int,
    min_overlap: int,
) -> tuple[FloatArray, IntArray]:
    """Route 3: every pair of different buckets with an irregular firm-event, from its own common dates.

    The irregular firm-events are taken in blocks (sorted by first position); each block is paired with
    every firm-event whose positions can overlap its span. A pair of two irregular firm-events is seen from
    both sides and counted half each time.
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    if not irregular.any():
        return sums, pairs
    ev, col = np.nonzero(ok)
    first = np.where(ok, position, np.iinfo(np.int64).max).min(axis=1)
    last = position.max(axis=1)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(len(first), dtype=np.int64)
    rank[by_first] = np.arange(len(first))
    entry_rank = rank[ev]
    eorder = np.argsort(entry_rank, kind="stable")
    e_rank, e_col, e_val = entry_rank[eorder], position[ev, col][eorder], u[ev, col][eorder]
    offsets = np.searchsorted(e_rank, np.arange(len(first) + 1))
    first_s, last_s = first[by_first], last[by_first]
    bucket_s, half_s, group_s = bucket[by_first], np.where(irregular[by_first], 0.5, 1.0), groups[by_first]
    left = np.flatnonzero(irregular[by_first])  # sorted ranks of the irregular firm-events
    max_len = int((last_s - first_s).max())

    def block(rows: IntArray, lo: int, hi: int, sparse: bool) -> tuple[Any, Any, Any]:
        lengths = offsets[rows + 1] - offsets[rows]
        local = np.repeat(np.arange(len(rows)), lengths)
        take = offsets[rows][local] + np.arange(len(local)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return _event_block(local, e_col[take] - lo, e_val[take], (len(rows), hi - lo + 1), sparse)

    def product(a: Any, b: Any) -> FloatArray:
        result = a @ b.T
        return np.asarray(result.toarray() if hasattr(result, "toarray") else result)

    total = np.zeros(len(first))
    count = np.zeros(len(first))
    rows_per_block = max(1, min(256, _BLOCK_CELLS // 4096))  # with partner blocks of <= 4096 events per product
    # a block holds consecutive irregular firm-events whose first dates lie within one window length, so that
    # its partners are few even when the irregular firm-events are scattered over a long calendar
    window = (first_s[left] - first_s[left[0]]) // (max_len + 1)
    new_block = np.r_[True, window[1:] != window[:-1]] | (np.arange(len(left)) % rows_per_block == 0)
    block_start = np.r_[np.flatnonzero(new_block), len(left)]
    for a, b in itertools.pairwise(block_start):
        mine = left[a:b]
        lo, hi = int(first_s[mine].min()), int(last_s[mine].max())
        span = hi - lo + 1
        j_lo = int(np.searchsorted(first_s, lo - max_len, side="left"))
        j_hi = int(np.searchsorted(first_s, hi, side="right"))
        sparse = (offsets[j_hi] - offsets[j_lo]) < _DENSE_FILL * (j_hi - j_lo) * span
        xi, xi2, mi = block(mine, lo, hi, sparse)
        step = max(1, min(_BLOCK_CELLS // span, _BLOCK_CELLS // len(mine)))
        for ja in range(j_lo, j_hi, step):
            partners = np.arange(ja, min(j_hi, ja + step))
            xj, xj2, mj = block(partners, lo, hi, sparse)
            n_ij = product(mi, mj)
            sx, sy = product(xi, mj), product(mi, xj)
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = product(xi, xj) - sx * sy / n_ij
                vx = product(xi2, mj) - sx * sx / n_ij
                vy = product(mi, xj2) - sy * sy / n_ij
                rho = cov / np.sqrt(vx * vy)
            use = (n_ij >= min_overlap) & (vx > 0) & (vy > 0) & np.isfinite(rho)
            use &= bucket_s[mine][:, None] != bucket_s[partners][None, :]  # also leaves out i == j
            weight = use * half_s[partners][None, :]
            total[mine] += (np.clip(np.where(use, rho, 0.0), -1.0, 1.0) * weight).sum(axis=1)
            count[mine] += weight.sum(axis=1)
    sums += np.bincount(group_s, weights=total, minlength=n_groups)
    pairs += np.rint(np.bincount(group_s, weights=count, minlength=n_groups)).astype(np.int64)
    return sums, pairs


def _event_block(row: IntArray, col: IntArray, value: FloatArray, shape: tuple[int, int], sparse: bool) -> Any:
    """Values, squared values and 0/1 mask of one block of events, dense arrays or sparse matrices.

    ``row`` and ``col`` are the entries' positions relative to the block; entries outside ``shape`` (dates
    beyond the block's span) are dropped.
    """
    keep = (col >= 0) & (col < shape[1])
    r, c, v = row[keep], col[keep], value[keep]
    if sparse:
        return tuple(csr_matrix((w, (r, c)), shape=shape) for w in (v, v * v, np.ones_like(v)))
    out = np.zeros((3,) + shape)
    out[0, r, c], out[1, r, c], out[2, r, c] = v, v * v, 1.0
    return out[0], out[1], out[2]


__all__ = ["pairwise_correlation_sums"]
