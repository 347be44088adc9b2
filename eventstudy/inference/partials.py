"""Mergeable per-group sufficient statistics: tests computed from chunks of firm-events.

Most test statistics are functions of per-group sums over firm-events (counts, sums, sums of squared
deviations, counts of presence patterns). A :class:`DecomposableTest` splits its computation in two:
:meth:`~DecomposableTest.partial` reduces some firm-events to a :class:`Partial` of per-group arrays, and
:meth:`~DecomposableTest.finish` turns a Partial into the :class:`~eventstudy.inference.base.StatBlock`.
``compute`` is ``finish(partial(...))``, so there is one implementation whether the firm-events come at once
or in chunks. Partials of disjoint sets of firm-events :func:`merge` into the Partial of their union.

Merge rules, per kind of array in a Partial:

- ``sums``: added (counts stay integers, so they are exact).
- ``moments`` (:class:`Moments`): count, total, sum of squared deviations from the group mean (two-pass
  within a chunk) and optionally the sum of cubed deviations, combined with the exact identities
  M2 = Σ_k [M2_k + n_k d_k²] and M3 = Σ_k [M3_k + 3 d_k M2_k + n_k d_k³], d_k = mean_k - mean
  (Chan, Golub and LeVeque 1983; Pébay 2008). A group held by one chunk keeps its moments bit for bit
  (d_k = 0); otherwise the result differs from a single two-pass computation by rounding only.
- ``patterns`` (:class:`Patterns`): numbers of firm-events per (group, pattern of presence over the
  event-window days), added per distinct pattern.
- ``firsts`` (:class:`Firsts`): a value of each group's first firm-event in the study's row order, kept
  from the part whose first firm-event comes first.

A Partial holds rows for the groups it has firm-events of only (``groups``, increasing codes), so a chunk
costs memory in proportion to its own groups, not to all groups of the study.

References
----------
Chan, T. F., G. H. Golub and R. J. LeVeque (1983), "Algorithms for computing the sample variance: analysis
and recommendations", The American Statistician 37(3), 242-247.
Pébay, P. (2008), "Formulas for robust, one-pass parallel computation of covariances and arbitrary-order
statistical moments", Sandia Report SAND2008-6212.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.inference.base import InferenceData, Layout, Scope, StatBlock, StatTest


@dataclass(frozen=True, eq=False)
class Moments:
    """Per-group count, total, sum of squared deviations and (optionally) of cubed deviations, each (P, D).

    NaN values take no part; ``ssd`` and ``m3`` are Σ (x - mean)^2 and Σ (x - mean)^3 about the group's
    own mean.
    """

    count: IntArray
    total: FloatArray
    ssd: FloatArray
    m3: FloatArray | None = None


def moments(values: FloatArray, groups: IntArray, n_groups: int, *, third: bool = False) -> Moments:
    """:class:`Moments` of ``values`` (N, D) within groups (two-pass: the group means first).

    Rows with a code outside 0..n_groups-1 take no part.
    """
    count, total, ssd = kn.group_moments(values, groups, n_groups)
    if not third:
        return Moments(count, total, ssd)
    codes = np.asarray(groups, dtype=np.int64)
    member = (codes >= 0) & (codes < n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = np.where(np.isfinite(values) & member[:, None], values - mean[np.where(member, codes, 0)], 0.0)
    return Moments(count, total, ssd, kn.group_sum(dev**3, groups, n_groups))


@dataclass(frozen=True, eq=False)
class Patterns:
    """Number of firm-events per (group, pattern of presence over the event-window days).

    Attributes
    ----------
    group : (Q,)
        Row of the Partial (0..P-1) each pattern belongs to.
    present : (Q, W) bool
        The pattern: which event-window days the firm-events have a value on.
    count : (Q,)
        Firm-events of the group with exactly that pattern.
    """

    group: IntArray
    present: BoolArray
    count: IntArray

    def held(self, used: BoolArray, columns: IntArray, n_groups: int) -> IntArray:
        """Per group, the firm-events with a value on at least one day of ``columns`` the group uses.

        ``used`` (n_groups, len(columns)) says which of the columns each group uses.
        """
        hit = (self.present[:, columns] & used[self.group]).any(axis=1)
        return kn.group_sum(np.where(hit, self.count, 0), self.group, n_groups)


def presence_patterns(present: BoolArray, groups: IntArray, n_groups: int) -> Patterns:
    """:class:`Patterns` of the rows of ``present`` (N, W); rows with a code outside 0..n_groups-1 left out."""
    codes = np.asarray(groups, dtype=np.int64)
    rows = np.flatnonzero((codes >= 0) & (codes < n_groups))
    return _distinct_patterns(codes[rows], np.asarray(present, dtype=bool)[rows], np.ones(len(rows), dtype=np.int64))


def _distinct_patterns(group: IntArray, present: BoolArray, count: IntArray) -> Patterns:
    """Add up the counts of equal (group, pattern) rows; the result sorted by group, then pattern bytes."""
    if not len(group):
        return Patterns(group.astype(np.int64), present.reshape(0, present.shape[1]), count.astype(np.int64))
    packed = np.packbits(present, axis=1)
    key = np.concatenate([group.astype(">i8").view(np.uint8).reshape(len(group), 8), packed], axis=1)
    key = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=count, minlength=len(first)).astype(np.int64)
    return Patterns(group[first], present[first], total)


@dataclass(frozen=True, eq=False)
class Firsts:
    """A value of each group's first firm-event (lowest row): ``row`` (P,) its row (-1: none), ``value`` (P, ...)."""

    row: IntArray
    value: np.ndarray


