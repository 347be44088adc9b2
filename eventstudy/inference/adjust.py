"""Multiple-testing adjustment of p-values: Holm and Benjamini-Hochberg (``docs/methods.md`` §6.5).

:func:`adjust_families` is the one implementation of both procedures: every family at once, grouped by
one sort of the family codes, each family's p-values sorted and the running maximum (Holm) or minimum
(Benjamini-Hochberg) taken within it, with no loop over families. :func:`adjust_pvalues` applies it to
the rows of an array; :func:`adjust_coded` finds the families of the rows of a tests frame from integer
codes of its key columns (the study builds them from its test blocks, no text compared), and
:func:`add_adjusted_pvalues` adds the columns ``p_holm`` and ``p_bh`` to a tidy ``tests`` frame through it.
With ``adjust_family = "days"`` a family is one (test, group, scope): all event-window days of that test
and group (day scope), or all its CAR windows (window scope). With ``"events"`` a family is one (test,
scope, day or window) across the event groups; the pooled group ``all`` stays outside, and the user's
groups form a family of their own. The family in words is :data:`eventstudy.conventions.ADJUST_FAMILY_TEXT`,
for results and reports.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray, IntArray

AdjustMethod = Literal["holm", "bh"]

FAMILY_KEYS: dict[str, tuple[str, ...]] = {
    "days": ("test", "group", "scope"),
    "events": ("test", "scope", "window_start", "window_end", "_pooled"),
}
"""Columns of the tests frame that define one family, per ``adjust_family`` value."""


def adjust_families(p: FloatArray, family: IntArray) -> tuple[FloatArray, FloatArray]:
    r"""Holm and Benjamini-Hochberg adjusted p-values of p-values grouped in families.

    Parameters
    ----------
    p : (n,)
        Finite p-values.
    family : (n,)
        Family of each p-value (any integers, in any order).

    Returns
    -------
    holm, bh : (n,)
        Step-down Holm (1979) adjusted p-values, which control the family-wise error rate, and step-up
        Benjamini and Hochberg (1995) adjusted p-values, which control the false discovery rate, in the
        order of ``p``.

    Notes
    -----
    Within a family of m p-values sorted, p_(1) <= ... <= p_(m):

    .. math::

        \tilde p^{Holm}_{(j)} = \min(1, \max_{k \le j} (m - k + 1) p_{(k)}), \qquad
        \tilde p^{BH}_{(j)} = \min(1, \min_{k \ge j} p_{(k)} / (k / m)),

    with the products and quotients written as statsmodels' ``multipletests`` (``"holm"``, ``"fdr_bh"``)
    writes them, so each family's values are bit-identical to it (tied p-values get equal values in any
    order). The p-values are grouped by family with one stable sort of the family codes; the families of
    one size class (sizes up to the same power of two) are the rows of one padded array, each row is
    sorted, and the running maximum and minimum are taken along the rows: a few array passes per size
    class, O(n log m) in all, with no loop over families.

    References
    ----------
    Holm, S. (1979), "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
    Statistics 6(2), 65-70.
    Benjamini, Y. and Y. Hochberg (1995), "Controlling the false discovery rate", JRSS B 57(1), 289-300.
    """
    p = np.asarray(p, dtype=np.float64)
    holm, bh = np.full(len(p), np.nan), np.full(len(p), np.nan)
    if not len(p):
        return holm, bh
    codes = np.asarray(family)
    grouped = np.argsort(codes, kind="stable")
    member = codes[grouped]
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]])
    size = np.diff(np.r_[starts, len(p)])
    segment = np.repeat(np.arange(len(starts)), size)
    place = np.arange(len(p)) - starts[segment]
    # rows by size class (families of up to the same power of two), then by family: one run per class
    size_class = np.ceil(np.log2(size)).astype(np.int8)[segment]
    by_class = np.argsort(size_class, kind="stable")
    grouped, segment, place, size_class = grouped[by_class], segment[by_class], place[by_class], size_class[by_class]
    bounds = np.searchsorted(size_class, np.arange(int(size_class[-1]) + 2))
    for a, b in itertools.pairwise(bounds):
        if a == b:
            continue
        w = 1 << int(size_class[a])
        first = np.r_[True, segment[a + 1 : b] != segment[a : b - 1]]
        rows, cols = np.cumsum(first) - 1, place[a:b]
        padded = np.full((int(rows[-1]) + 1, w), np.inf)  # padding sorts last
        padded[rows, cols] = p[grouped[a:b]]
        order = np.argsort(padded, axis=1)
        ordered = np.take_along_axis(padded, order, axis=1)
        k = np.arange(1, w + 1)[None, :]
        m = size[segment[a:b][first]][:, None]
        inside = k <= m
        ordered = np.where(inside, ordered, 0.0)  # the padding takes no part below
        step_down = np.maximum.accumulate(np.where(inside, ordered * (m - k + 1), -np.inf), axis=1)
        step_up = np.minimum.accumulate(np.where(inside, ordered / (k / m), np.inf)[:, ::-1], axis=1)[:, ::-1]
        for out, values in ((holm, step_down), (bh, step_up)):
            back = np.empty(padded.shape)
            np.put_along_axis(back, order, np.minimum(values, 1.0), axis=1)
            out[grouped[a:b]] = back[rows, cols]
    return holm, bh


def adjust_pvalues(p: FloatArray, method: AdjustMethod) -> FloatArray:
    """Holm or Benjamini-Hochberg adjusted p-values along the last axis, ignoring NaN.

    Parameters
    ----------
    p : (..., m)
        p-values; NaN entries are not part of the family and stay NaN. Each row along the last axis is
        one family with m_row = its number of non-NaN entries.
    method
        ``"holm"`` or ``"bh"`` (:func:`adjust_families`).

    Returns
    -------
    Array of the shape of ``p``.

    Examples
    --------
    >>> adjust_pvalues(np.array([0.01, 0.04, np.nan, 0.03]), "holm")
    array([0.03, 0.06,  nan, 0.06])
    """
    if method not in ("holm", "bh"):
        raise ValueError(f"unknown adjustment method {method!r}; use 'holm' or 'bh'")
    values = np.asarray(p, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if values.ndim == 0 or values.size == 0:
        return values.copy()
    flat = values.reshape(-1, values.shape[-1])
    row, col = np.nonzero(np.isfinite(flat))
    holm, bh = adjust_families(flat[row, col], row)
    out.reshape(flat.shape)[row, col] = holm if method == "holm" else bh
    return out


def _codes(values: np.ndarray) -> IntArray:
    """Codes of equal values (a missing value is a value of its own), 0 .. number of distinct values - 1.

    Only the first value of each run of equal neighbours is hashed: the key columns of the tests frame
    repeat in long runs (a test's rows, a group's days).
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    heads = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    codes = pd.factorize(values[heads], use_na_sentinel=False)[0]
    return np.repeat(codes, np.diff(np.r_[heads, len(values)])).astype(np.int64)


