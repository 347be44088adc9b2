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
   of buckets (at most one bucket per date and group, so bounded by the calendar, not by N). The runs
   are worked through in blocks of consecutive starts, keeping the sums of the runs up to T dates back:
   memory O(T^3), whatever N (the staggered days 0 of one-firm-per-event studies are this route).
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
from numpy.lib.stride_tricks import as_strided
from scipy.sparse import csr_matrix

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray

_BLOCK_CELLS = 1 << 20  # cells of one block of values or of pair results (8 MB of float64)
_DENSE_FILL = 0.2  # below this share of filled cells a block is handled as a sparse matrix
_RUN_CELLS = 1 << 22  # cells of one block of runs' (runs x offsets x dates) sums (32 MB of float64)
_GEMM_CELLS = 1 << 18  # multiply-adds of one matrix product of the runs route (see _run_sums)
_PIECE_WINDOWS = 24  # offsets of one product of the runs route, all on the dates of the smallest (see _run_sums)
_AXIS_CELLS = 1 << 27  # (group, date) cells up to which the date axes are numbered with a 0/1 array


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

    Notes
    -----
    Memory: besides the inputs, one (N, T) 0/1 mask and blocks of at most about ``_BLOCK_CELLS`` values
    (routes 1 and 2, and the date axis) or of ``_RUN_CELLS`` run sums (route 2), plus, for route 1, the
    sums of the date sets shared by two or more firm-events. Route 3, when some firm-event is irregular,
    also holds the (N, T) axis positions and the coordinates of every value.
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    codes = np.asarray(groups, dtype=np.int64)
    day = np.asarray(dates).astype("datetime64[D]", copy=False)
    valid = np.isfinite(values) & ~np.isnat(day)
    member = (codes >= 0) & (codes < n_groups) & valid.any(axis=1)
    size = np.bincount(codes[member], minlength=n_groups)
    rows = np.flatnonzero(member & (size[np.where(member, codes, 0)] >= 2))
    if len(rows) < 2:
        return sums, pairs
    u, ok, g, stamp = values, valid, codes, day.view(np.int64)
    if len(rows) < len(codes):  # copies of the rows in a group of two or more only
        u, ok, g, stamp = values[rows], valid[rows], codes[rows], stamp[rows]
    start, regular, odd_position, n_positions = _axis_positions(stamp, ok, g)
    bucket = _buckets(start, regular, odd_position, n_positions)
    position = None if regular.all() else _all_positions(start, regular, odd_position, ok.shape[1])
    for part in (
        _same_dates(u, ok, bucket, g, n_groups, min_overlap),
        _runs(u, np.flatnonzero(regular), start, g, n_positions, n_groups, min_overlap),
        _pairwise(u, position, ok, ~regular, bucket, g, n_groups, min_overlap),
    ):
        sums += part[0]
        pairs += part[1]
    return sums, pairs