def first_rows(values: np.ndarray, groups: IntArray, n_groups: int) -> Firsts:
    """:class:`Firsts` of ``values`` (N, ...): each group's lowest row; row -1 and NaN for a group without rows."""
    order, bounds = kn.group_rows(groups, n_groups)  # ascending rows within each group
    has = np.diff(bounds) > 0
    row = np.full(n_groups, -1, dtype=np.int64)
    row[has] = order[bounds[:-1][has]]
    value = np.full((n_groups,) + values.shape[1:], np.nan)
    value[has] = values[row[has]]
    return Firsts(row, value)


@dataclass(frozen=True, eq=False)
class Partial:
    """Mergeable per-group sufficient statistics of one test and scope over some firm-events.

    Attributes
    ----------
    groups : (P,)
        Group code of each row of the arrays, increasing; the groups with firm-events here (all groups
        0..n_groups-1 when the Partial comes straight from ``partial`` on a whole grouping).
    n_groups
        Number of groups of the grouping.
    layout
        The study's days, CAR windows, knobs and k.
    sums, moments, patterns, firsts
        The arrays, each with the P groups along its first axis (module docstring for how each merges).
    """

    groups: IntArray
    n_groups: int
    layout: Layout
    sums: Mapping[str, np.ndarray] = field(default_factory=dict)
    moments: Mapping[str, Moments] = field(default_factory=dict)
    patterns: Mapping[str, Patterns] = field(default_factory=dict)
    firsts: Mapping[str, Firsts] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        layout: Layout,
        n_groups: int,
        sums: Mapping[str, np.ndarray] | None = None,
        moments: Mapping[str, Moments] | None = None,
        patterns: Mapping[str, Patterns] | None = None,
        firsts: Mapping[str, Firsts] | None = None,
    ) -> Partial:
        """A Partial with one row per group 0..n_groups-1 (what ``partial`` returns)."""
        groups = np.arange(n_groups, dtype=np.int64)
        return cls(groups, n_groups, layout, sums or {}, moments or {}, patterns or {}, firsts or {})

    def relabel(self, codes: IntArray, n_groups: int, rows: IntArray) -> Partial:
        """The same sums with row p standing for group ``codes[p]`` of a grouping of ``n_groups`` groups.

        ``codes`` must be increasing (a chunk's local group numbers mapped back to the study's); ``rows``
        maps the firm-event rows of the data ``partial`` saw to the study's rows (for ``firsts``).
        """
        rows = np.asarray(rows, dtype=np.int64)
        firsts = {
            name: Firsts(np.where(f.row >= 0, rows[np.maximum(f.row, 0)], -1), f.value)
            for name, f in self.firsts.items()
        }
        codes = np.asarray(codes, dtype=np.int64)[self.groups]
        return Partial(codes, n_groups, self.layout, self.sums, self.moments, self.patterns, firsts)

    def select(self, codes: IntArray) -> Partial:
        """The Partial of the groups ``codes`` (increasing) only, numbered 0..len(codes)-1 in that order.

        A group of ``codes`` without firm-events here gets the sums of none (zeros).
        """
        codes = np.asarray(codes, dtype=np.int64)
        missing = np.setdiff1d(codes, self.groups)
        part = merge([self, _empty_like(self, missing)]) if len(missing) else self
        at = np.searchsorted(part.groups, codes)
        new_row = np.full(len(part.groups), -1, dtype=np.int64)
        new_row[at] = np.arange(len(codes))
        patterns = {}
        for name, p in part.patterns.items():
            keep = new_row[p.group] >= 0
            patterns[name] = Patterns(new_row[p.group[keep]], p.present[keep], p.count[keep])
        return Partial(
            np.arange(len(codes), dtype=np.int64),
            len(codes),
            part.layout,
            {name: a[at] for name, a in part.sums.items()},
            {
                name: Moments(m.count[at], m.total[at], m.ssd[at], None if m.m3 is None else m.m3[at])
                for name, m in part.moments.items()
            },
            patterns,
            {name: Firsts(f.row[at], f.value[at]) for name, f in part.firsts.items()},
        )