GROUP_ROLES = ("all", "user", "event")
"""Role codes of a tests-frame row's group (:func:`adjust_coded`): 0 the pooled ``all``, 1 a user's group, 2 an
event id."""


def adjust_coded(
    p: FloatArray, family: str, keys: Mapping[str, IntArray], role: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Holm and Benjamini-Hochberg adjusted p-values of the rows of a tests frame given as codes.

    Parameters
    ----------
    p : (n,)
        p-values; a NaN is outside every family and gets NaN.
    family
        ``conventions.adjust_family``, ``"days"`` or ``"events"`` (:data:`FAMILY_KEYS`).
    keys
        Non-negative integer codes (n,) of the columns ``test``, ``group``, ``scope``, ``window_start`` and
        ``window_end`` (equal values, equal codes); only those of ``FAMILY_KEYS[family]`` are read.
    role : (n,)
        Role of each row's group (:data:`GROUP_ROLES`): 0 ``all``, 1 a user's group, 2 an event id. Under
        ``"events"`` each ``all`` row is a family of its own and the user's groups one family apart from the
        events'.

    Returns
    -------
    holm, bh : (n,)
        :func:`adjust_families` within the families; the codes of the keys are combined into one family
        code in mixed radix (renumbered densely before it could overflow int64), with no loop over rows.
    """
    if family not in FAMILY_KEYS:
        raise ValueError(f"unknown adjust_family {family!r}; valid: {', '.join(FAMILY_KEYS)}")
    p = np.asarray(p, dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(p))
    holm, bh = np.full(len(p), np.nan), np.full(len(p), np.nan)
    if not len(rows):
        return holm, bh
    role = np.asarray(role)[rows]
    # the pooled group never joins an across-events family: each of its rows is a family of its own
    pooled = np.where(role == 0, np.arange(len(rows)) + 2, np.where(role == 1, 1, 0))
    family_id, span = np.zeros(len(rows), dtype=np.int64), 1
    for key in FAMILY_KEYS[family]:
        codes = pooled if key == "_pooled" else np.asarray(keys[key], dtype=np.int64)[rows]
        n_codes = int(codes.max()) + 1
        if span * n_codes >= 2**62:  # renumber densely before the mixed-radix code could overflow
            family_id = pd.factorize(family_id)[0]
            span = int(family_id.max()) + 1
        family_id, span = family_id * n_codes + codes, span * n_codes
    holm[rows], bh[rows] = adjust_families(p[rows], family_id)
    return holm, bh


def add_adjusted_pvalues(tests: pd.DataFrame, family: str = "days", groups: Collection[str] = ()) -> pd.DataFrame:
    """Copy of the tidy ``tests`` frame with columns ``p_holm`` and ``p_bh`` appended.

    Parameters
    ----------
    tests
        The tests frame (columns at least ``test``, ``group``, ``scope``, ``p_value``, and ``window_start``,
        ``window_end`` under ``"events"``).
    family
        ``conventions.adjust_family``; ``"days"``: one family per (test, group, scope), i.e. a test's
        event-window days (day scope) or its CAR windows (window scope). Rows with a NaN p-value are
        outside every family and get NaN.
    groups
        Labels of the user's groups (e.g. ``"category=regulation"``). With ``"events"`` they form a family
        of their own for each test and day (or CAR window), apart from the events.

    Returns
    -------
    pandas.DataFrame
        The same rows in the same order, plus ``p_holm`` and ``p_bh`` (:func:`adjust_coded` on the codes of
        the frame's key columns).
    """
    if family not in FAMILY_KEYS:
        raise ValueError(f"unknown adjust_family {family!r}; valid: {', '.join(FAMILY_KEYS)}")
    names = tests["group"].to_numpy()
    role = np.where(names == "all", 0, np.where(np.isin(names, list(groups)), 1, 2))
    keys = {key: _codes(tests[key].to_numpy()) for key in FAMILY_KEYS[family] if key != "_pooled"}
    holm, bh = adjust_coded(tests["p_value"].to_numpy(dtype=np.float64), family, keys, role)
    return tests.assign(p_holm=holm, p_bh=bh)


__all__ = [
    "FAMILY_KEYS",
    "GROUP_ROLES",
    "AdjustMethod",
    "add_adjusted_pvalues",
    "adjust_coded",
    "adjust_families",
    "adjust_pvalues",
]