def _row_blocks(n_rows: int, length: int) -> list[slice]:
    """Consecutive slices of rows holding about ``_BLOCK_CELLS`` cells of ``length`` columns each (at least one row)."""
    step = max(1, _BLOCK_CELLS // max(length, 1))
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def _axis_positions(day: IntArray, ok: np.ndarray, groups: IntArray) -> tuple[IntArray, np.ndarray, IntArray, int]:
    """Rank of each value's date on its group's date axis, offset so that groups never share a position.

    The positions of group g's dates are consecutive integers in date order, after those of the groups before
    it. A row is *regular* when it has a value on each of its T columns and their positions are consecutive:
    its positions are then ``start + 0..T-1``. Returns the first position of each row (its smallest position),
    whether it is regular, the (irregular rows x T) positions of the other rows (-1 where there is no value)
    and the number of positions. Worked through in blocks of rows: no (N, T) array besides the inputs.
    """
    n_rows, length = ok.shape
    blocks = _row_blocks(n_rows, length)
    present, compact = np.unique(groups, return_inverse=True)
    compact = compact.ravel()
    big = np.iinfo(np.int64).max
    row_lo, row_hi = np.empty(n_rows, dtype=np.int64), np.empty(n_rows, dtype=np.int64)
    for b in blocks:
        row_lo[b] = np.where(ok[b], day[b], big).min(axis=1)
        row_hi[b] = np.where(ok[b], day[b], -big).max(axis=1)
    lo, hi = np.full(len(present), big), np.full(len(present), -big)
    np.minimum.at(lo, compact, row_lo)
    np.maximum.at(hi, compact, row_hi)
    span = hi - lo + 1
    base = np.cumsum(span) - span - lo  # key of (group, date): base[group] + date

    def keys(b: slice) -> IntArray:
        return np.where(ok[b], base[compact[b], None] + day[b], -1)

    if int(span.sum()) <= _AXIS_CELLS:  # mark the (group, date) cells used, then number them in order
        used = np.zeros(int(span.sum()), dtype=bool)
        for b in blocks:
            used[keys(b)[ok[b]]] = True
        rank = np.cumsum(used) - 1
        n_positions = int(rank[-1]) + 1

        def ranks(key: IntArray, mask: np.ndarray) -> IntArray:
            return np.where(mask, rank[np.where(mask, key, 0)], -1)

    else:  # the dates used, sorted: a position is the rank among them
        axis = np.unique(np.concatenate([np.unique(keys(b)[ok[b]]) for b in blocks]))
        n_positions = len(axis)

        def ranks(key: IntArray, mask: np.ndarray) -> IntArray:
            return np.where(mask, np.searchsorted(axis, key), -1)

    start = np.empty(n_rows, dtype=np.int64)
    regular = np.empty(n_rows, dtype=bool)
    odd = []
    for b in blocks:
        position = ranks(keys(b), ok[b])
        start[b] = np.where(ok[b], position, big).min(axis=1)
        regular[b] = ok[b].all(axis=1) & (np.diff(position, axis=1) == 1).all(axis=1)
        odd.append(position[~regular[b]])
    return start, regular, np.concatenate(odd), n_positions


def _buckets(start: IntArray, regular: np.ndarray, odd_position: IntArray, n_positions: int) -> IntArray:
    """Bucket of each firm-event: equal for equal date sets (and groups), numbered 0, 1, ...

    A regular firm-event's date set is the run starting at its first position; the others are compared
    row by row (their positions with -1 where there is no value).
    """
    key = start.copy()
    if len(odd_position):
        key[~regular] = n_positions + np.unique(odd_position, axis=0, return_inverse=True)[1].ravel()
    return np.unique(key, return_inverse=True)[1].ravel()


def _all_positions(start: IntArray, regular: np.ndarray, odd_position: IntArray, length: int) -> IntArray:
    """The (N, T) axis positions of every row (route 3 reads them): ``start + 0..T-1`` for the regular rows."""
    position = np.empty((len(start), length), dtype=np.int64)
    position[regular] = start[regular, None] + np.arange(length)
    position[~regular] = odd_position
    return position


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
    """Route 1: pairs within buckets of identical date sets, Σ_{i<j} ρ_ij = (||Σ z_i||^2 - c) / 2.

    Only the buckets of two or more firm-events hold pairs; their sums of z are accumulated over blocks of
    rows (in row order).
    """
    size = np.bincount(bucket)
    shared = np.flatnonzero(size[bucket] >= 2)
    if not len(shared):
        return np.zeros(n_groups), np.zeros(n_groups, dtype=np.int64)
    _, local = np.unique(bucket[shared], return_inverse=True)
    local = local.ravel()
    n_buckets = int(local.max()) + 1
    total = np.zeros((n_buckets, u.shape[1]))
    members = np.zeros(n_buckets, dtype=np.int64)
    for b in _row_blocks(len(shared), u.shape[1]):
        rows = shared[b]
        z, varies = _standardized(u[rows], ok[rows])
        total += kn.group_sum(z, local[b], n_buckets)
        members += kn.group_count(varies, local[b], n_buckets)
    first = np.full(n_buckets, len(bucket))
    np.minimum.at(first, local, shared)
    counted = ok[first].sum(axis=1) >= min_overlap  # every member has the bucket's dates
    within = np.where(counted, (np.einsum("bt,bt->b", total, total) - members) / 2.0, 0.0)
    n_pairs = np.where(counted, members * (members - 1) // 2, 0)
    return (
        np.bincount(groups[first], weights=within, minlength=n_groups).astype(np.float64),
        np.bincount(groups[first], weights=n_pairs, minlength=n_groups).astype(np.int64),
    )


def _runs(
    u: FloatArray,
    regular: IntArray,
    start: IntArray,
    groups: IntArray,
    n_positions: int,
    n_groups: int,
    min_overlap: int,
) -> tuple[FloatArray, IntArray]:
    """Route 2: pairs of regular firm-events of different buckets, by offset δ between their runs.

    ``regular`` lists the rows of ``u`` of the regular firm-events (every value present, consecutive axis
    positions), ``start`` gives the axis position of every row's first date; equal starts are equal buckets
    ("runs"), numbered in start order.

    For run s, offset δ and the n = T - δ values of its members' suffixes, X_s(δ, c) = Σ_{i∈s} w_i u_i(c)
    and A_s(δ) = Σ_{i∈s} w_i ū_i with w_i = 1 / sqrt(Σ (u_i - ū_i)^2) over the suffix (ū_i its mean);
    Y_t and B_t likewise on the prefixes of run t. Then Σ_{i∈s, j∈t} ρ_ij = Σ_q X_s(δ, δ + q) Y_t(δ, q)
    - n A_s B_t for the run t starting δ positions after s. The X of a run are (members x offsets)'
    (members x dates) matrix products, batched over runs of similar size (:func:`_run_sums`); the Y are
    never formed: Σ_q X_s(δ, δ + q) Y_t(δ, q) = Σ_{j∈t} v_j(δ) Σ_q X_s(δ, δ + q) u_j(q), one (offsets x
    dates) (dates x members) product per run t with its partners' X (:func:`_partner_dots`). Both work on
    the dates an offset uses only (c >= δ for X, q < T - δ for the prefixes).

    The runs are taken in blocks of consecutive starts (at most ``_RUN_CELLS`` cells of X per block):
    a block's X go into a ring that also holds the X of the runs up to T positions before the block (the
    only earlier runs its runs pair with), then its runs' prefixes are paired with the ring. The memory is
    that of the ring and one block, whatever N: O(T^3) cells at most, not O(N T).
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    length = u.shape[1]
    offsets = np.arange(1, length - max(min_overlap, 2) + 1)  # offsets leaving enough common dates
    if len(regular) < 2 or not len(offsets):
        return sums, pairs
    order = regular[np.argsort(start[regular], kind="stable")]
    run_start, first_row, size = np.unique(start[order], return_index=True, return_counts=True)
    n_runs, n_k = len(run_start), len(offsets)
    if n_runs < 2:
        return sums, pairs
    at = np.full(n_positions, -1, dtype=np.int64)
    at[run_start] = np.arange(n_runs)
    run_group = groups[order[first_row]]
    n = (length - offsets).astype(np.float64)
    per_block = max(1, _RUN_CELLS // (n_k * length))
    row_budget = max(1, 4 * _BLOCK_CELLS // length)
    capacity = min(n_runs, n_k + per_block)
    # X'(δ, q) = X(δ, δ + q) of the block and of the runs before it, slot r % capacity for run r, at columns
    # n_k + q; the last slot stays 0 (no run). Written through a view whose row for offset δ starts δ columns
    # earlier (offsets are 1, 2, ...): X(δ, c) lands at column n_k + c - δ, the dates c < δ in front of
    # column n_k (never read) and columns n_k + T - δ onwards are never written (they stay 0).
    ring_x = np.zeros((capacity + 1, n_k, length + n_k))
    strides = ring_x.strides
    x_view = as_strided(
        ring_x[:, :, n_k - 1 :], (capacity + 1, n_k, length), (strides[0], strides[1] - strides[2], strides[2])
    )
    ring_a = np.zeros((capacity + 1, n_k))
    ring_count = np.zeros((capacity + 1, n_k), dtype=np.int64)
    k = np.arange(n_k)
    bounds = np.r_[first_row, len(order)]
    r0 = 0
    while r0 < n_runs:
        fit = int(np.searchsorted(bounds, bounds[r0] + row_budget, side="right")) - 1
        r1 = min(n_runs, r0 + per_block, max(r0 + 1, fit))
        x = u[order[bounds[r0] : bounds[r1]]]
        x = x - x.mean(axis=1, keepdims=True)  # ρ is shift-invariant; centring keeps Σ x^2 - n x̄^2 exact
        head = np.zeros((len(x), length + 1))
        np.cumsum(x, axis=1, out=head[:, 1:])
        head2 = np.zeros((len(x), length + 1))
        np.cumsum(x * x, axis=1, out=head2[:, 1:])
        tail = _window_weights(head[:, [length]] - head[:, offsets], head2[:, [length]] - head2[:, offsets], n)
        lead = _window_weights(head[:, length - offsets], head2[:, length - offsets], n)
        classes = _run_classes(size[r0:r1])
        slots = np.arange(r0, r1) % capacity
        ring_a[slots], ring_count[slots] = _run_sums(tail, classes, x, x_view, slots, offsets)
        earlier = run_start[r0:r1, None] - offsets[None, :]
        partner = np.where(earlier >= 0, at[np.maximum(earlier, 0)], -1)  # the run starting δ before
        s = np.where(partner >= 0, partner % capacity, capacity)  # its slot; the zero slot when there is none
        dots, b_sum, y_count = _partner_dots(lead, classes, x, ring_x[:, :, n_k:], s, offsets)
        value = (dots - n * ring_a[s, k] * b_sum).sum(axis=1)
        group = run_group[r0:r1]
        sums += np.bincount(group, weights=value, minlength=n_groups)
        pairs += np.bincount(group, weights=(ring_count[s, k] * y_count).sum(axis=1), minlength=n_groups).astype(
            np.int64
        )
        r0 = r1
    return sums, pairs


def _run_classes(size: IntArray) -> list[tuple[IntArray, IntArray]]:
    """Runs of a block grouped by size class (size rounded up to a power of two), with their member rows.

    The block's rows are its runs' members one run after the other. Returns per class the runs and the
    (runs x width) matrix of their rows, padded with the number of rows (a zero row).
    """
    width = 2 ** np.ceil(np.log2(size)).astype(np.int64)
    lead = np.cumsum(size) - size
    classes = []
    for w in np.unique(width):
        runs = np.flatnonzero(width == w)
        slot = np.arange(int(w))[None, :]
        classes.append((runs, np.where(slot < size[runs][:, None], lead[runs][:, None] + slot, int(size.sum()))))
    return classes


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
    classes: list[tuple[IntArray, IntArray]],
    x: FloatArray,
    out: FloatArray,
    slots: IntArray,
    offsets: IntArray,
) -> tuple[FloatArray, IntArray]:
    """Σ_i w_i x_i(c) into ``out[slots]``; Σ_i w_i x̄_i and the number of varying members per run and window.

    The suffix sums X(δ, c) of the block's run r are written straight into ``out[slots[r]]`` (the ring's
    view, no copy through a buffer), on the dates c >= δ only, by pieces of at most ``_PIECE_WINDOWS``
    consecutive offsets, each from its smallest δ (the view puts the dates below δ where they are never
    read). The products are cut into pieces of at most ``_GEMM_CELLS`` multiply-adds too: OpenBLAS runs
    larger products on several threads, and thousands of such small threaded products (one per run) ran
    ten times slower on a machine whose cores were busy with other work (the threads wait for one another
    at every product) than the same pieces on one thread.
    """
    weight, weighted_mean = weights
    padded = np.vstack([x, np.zeros((1, x.shape[1]))])
    n_runs = sum(len(runs) for runs, _ in classes)
    mean_sum = np.empty((n_runs, weight.shape[1]))
    count = np.empty((n_runs, weight.shape[1]), dtype=np.int64)
    for runs, members in classes:
        w = weight[members]  # (runs, width, windows)
        values = padded[members]
        step = max(1, min(_PIECE_WINDOWS, _GEMM_CELLS // (members.shape[1] * x.shape[1])))  # windows per product
        for k0 in range(0, weight.shape[1], step):
            dates = slice(int(offsets[k0]), None)
            piece = np.matmul(w[:, :, k0 : k0 + step].transpose(0, 2, 1), values[:, :, dates])
            out[slots[runs], k0 : k0 + step, dates] = piece
        mean_sum[runs] = weighted_mean[members].sum(axis=1)
        count[runs] = (w > 0).sum(axis=1)
    return mean_sum, count


def _partner_dots(
    weights: tuple[FloatArray, FloatArray],
    classes: list[tuple[IntArray, IntArray]],
    x: FloatArray,
    ring: FloatArray,
    slots: IntArray,
    offsets: IntArray,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Σ_{j∈t} v_j(δ) Σ_q X'_s(δ, q) x_j(q), Σ_j v_j x̄_j and the varying members, per run t of a block and δ.

    ``ring`` holds X'_s(δ, q) = X_s(δ, δ + q) at column q (0 from q = T - δ on) and ``slots`` (runs, offsets)
    the slot of the run s that starts δ before each run t. Each class of runs gathers its partners' X' and
    takes one batched (offsets x dates) (dates x members) product with its members' prefixes: the prefix sums
    Y_t(δ, q) of the runs are never formed. By pieces of ``_PIECE_WINDOWS`` offsets on the dates q < T - δ
    of their smallest δ.
    """
    weight, weighted_mean = weights
    padded = np.vstack([x, np.zeros((1, x.shape[1]))])
    n_runs, n_k = slots.shape
    length = x.shape[1]
    dots = np.empty((n_runs, n_k))
    mean_sum = np.empty((n_runs, n_k))
    count = np.empty((n_runs, n_k), dtype=np.int64)
    k = np.arange(n_k)
    for runs, members in classes:
        w = weight[members]  # (runs, width, windows)
        values = padded[members]  # (runs, width, dates)
        for k0 in range(0, n_k, _PIECE_WINDOWS):
            piece = slice(k0, k0 + _PIECE_WINDOWS)
            dates = slice(0, length - int(offsets[k0]))
            partners = ring[slots[runs][:, piece], k[piece], dates]  # (runs, windows, dates)
            products = np.matmul(partners, values[:, :, dates].transpose(0, 2, 1))  # (runs, windows, width)
            dots[runs, piece] = np.einsum("rkm,rmk->rk", products, w[:, :, piece])
        mean_sum[runs] = weighted_mean[members].sum(axis=1)
        count[runs] = (w > 0).sum(axis=1)
    return dots, mean_sum, count


def _pairwise(
    u: FloatArray,
    position: IntArray | None,
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
    both sides and counted half each time. ``position`` holds the axis positions of every row (None when no
    firm-event is irregular).
    """
    sums = np.zeros(n_groups)
    pairs = np.zeros(n_groups, dtype=np.int64)
    if position is None or not irregular.any():
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