def _empty_like(part: Partial, groups: IntArray) -> Partial:
    """A Partial of no firm-event for ``groups``, with the arrays of ``part`` (zeros)."""
    size = len(groups)

    def zeros(a: np.ndarray) -> np.ndarray:
        return np.zeros((size,) + a.shape[1:], dtype=a.dtype)

    sums = {name: zeros(a) for name, a in part.sums.items()}
    stats = {
        name: Moments(zeros(m.count), zeros(m.total), zeros(m.ssd), None if m.m3 is None else zeros(m.m3))
        for name, m in part.moments.items()
    }
    patterns = {
        name: Patterns(np.zeros(0, dtype=np.int64), p.present[:0], np.zeros(0, dtype=np.int64))
        for name, p in part.patterns.items()
    }
    firsts = {
        name: Firsts(np.full(size, -1, dtype=np.int64), np.full((size,) + f.value.shape[1:], np.nan))
        for name, f in part.firsts.items()
    }
    return Partial(np.asarray(groups, dtype=np.int64), part.n_groups, part.layout, sums, stats, patterns, firsts)


def merge(parts: Sequence[Partial]) -> Partial:
    """The Partial of the union of the firm-events of ``parts`` (disjoint sets, one test and scope).

    Linear in the total size of the parts: one sort of their group codes, then group sums.
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    codes = np.concatenate([p.groups for p in parts])
    uniq, inverse = np.unique(codes, return_inverse=True)
    inverse = inverse.ravel()
    n = len(uniq)
    sums = {name: kn.group_sum(np.concatenate([p.sums[name] for p in parts]), inverse, n) for name in first.sums}
    stats = {name: _merge_moments([p.moments[name] for p in parts], inverse, n) for name in first.moments}
    patterns = {}
    for name in first.patterns:
        group = np.concatenate([np.searchsorted(uniq, p.groups[p.patterns[name].group]) for p in parts])
        present = np.concatenate([p.patterns[name].present for p in parts])
        count = np.concatenate([p.patterns[name].count for p in parts])
        patterns[name] = _distinct_patterns(group, present, count)
    firsts = {name: _merge_firsts([p.firsts[name] for p in parts], inverse, n) for name in first.firsts}
    return Partial(uniq, first.n_groups, first.layout, sums, stats, patterns, firsts)


def _merge_firsts(parts: list[Firsts], inverse: IntArray, n: int) -> Firsts:
    """Per group, the entry with the lowest row (entries of groups without rows, row -1, come last)."""
    row = np.concatenate([f.row for f in parts])
    value = np.concatenate([f.value for f in parts])
    rank = np.where(row >= 0, row, np.iinfo(np.int64).max)
    order = np.lexsort((rank, inverse))
    lead = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]  # the lowest row of each group
    return Firsts(row[lead], value[lead])


def _merge_moments(parts: list[Moments], inverse: IntArray, n: int) -> Moments:
    count_k = np.concatenate([m.count for m in parts])
    total_k = np.concatenate([m.total for m in parts])
    ssd_k = np.concatenate([m.ssd for m in parts])
    count = kn.group_sum(count_k, inverse, n)
    total = kn.group_sum(total_k, inverse, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(count_k > 0, total_k / count_k - (total / count)[inverse], 0.0)
    ssd = kn.group_sum(ssd_k + count_k * d * d, inverse, n)
    m3 = None
    if parts[0].m3 is not None:
        m3_k = np.concatenate([m.m3 for m in parts if m.m3 is not None])
        m3 = kn.group_sum(m3_k + 3.0 * d * ssd_k + count_k * d * d * d, inverse, n)
    return Moments(count, total, ssd, m3)


class DecomposableTest(StatTest):
    """A test whose statistic is a function of per-group sums (module docstring).

    Subclasses implement :meth:`partial` and :meth:`finish`; :meth:`compute` is their composition.
    """

    decomposable: ClassVar[bool] = True

    @abstractmethod
    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        """Per-group sufficient statistics of the firm-events of ``data`` (rows 0..n_groups-1 of the result)."""

    @abstractmethod
    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        """The statistic of every group of ``partial`` (one row per row of ``partial.groups``)."""

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        """``finish(partial(...))``: statistic per group and column for the given scope."""
        return self.finish(self.partial(data, scope, groups, n_groups), scope)


def window_lengths(layout: Layout) -> FloatArray:
    """Number of event-window days L of each CAR window, shape (C,)."""
    return np.array([len(layout.car_columns(w)) for w in layout.car_windows], dtype=np.float64)


__all__ = [
    "DecomposableTest",
    "Firsts",
    "Moments",
    "Partial",
    "Patterns",
    "first_rows",
    "merge",
    "moments",
    "presence_patterns",
    "window_lengths",
]
